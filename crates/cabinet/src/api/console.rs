//! The web console: a browser client of the public Files API, served at `/console`.
//!
//! Every asset is embedded in the binary (hand-written HTML, CSS and JavaScript modules under
//! `crates/cabinet/console/`, no build step), so nothing is fetched from the network at run time. The page
//! is public (it carries no data); the API calls it makes carry the token the user signed in with, so it
//! shows only what the API returns for that token. `/console/config.json` tells the page the server's mode
//! and, per project with `oidc.console_client_id`, what an authorization-code sign-in with PKCE needs.

use std::sync::{Arc, LazyLock, OnceLock};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::AppState;

/// One embedded file: its bytes, media type and strong validator.
struct Asset {
    body: &'static [u8],
    content_type: &'static str,
    etag: String,
}

/// The console's files by name under `/console/`; `index.html` is also `/console/` itself.
static ASSETS: LazyLock<Vec<(&'static str, Asset)>> = LazyLock::new(|| {
    macro_rules! asset {
        ($name:literal, $type:expr) => {
            (
                $name,
                asset(include_bytes!(concat!("../../console/", $name)), $type),
            )
        };
    }
    const JS: &str = "text/javascript; charset=utf-8";
    vec![
        asset!("index.html", "text/html; charset=utf-8"),
        asset!("style.css", "text/css; charset=utf-8"),
        asset!("app.js", JS),
        asset!("api.js", JS),
        asset!("auth.js", JS),
        asset!("table.js", JS),
        asset!("detail.js", JS),
        asset!("upload.js", JS),
        asset!("preview.js", JS),
        asset!("dom.js", JS),
    ]
});

fn asset(body: &'static [u8], content_type: &'static str) -> Asset {
    let digest = Sha256::digest(body);
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    Asset {
        body,
        content_type,
        etag: format!("\"{hex}\""),
    }
}

/// The console's routes; not behind the API's authentication.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(index))
        .route("/console/", get(index))
        .route("/console/config.json", get(config))
        .route("/console/{file}", get(file))
        .layer(Extension(Policy::default()))
}

/// The Content-Security-Policy, made once per router: it depends only on the configuration, and with
/// direct transfer finding the bucket's origin presigns a URL.
type Policy = Arc<OnceLock<String>>;

async fn index(
    State(app): State<AppState>,
    Extension(policy): Extension<Policy>,
    headers: HeaderMap,
) -> Response {
    serve("index.html", &app, &policy, &headers).await
}

async fn file(
    State(app): State<AppState>,
    Extension(policy): Extension<Policy>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    if name == "index.html" {
        return Redirect::permanent("/console/").into_response();
    }
    serve(&name, &app, &policy, &headers).await
}

/// An embedded file, or 404 in the API's error envelope. Browsers revalidate every time (`no-cache`) so a
/// new binary's console is picked up at once, and the ETag makes the revalidation a 304.
async fn serve(name: &str, app: &AppState, policy: &Policy, headers: &HeaderMap) -> Response {
    let Some((_, asset)) = ASSETS.iter().find(|(n, _)| *n == name) else {
        return super::error::ApiError::new(
            super::error::ErrorKind::NotFound,
            format!("No such console file: {name}"),
        )
        .into_response();
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == asset.etag || t.trim() == "*")
        });
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    if let Ok(etag) = HeaderValue::from_str(&asset.etag) {
        h.insert(header::ETAG, etag);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let csp = match policy.get() {
        Some(csp) => csp.clone(),
        None => {
            let (csp, complete) = content_security_policy(app).await;
            if complete {
                let _ = policy.set(csp.clone());
            }
            csp
        }
    };
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

/// Only this server's own scripts, styles and connections, plus the identity providers' origins (for
/// their discovery document and token endpoint) and, with direct transfer, the bucket's origin (uploads,
/// previews and downloads go to presigned S3 URLs). Previews are `blob:` URLs of content fetched through
/// the API's download links; video and audio play from the download URL.
/// The flag is false when the bucket's origin could not be found this time: that policy is sent without
/// it but not kept, so the next request tries again.
async fn content_security_policy(app: &AppState) -> (String, bool) {
    let mut connect = vec!["'self'".to_string()];
    let mut media = vec!["'self'".to_string()];
    let push = |list: &mut Vec<String>, origin: String| {
        if !list.contains(&origin) {
            list.push(origin);
        }
    };
    for p in console_projects(app) {
        if let Some(origin) = p["issuer"].as_str().and_then(origin_of) {
            push(&mut connect, origin);
        }
    }
    let mut complete = true;
    if let Some(direct) = &app.direct {
        match direct
            .sample_url("console-origin")
            .await
            .as_deref()
            .and_then(origin_of)
        {
            Some(origin) => {
                push(&mut connect, origin.clone());
                push(&mut media, origin);
            }
            None => complete = false,
        }
    }
    let media = media.join(" ");
    let policy = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src {media} blob: data:; \
         media-src {media} blob:; frame-src 'self' blob:; object-src 'self' blob:; connect-src {}; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        connect.join(" ")
    );
    (policy, complete)
}

/// `scheme://host[:port]` of an http(s) URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next()?;
    if host.is_empty() || host.contains(char::is_whitespace) || host.contains(['\'', ';', '"']) {
        return None;
    }
    Some(format!("{scheme}://{host}"))
}

/// Projects whose identity provider the console may sign in with: those with `oidc.console_client_id`.
fn console_projects(app: &AppState) -> Vec<Value> {
    let Some(access) = &app.access else {
        return Vec::new();
    };
    access
        .projects
        .values()
        .filter_map(|p| {
            let oidc = p.oidc.as_ref()?;
            let client_id = oidc.console_client_id.as_ref()?;
            Some(json!({
                "name": p.name,
                "issuer": oidc.issuer,
                "audience": oidc.audience,
                "clientId": client_id,
            }))
        })
        .collect()
}

/// `{"mode": "open" | "access", "signIn": [{name, issuer, audience, clientId}]}`.
async fn config(State(app): State<AppState>) -> Response {
    let mode = if app.access.is_some() {
        "access"
    } else {
        "open"
    };
    let mut response =
        axum::Json(json!({"mode": mode, "signIn": console_projects(&app)})).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::origin_of;

    #[test]
    fn origins_are_scheme_and_authority_only() {
        assert_eq!(
            origin_of("https://idp.example.com/realms/x").as_deref(),
            Some("https://idp.example.com")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:9000").as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(origin_of("javascript:alert(1)"), None);
        assert_eq!(origin_of("https://a.example; script-src *"), None);
    }

    #[test]
    fn every_asset_is_embedded_with_a_type() {
        assert!(super::ASSETS.len() >= 3);
        for (name, a) in super::ASSETS.iter() {
            assert!(!a.body.is_empty(), "{name} is empty");
            assert!(a.content_type.contains('/'));
        }
    }
}
