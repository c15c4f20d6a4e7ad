//! Conditional and range requests on download URLs (RFC 9110): If-Range, If-Match, If-None-Match.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

struct Download {
    status: StatusCode,
    etag: Option<String>,
    content_range: Option<String>,
    body: Vec<u8>,
}

async fn get(app: &TestApp, method: Method, url: &str, headers: &[(&str, &str)]) -> Download {
    let mut req = app.client.request(method, url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = req.send().await.expect("GET sent");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let (status, etag, content_range) = (resp.status(), header("etag"), header("content-range"));
    Download {
        status,
        etag,
        content_range,
        body: resp.bytes().await.expect("body").to_vec(),
    }
}

/// A file uploaded twice through its upload URL: the ETags of both versions, the new content, and a
/// download URL.
async fn two_versions(app: &TestApp) -> (String, String, Vec<u8>, String) {
    let (v1, v2) = (content(100, 1), content(100, 2));
    let created = app
        .upload(json!({"name": "f", "externalId": "f"}), &v1)
        .await;
    let url = app.download_url(json!({"externalId": "f"})).await;
    let old = get(app, Method::GET, &url, &[])
        .await
        .etag
        .expect("an ETag");
    let status = app
        .put(created["uploadUrl"].as_str().unwrap(), v2.clone())
        .await;
    assert_eq!(status, StatusCode::OK);
    let new = get(app, Method::GET, &url, &[])
        .await
        .etag
        .expect("an ETag");
    assert_ne!(old, new);
    (old, new, v2, url)
}

#[tokio::test]
async fn a_resumed_download_of_changed_content_gets_the_whole_new_content() {
    if !proxy_transfer_only(
        "conditional::a_resumed_download_of_changed_content_gets_the_whole_new_content",
        "it tests cabinet's own content URLs, which direct transfer replaces by S3's",
    ) {
        return;
    }
    let app = TestApp::spawn().await;
    let (old, new, v2, url) = two_versions(&app).await;

    // Resuming with the old version's ETag: the content changed, so all of the new one, never a mix.
    let d = get(
        &app,
        Method::GET,
        &url,
        &[("range", "bytes=40-"), ("if-range", &old)],
    )
    .await;
    assert_eq!(d.status, StatusCode::OK);
    assert_eq!(d.body, v2);
    assert_eq!(d.etag.as_deref(), Some(new.as_str()));
    assert_eq!(d.content_range, None);

    // With the current ETag, the range is served.
    let d = get(
        &app,
        Method::GET,
        &url,
        &[("range", "bytes=40-"), ("if-range", &new)],
    )
    .await;
    assert_eq!(d.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(d.body, v2[40..]);
    assert_eq!(d.content_range.as_deref(), Some("bytes 40-99/100"));

    // A weak validator or a date never matches: the whole content.
    let weak = format!("W/{new}");
    for validator in [weak.as_str(), "Wed, 21 Oct 2015 07:28:00 GMT"] {
        let d = get(
            &app,
            Method::GET,
            &url,
            &[("range", "bytes=0-9"), ("if-range", validator)],
        )
        .await;
        assert_eq!(d.status, StatusCode::OK, "If-Range: {validator}");
        assert_eq!(d.body, v2);
    }

    // A last-byte-pos past the end is clamped.
    let d = get(&app, Method::GET, &url, &[("range", "bytes=90-5000")]).await;
    assert_eq!(d.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(d.body, v2[90..]);
    assert_eq!(d.content_range.as_deref(), Some("bytes 90-99/100"));
}

#[tokio::test]
async fn if_match_and_if_none_match_follow_rfc_9110() {
    if !proxy_transfer_only(
        "conditional::if_match_and_if_none_match_follow_rfc_9110",
        "it tests cabinet's own content URLs, which direct transfer replaces by S3's",
    ) {
        return;
    }
    let app = TestApp::spawn().await;
    let (old, new, v2, url) = two_versions(&app).await;
    let weak_new = format!("W/{new}");
    let both = format!("{old}, {new}");

    for (value, status) in [
        (old.as_str(), StatusCode::PRECONDITION_FAILED),
        (weak_new.as_str(), StatusCode::PRECONDITION_FAILED),
        (new.as_str(), StatusCode::OK),
        (both.as_str(), StatusCode::OK),
        ("*", StatusCode::OK),
    ] {
        let d = get(&app, Method::GET, &url, &[("if-match", value)]).await;
        assert_eq!(d.status, status, "If-Match: {value}");
        if status == StatusCode::OK {
            assert_eq!(d.body, v2);
        } else {
            let error: serde_json::Value = serde_json::from_slice(&d.body).unwrap();
            assert_eq!(error["error"]["code"], 412, "{error}");
        }
    }

    for method in [Method::GET, Method::HEAD] {
        for (value, status) in [
            ("*", StatusCode::NOT_MODIFIED),
            (weak_new.as_str(), StatusCode::NOT_MODIFIED),
            (both.as_str(), StatusCode::NOT_MODIFIED),
            (old.as_str(), StatusCode::OK),
        ] {
            let d = get(&app, method.clone(), &url, &[("if-none-match", value)]).await;
            assert_eq!(d.status, status, "{method} If-None-Match: {value}");
            assert_eq!(d.etag.as_deref(), Some(new.as_str()));
            if status == StatusCode::NOT_MODIFIED || method == Method::HEAD {
                assert!(d.body.is_empty());
            }
        }
    }
}

#[tokio::test]
async fn the_first_byte_of_an_empty_file_is_416() {
    let app = TestApp::spawn().await;
    app.upload(json!({"name": "empty", "externalId": "e"}), b"")
        .await;
    let url = app.download_url(json!({"externalId": "e"})).await;
    let d = get(&app, Method::GET, &url, &[("range", "bytes=0-0")]).await;
    assert_eq!(d.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(d.content_range.as_deref(), Some("bytes */0"));
}
