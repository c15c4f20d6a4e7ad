//! Upload URLs that outlived their turn: an older upload session never replaces newer content, and a part
//! that lands after its session ended leaves nothing behind.

use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn an_older_upload_url_never_overwrites_newer_content() {
    if !proxy_transfer_only("stale_uploads::an_older_upload_url_never_overwrites_newer_content", "S3 answers a stale URL's PUT with 200 (cabinet then ignores the object; direct.rs tests that)") {
        return;
    }
    let app = TestApp::spawn().await;
    let first = app
        .create(json!({"name": "a.txt", "externalId": "stale"}))
        .await;
    let first_url = first["uploadUrl"].as_str().unwrap().to_string();
    assert_eq!(
        app.put(&first_url, b"version 1".to_vec()).await,
        StatusCode::OK
    );

    // overwrite=true opens a newer session; once its content lands, the first URL is stale.
    let second = app
        .post(
            "/files?overwrite=true",
            json!({"name": "a.txt", "externalId": "stale"}),
        )
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{second:?}");
    let second_url = second.body["uploadUrl"].as_str().unwrap().to_string();
    assert_eq!(
        app.put(&second_url, b"version 2".to_vec()).await,
        StatusCode::OK
    );

    let r = reply(
        app.client
            .put(&first_url)
            .body("old bytes")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let error = assert_error(&r, 409);
    assert!(
        error["message"].as_str().unwrap().contains("newer upload"),
        "{r:?}"
    );
    assert_eq!(
        app.download(json!({"externalId": "stale"})).await,
        b"version 2"
    );

    // The current session's URL stays reusable until it expires.
    assert_eq!(
        app.put(&second_url, b"version 3".to_vec()).await,
        StatusCode::OK
    );
    assert_eq!(
        app.download(json!({"externalId": "stale"})).await,
        b"version 3"
    );

    // A new uploadlink supersedes it in turn, once its content has landed, and not before.
    let link = app
        .post(
            "/files/uploadlink",
            json!({"items": [{"externalId": "stale"}]}),
        )
        .await;
    assert_eq!(link.status, StatusCode::CREATED, "{link:?}");
    let third_url = link.body["items"][0]["uploadUrl"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.put(&second_url, b"version 4".to_vec()).await,
        StatusCode::OK
    );
    assert_eq!(
        app.put(&third_url, b"version 5".to_vec()).await,
        StatusCode::OK
    );
    assert_eq!(
        app.put(&second_url, b"version 6".to_vec()).await,
        StatusCode::CONFLICT
    );
    assert_eq!(
        app.download(json!({"externalId": "stale"})).await,
        b"version 5"
    );
}

#[tokio::test]
async fn an_older_multipart_upload_cannot_complete_over_newer_content() {
    if !crate::helpers::content_in_data_dir(
        "an_older_multipart_upload_cannot_complete_over_newer_content",
    ) {
        return;
    }
    let app = TestApp::spawn().await;
    let init = app
        .post(
            "/files/initmultipartupload?parts=1",
            json!({"name": "m.bin", "externalId": "mp-stale"}),
        )
        .await;
    assert_eq!(init.status, StatusCode::CREATED, "{init:?}");
    let upload_id = init.body["uploadId"].as_str().unwrap().to_string();
    let part_url = init.body["uploadUrls"][0].as_str().unwrap().to_string();
    assert_eq!(
        app.put(&part_url, b"old part".to_vec()).await,
        StatusCode::OK
    );

    let link = app
        .post(
            "/files/uploadlink",
            json!({"items": [{"externalId": "mp-stale"}]}),
        )
        .await;
    let url = link.body["items"][0]["uploadUrl"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.put(&url, b"newer".to_vec()).await, StatusCode::OK);

    let r = app
        .post(
            "/files/completemultipartupload",
            json!({"externalId": "mp-stale", "uploadId": upload_id}),
        )
        .await;
    assert_error(&r, 409);
    assert_eq!(
        app.download(json!({"externalId": "mp-stale"})).await,
        b"newer"
    );
    assert_eq!(
        files_under(&app.dir.path().join("parts")),
        0,
        "the superseded upload's parts are removed"
    );
    assert_eq!(
        crate::stored::stored_objects(app.dir.path()).len(),
        1,
        "only the current content is stored"
    );
}

#[tokio::test]
async fn a_part_that_lands_after_its_file_was_deleted_is_a_404_and_leaves_nothing() {
    if !crate::helpers::content_in_data_dir(
        "a_part_that_lands_after_its_file_was_deleted_is_a_404_and_leaves_nothing",
    ) {
        return;
    }
    let app = TestApp::spawn().await;
    let init = app
        .post(
            "/files/initmultipartupload?parts=2",
            json!({"name": "race.bin", "externalId": "race"}),
        )
        .await;
    assert_eq!(init.status, StatusCode::CREATED, "{init:?}");
    let part_url = init.body["uploadUrls"][0].as_str().unwrap().to_string();

    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(futures_util::stream::unfold(rx, |mut rx| async {
        rx.recv().await.map(|item| (item, rx))
    }));
    let put = tokio::spawn(app.client.put(&part_url).body(body).send());
    let chunk = Bytes::from(content(MIB, 7));
    tx.send(Ok(chunk.clone())).await.unwrap();
    wait_until(|| files_under(&app.dir.path().join("staging")) > 0).await;

    let deleted = app
        .post("/files/delete", json!({"items": [{"externalId": "race"}]}))
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{deleted:?}");
    for _ in 0..4 {
        tx.send(Ok(chunk.clone())).await.unwrap();
    }
    drop(tx);
    let r = reply(put.await.unwrap().unwrap()).await;
    assert_error(&r, 404);
    assert_eq!(
        files_under(&app.dir.path().join("parts")),
        0,
        "no part stays"
    );
    assert_eq!(files_under(&app.dir.path().join("staging")), 0);
}

/// Regular files anywhere under `dir`.
pub fn files_under(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => files_under(&e.path()),
            Ok(t) if t.is_file() => 1,
            _ => 0,
        })
        .sum()
}

/// Polls `cond` for up to 10 s.
pub async fn wait_until(mut cond: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if cond() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the condition did not hold within 10 s");
}
