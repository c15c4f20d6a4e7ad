//! Direct transfer (`--content-transfer direct`) against SeaweedFS: upload and download URLs are presigned
//! S3 URLs, content never passes through cabinet, and single PUTs are published on read or by the
//! reconciler.

use std::time::{Duration, Instant};

use cabinet::blob::s3::S3Blobs;
use cabinet::direct::ContentTransfer;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::s3_server::SeaweedFs;

const MIB: usize = 1024 * 1024;

async fn direct_app() -> TestApp {
    TestApp::spawn_with(|c| {
        c.content = Some(SeaweedFs::shared().settings());
        c.content_transfer = ContentTransfer::Direct;
    })
    .await
}

/// A presigned URL points at SeaweedFS, not at cabinet.
fn assert_presigned(app: &TestApp, url: &str) {
    assert!(
        url.starts_with(&SeaweedFs::shared().endpoint),
        "not an S3 URL: {url}"
    );
    assert!(!url.starts_with(&app.base), "{url}");
    assert!(url.contains("X-Amz-Signature="), "{url}");
}

#[tokio::test]
async fn a_single_put_is_uploaded_when_read() {
    let app = direct_app().await;
    let created = app
        .create(json!({"name": "a.txt", "externalId": "a", "mimeType": "text/plain"}))
        .await;
    let url = created["uploadUrl"].as_str().unwrap();
    assert_presigned(&app, url);
    // As the Python SDK sends it: the mimeType as Content-Type and its bearer token to any host.
    let put = app
        .client
        .put(url)
        .header("content-type", "text/plain")
        .bearer_auth("test-token")
        .body("hello direct")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK, "{:?}", put.text().await);
    let got = app.retrieve(json!({"externalId": "a"})).await;
    assert_eq!(got.status, StatusCode::OK, "{got:?}");
    assert_eq!(got.body["items"][0]["uploaded"], json!(true), "{got:?}");
    assert!(got.body["items"][0]["uploadedTime"].is_i64());
    assert_eq!(
        app.download(json!({"externalId": "a"})).await,
        b"hello direct"
    );
    // GET /files/{id} and list pages agree.
    let id = created["id"].as_i64().unwrap();
    assert_eq!(
        app.get(&format!("/files/{id}")).await.body["uploaded"],
        json!(true)
    );
}

#[tokio::test]
async fn the_reconciler_publishes_without_any_read() {
    let app = direct_app().await;
    let created = app
        .create(json!({"name": "r.bin", "externalId": "r"}))
        .await;
    let url = created["uploadUrl"].as_str().unwrap();
    assert_eq!(app.put(url, content(1000, 7)).await, StatusCode::OK);
    let answered = Instant::now();
    let answered_ms = cabinet::clock::now_ms();
    // aggregate does not look at open direct uploads: only the reconciler can make this count 1.
    loop {
        let r = app
            .post("/files/aggregate", json!({"filter": {"uploaded": true}}))
            .await;
        if r.body["items"][0]["count"] == json!(1) {
            break;
        }
        assert!(
            answered.elapsed() < Duration::from_secs(2),
            "not published within 2 s of the PUT's answer"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = app.retrieve(json!({"externalId": "r"})).await.body["items"][0].clone();
    let uploaded_time = got["uploadedTime"].as_i64().unwrap();
    assert!(
        uploaded_time - answered_ms <= 1000,
        "published {} ms after the PUT's answer",
        uploaded_time - answered_ms
    );
    assert_eq!(
        app.download(json!({"externalId": "r"})).await,
        content(1000, 7)
    );
}

#[tokio::test]
async fn uploadlink_replaces_content_and_an_unused_url_changes_nothing() {
    let app = direct_app().await;
    let created = app.create(json!({"name": "u", "externalId": "u"})).await;
    app.put(created["uploadUrl"].as_str().unwrap(), b"one".to_vec())
        .await;
    let unused = app
        .post("/files/uploadlink", json!({"items": [{"externalId": "u"}]}))
        .await;
    assert_eq!(unused.status, StatusCode::CREATED, "{unused:?}");
    assert_eq!(app.download(json!({"externalId": "u"})).await, b"one");
    let link = app
        .post("/files/uploadlink", json!({"items": [{"externalId": "u"}]}))
        .await;
    let url = link.body["items"][0]["uploadUrl"].as_str().unwrap();
    assert_presigned(&app, url);
    assert_eq!(app.put(url, b"two".to_vec()).await, StatusCode::OK);
    assert_eq!(app.download(json!({"externalId": "u"})).await, b"two");
    // The older, unused URL arriving late cannot overwrite newer content.
    let stale = unused.body["items"][0]["uploadUrl"].as_str().unwrap();
    assert_eq!(app.put(stale, b"stale".to_vec()).await, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(app.download(json!({"externalId": "u"})).await, b"two");
}

#[tokio::test]
async fn multipart_parts_go_to_s3_in_any_order() {
    let app = direct_app().await;
    let init = app
        .post(
            "/files/initmultipartupload?overwrite=false&parts=3",
            json!({"name": "big.bin", "externalId": "mp"}),
        )
        .await;
    assert_eq!(init.status, StatusCode::CREATED, "{init:?}");
    let f = init.body;
    let urls: Vec<String> = f["uploadUrls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_string())
        .collect();
    for url in &urls {
        assert_presigned(&app, url);
    }
    let parts = [
        content(5 * MIB, 1),
        content(5 * MIB + 3, 2),
        content(1000, 3),
    ];
    // A first, wrong attempt at part 1, replaced by a later retry.
    assert_eq!(app.put(&urls[1], b"wrong".to_vec()).await, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (a, b, c) = tokio::join!(
        app.put(&urls[2], parts[2].clone()),
        app.put(&urls[0], parts[0].clone()),
        app.put(&urls[1], parts[1].clone())
    );
    assert_eq!((a, b, c), (StatusCode::OK, StatusCode::OK, StatusCode::OK));
    let complete = json!({"id": f["id"], "uploadId": f["uploadId"]});
    let r = app
        .post("/files/completemultipartupload", complete.clone())
        .await;
    assert_eq!((r.status, r.body), (StatusCode::OK, json!({})));
    let again = app.post("/files/completemultipartupload", complete).await;
    assert_eq!((again.status, again.body), (StatusCode::OK, json!({})));
    let got = app.retrieve(json!({"externalId": "mp"})).await.body["items"][0].clone();
    assert_eq!(got["uploaded"], json!(true));
    assert_eq!(
        app.download(json!({"externalId": "mp"})).await,
        parts.concat()
    );

    // multiuploadlink: new content of the same file, one part.
    let link = app
        .post(
            "/files/multiuploadlink?parts=1",
            json!({"items": [{"externalId": "mp"}]}),
        )
        .await;
    assert_eq!(link.status, StatusCode::CREATED, "{link:?}");
    let item = &link.body["items"][0];
    let url = item["uploadUrls"][0].as_str().unwrap();
    assert_presigned(&app, url);
    assert_eq!(app.put(url, b"small".to_vec()).await, StatusCode::OK);
    let r = app
        .post(
            "/files/completemultipartupload",
            json!({"id": item["id"], "uploadId": item["uploadId"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(app.download(json!({"externalId": "mp"})).await, b"small");
}

#[tokio::test]
async fn complete_with_a_missing_part_is_refused_as_in_proxy_transfer() {
    let app = direct_app().await;
    let f = app
        .post(
            "/files/initmultipartupload?parts=2",
            json!({"name": "m", "externalId": "m"}),
        )
        .await
        .body;
    assert_eq!(
        app.put(f["uploadUrls"][1].as_str().unwrap(), b"tail".to_vec())
            .await,
        StatusCode::OK
    );
    let r = app
        .post(
            "/files/completemultipartupload",
            json!({"externalId": "m", "uploadId": f["uploadId"]}),
        )
        .await;
    let error = assert_error(&r, 400);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("part(s) 0 of 2 are missing"),
        "{error}"
    );
    assert_eq!(
        app.retrieve(json!({"externalId": "m"})).await.body["items"][0]["uploaded"],
        json!(false)
    );
}

#[tokio::test]
async fn downloads_are_presigned_gets_with_ranges_and_the_mime_type() {
    let app = direct_app().await;
    let data = content(100_000, 3);
    let created = app
        .create(json!({"name": "d.csv", "externalId": "d", "mimeType": "text/csv"}))
        .await;
    app.put(created["uploadUrl"].as_str().unwrap(), data.clone())
        .await;
    let url = app.download_url(json!({"externalId": "d"})).await;
    assert_presigned(&app, &url);
    assert!(
        url.contains("X-Amz-Expires=30&") || url.contains("X-Amz-Expires=29&"),
        "{url}"
    );
    let whole = app.client.get(&url).send().await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(
        whole.headers()["content-type"].to_str().unwrap(),
        "text/csv"
    );
    assert_eq!(whole.bytes().await.unwrap().to_vec(), data);
    let part = app
        .client
        .get(&url)
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.unwrap().to_vec(), data[10..20].to_vec());
    // extendedExpiration: an hour, as cabinet's own URLs.
    let r = app
        .post(
            "/files/downloadlink?extendedExpiration=true",
            json!({"items": [{"externalId": "d"}]}),
        )
        .await;
    let long = r.body["items"][0]["downloadUrl"].as_str().unwrap();
    assert!(
        long.contains("X-Amz-Expires=3600&") || long.contains("X-Amz-Expires=3599&"),
        "{long}"
    );
}

#[tokio::test]
async fn s3_refuses_an_expired_or_altered_presigned_url() {
    let server = SeaweedFs::shared();
    let staging = tempfile::tempdir().unwrap();
    let s3 = S3Blobs::open(&server.settings(), staging.path()).unwrap();
    let client = reqwest::Client::new();
    let put = s3
        .presign_put("k/obj", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        client.put(&put).body("x").send().await.unwrap().status(),
        StatusCode::OK
    );
    let altered = put.replace("k/obj", "k/other");
    assert_eq!(
        client
            .put(&altered)
            .body("x")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    let get = s3
        .presign_get("k/obj", Duration::from_secs(1), None)
        .await
        .unwrap();
    assert_eq!(
        client.get(&get).send().await.unwrap().status(),
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        client.get(&get).send().await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "an expired presigned GET is refused"
    );
}

#[tokio::test]
async fn direct_transfer_needs_content_in_s3() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = cabinet::app::ServeConfig::new("127.0.0.1:0", dir.path());
    config.content_transfer = ContentTransfer::Direct;
    let refused = cabinet::app::Application::build(config).await;
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("needs content in S3"), "{message}");
}

#[tokio::test]
async fn two_deployments_on_one_prefix_leave_each_others_uploads_alone() {
    let settings = SeaweedFs::shared().settings();
    let same = settings.clone();
    let a = TestApp::spawn_with(|c| {
        c.content = Some(settings);
        c.content_transfer = ContentTransfer::Direct;
    })
    .await;
    // Another deployment (its own data directory, metadata and secret) on the same bucket prefix.
    let _b = TestApp::spawn_with(|c| {
        c.content = Some(same);
        c.content_transfer = ContentTransfer::Direct;
    })
    .await;
    let created = a.create(json!({"name": "x", "externalId": "x"})).await;
    assert_eq!(
        a.put(created["uploadUrl"].as_str().unwrap(), b"mine".to_vec())
            .await,
        StatusCode::OK
    );
    // Both reconcilers run several passes before anything reads the file.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(a.download(json!({"externalId": "x"})).await, b"mine");
}
