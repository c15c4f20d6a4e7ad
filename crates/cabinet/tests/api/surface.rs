//! The edges of the HTTP surface: request ids, CORS, unknown paths, page limits and the host in URLs.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

async fn request_id_for(app: &TestApp, sent: &str) -> String {
    let resp = app
        .client
        .get(app.url("/files"))
        .bearer_auth("t")
        .header("x-request-id", sent)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.headers()["x-request-id"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn unfit_request_ids_are_replaced() {
    let app = TestApp::spawn().await;
    let longest = "a".repeat(128);
    for fit in ["abc-123._X", longest.as_str()] {
        assert_eq!(request_id_for(&app, fit).await, fit);
    }
    let too_long = "a".repeat(129);
    for unfit in [
        too_long.as_str(),
        "a b",
        "a;b",
        "<script>",
        "a\"b",
        "ab/cd",
        "%0d%0a",
    ] {
        let got = request_id_for(&app, unfit).await;
        assert_ne!(got, unfit);
        assert!(
            got.len() <= 128
                && got
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c)),
            "{unfit:?} was replaced by {got:?}"
        );
    }
}

#[tokio::test]
async fn cors_allows_any_origin_without_credentials() {
    let app = TestApp::spawn().await;
    let preflight = app
        .client
        .request(Method::OPTIONS, app.url("/files/list"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    let allowed = h["access-control-allow-headers"].to_str().unwrap();
    assert!(allowed.contains("authorization"), "{allowed}");
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    assert!(!h.contains_key("access-control-allow-credentials"), "{h:?}");

    let actual = app
        .client
        .get(app.url("/files"))
        .bearer_auth("t")
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    let h = actual.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(!h.contains_key("access-control-allow-credentials"), "{h:?}");
    assert!(h["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .contains("x-request-id"));
}

#[tokio::test]
async fn unknown_paths_under_files_are_404_and_icons_say_why() {
    let app = TestApp::spawn().await;
    for (method, path) in [
        (Method::POST, "/files/nonsense"),
        (Method::PUT, "/files/nonsense"),
        (Method::DELETE, "/files/nonsense"),
        (Method::POST, "/files/nonsense/x"),
        (Method::GET, "/files/byids/x"),
        (Method::POST, "/files/list/"),
    ] {
        let r = app.call(method.clone(), path, Some(json!({}))).await;
        assert_error(&r, 404);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("No such endpoint"),
            "{method} {path}: {r:?}"
        );
    }
    // Paths that exist, with a method they do not have.
    for (method, path) in [
        (Method::POST, "/files/123"),
        (Method::GET, "/files/byids"),
        (Method::DELETE, "/files/list"),
        (Method::POST, "/files/icon"),
    ] {
        let r = app.call(method.clone(), path, None).await;
        assert_error(&r, 405);
    }
    for path in ["/files/icon", "/files/icon?id=123"] {
        let r = app.get(path).await;
        let message = assert_error(&r, 400)["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            message.starts_with("Thumbnails are not available"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn a_limit_above_1000_is_1000() {
    let app = TestApp::spawn().await;
    app.create(json!({"name": "a"})).await;
    for r in [
        app.get("/files?limit=5000").await,
        app.post("/files/list", json!({"limit": 5000})).await,
        app.post("/files/search", json!({"limit": 5000})).await,
    ] {
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    }
    for r in [
        app.get("/files?limit=0").await,
        app.post("/files/list", json!({"limit": -1})).await,
        app.post("/files/search", json!({"limit": 0})).await,
    ] {
        assert_error(&r, 400);
    }
}

#[tokio::test]
async fn urls_are_built_from_the_host_the_client_used() {
    if !proxy_transfer_only(
        "surface::urls_are_built_from_the_host_the_client_used",
        "it tests cabinet's own content URLs, which direct transfer replaces by S3's",
    ) {
        return;
    }
    let app = TestApp::spawn().await;
    let port = app.base.rsplit(':').next().unwrap().to_string();
    let created = app
        .client
        .post(app.url("/files"))
        .bearer_auth("t")
        .header("host", format!("LocalHost:{port}"))
        .json(&json!({"name": "a", "externalId": "a"}))
        .send()
        .await
        .unwrap();
    let created = reply(created).await;
    let upload_url = created.body["uploadUrl"].as_str().unwrap().to_string();
    assert!(
        upload_url.starts_with(&format!("http://localhost:{port}/blob/v1/")),
        "{upload_url}"
    );
    // The URL works under that name.
    assert_eq!(
        app.put(&upload_url, b"hello".to_vec()).await,
        StatusCode::OK
    );

    let link = |host: String| {
        app.client
            .post(app.url("/files/downloadlink"))
            .bearer_auth("t")
            .header("host", host)
            .json(&json!({"items": [{"externalId": "a"}]}))
            .send()
    };
    let r = reply(link(format!("localhost:{port}")).await.unwrap()).await;
    let url = r.body["items"][0]["downloadUrl"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        url.starts_with(&format!("http://localhost:{port}/")),
        "{url}"
    );
    let body = app
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&body[..], b"hello");

    // A Host that is not a host name falls back to the bound address.
    let r = reply(link("bad host!".to_string()).await.unwrap()).await;
    let url = r.body["items"][0]["downloadUrl"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/", app.base)), "{url}");
}
