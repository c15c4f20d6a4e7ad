//! The web console's files at `/console`: embedded, public (no token), with their validators and policy;
//! `/console/config.json` names the sign-in of projects with `oidc.console_client_id`.

use reqwest::header;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

async fn get(app: &TestApp, path: &str, etag: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(format!("{}{path}", app.base));
    if let Some(etag) = etag {
        req = req.header(header::IF_NONE_MATCH, etag);
    }
    req.send().await.expect("sent")
}

#[tokio::test]
async fn the_page_and_its_modules_are_served_without_a_token() {
    let app = TestApp::spawn().await;
    for path in ["/console", "/console/"] {
        let r = get(&app, path, None).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let h = r.headers();
        assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(h[header::CACHE_CONTROL], "no-cache");
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert!(csp.contains("script-src 'self';"), "{csp}");
        // With direct transfer the bucket's origin follows 'self' (content goes to presigned S3 URLs).
        let connect = csp
            .split("; ")
            .find(|d| d.starts_with("connect-src"))
            .unwrap();
        let media = csp
            .split("; ")
            .find(|d| d.starts_with("media-src"))
            .unwrap();
        if direct_transfer() {
            assert!(connect.starts_with("connect-src 'self' http"), "{csp}");
            assert!(media.starts_with("media-src 'self' http"), "{csp}");
        } else {
            assert_eq!(connect, "connect-src 'self'", "{csp}");
            assert_eq!(media, "media-src 'self' blob:", "{csp}");
        }
        assert!(r.text().await.unwrap().contains("/console/app.js"));
    }
    for (file, kind) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("api.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
    ] {
        let r = get(&app, &format!("/console/{file}"), None).await;
        assert_eq!(r.status(), StatusCode::OK, "{file}");
        assert_eq!(r.headers()[header::CONTENT_TYPE], kind);
    }
}

#[tokio::test]
async fn an_unchanged_file_is_a_304_and_a_changed_tag_the_body() {
    let app = TestApp::spawn().await;
    let first = get(&app, "/console/app.js", None).await;
    let etag = first.headers()[header::ETAG].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let again = get(&app, "/console/app.js", Some(&etag)).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()[header::ETAG].to_str().unwrap(), etag);
    assert!(again.bytes().await.unwrap().is_empty());
    let other = get(&app, "/console/app.js", Some("\"stale\"")).await;
    assert_eq!(other.status(), StatusCode::OK);
    assert!(!other.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unknown_console_file_is_a_404_in_the_error_envelope() {
    let app = TestApp::spawn().await;
    let r = get(&app, "/console/nothing.js", None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], 404, "{body}");
}

#[tokio::test]
async fn config_in_open_mode_needs_no_sign_in() {
    let app = TestApp::spawn().await;
    let r = get(&app, "/console/config.json", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"mode": "open", "signIn": []}));
}

#[tokio::test]
async fn with_access_control_the_page_is_public_and_names_only_console_clients() {
    let project = unique_project();
    let toml = format!(
        "[[project]]\nname = \"{project}\"\noidc = {{ jwks_url = \"http://127.0.0.1:9/jwks\", issuer = \"https://idp.example.com/realms/plant\", audience = \"cabinet\", console_client_id = \"cabinet-console\" }}\n\n\
         [[project]]\nname = \"{project}-b\"\noidc = {{ jwks_url = \"http://127.0.0.1:9/jwks\", issuer = \"https://other-idp.example.com\", audience = \"cabinet\" }}\n"
    );
    let app = TestApp::spawn_with_access(project.clone(), &toml).await;
    let page = get(&app, "/console/", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("connect-src 'self' https://idp.example.com;")
            || (direct_transfer()
                && csp.contains("connect-src 'self' https://idp.example.com http")),
        "{csp}"
    );
    assert!(!csp.contains("other-idp"), "{csp}");
    let body: Value = get(&app, "/console/config.json", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body,
        json!({"mode": "access", "signIn": [{
            "name": project,
            "issuer": "https://idp.example.com/realms/plant",
            "audience": "cabinet",
            "clientId": "cabinet-console",
        }]})
    );
    // The API itself still wants a token.
    let r = get(&app, &format!("/api/v1/projects/{project}/files"), None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
