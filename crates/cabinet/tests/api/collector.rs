//! The orphan collector: content, parts and staged files that nothing refers to are removed once they are
//! older than the grace period, and nothing that a file refers to, or that a publish in flight is about to
//! refer to, ever is.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::stale_uploads::{files_under, wait_until};

/// Leaves what a crash between writing content and committing its metadata leaves behind.
fn plant_orphans(data: &Path) {
    let object = data.join(
        "blobs/orphan-proj/3e7/999/0190a1b2c3d4aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-0123456789ab",
    );
    std::fs::create_dir_all(object.parent().unwrap()).unwrap();
    std::fs::write(&object, b"orphaned content").unwrap();
    let part = data.join("parts/0190a1b2c3d4bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/00000");
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    std::fs::write(&part, b"orphaned part").unwrap();
    // Not a key of ours: never touched.
    std::fs::write(data.join("blobs/README"), b"left by someone else").unwrap();
}

/// An orphaned small object: the local store keeps it in its packed database, not in a file.
const PACKED_ORPHAN: &str =
    "orphan-proj/3e6/998/0190a1b2c3d4cccccccccccccccccccccccccccccccc-0123456789ab";

/// Leaves [`PACKED_ORPHAN`] in the packed store of `data`, written through the store as a put would.
async fn plant_packed_orphan(data: &Path) {
    use cabinet::blob::BlobStore;
    let store = cabinet::blob::local::LocalBlobs::open(data).unwrap();
    let body: cabinet::blob::ByteStream = Box::pin(futures_util::stream::iter([Ok(
        Bytes::from_static(b"orphaned small content"),
    )]));
    store.put(PACKED_ORPHAN, body, u64::MAX).await.unwrap();
    assert_eq!(crate::stored::packed_keys(data), vec![PACKED_ORPHAN]);
}

#[tokio::test]
async fn orphans_older_than_the_grace_period_are_collected_and_nothing_else() {
    if !crate::helpers::content_in_data_dir(
        "orphans_older_than_the_grace_period_are_collected_and_nothing_else",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    plant_orphans(dir.path());
    plant_packed_orphan(dir.path()).await;
    let app = TestApp::spawn_in(dir, |c| {
        c.guards.orphan_grace = Duration::ZERO;
        c.guards.janitor_interval = Duration::from_millis(50);
    })
    .await;
    let data = app.dir.path().to_path_buf();
    let kept = app
        .upload(json!({"name": "kept.txt", "externalId": "kept"}), b"kept")
        .await;
    let init = app
        .post(
            "/files/initmultipartupload?parts=2",
            json!({"name": "open.bin", "externalId": "open"}),
        )
        .await;
    let part_url = init.body["uploadUrls"][1].as_str().unwrap().to_string();
    assert_eq!(
        app.put(&part_url, b"a live part".to_vec()).await,
        StatusCode::OK
    );

    wait_until(|| {
        !data
            .join("parts/0190a1b2c3d4bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
            .exists()
    })
    .await;
    wait_until(|| {
        !data
            .join("blobs/orphan-proj/3e7/999")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some())
    })
    .await;
    wait_until(|| !crate::stored::packed_keys(&data).contains(&PACKED_ORPHAN.to_string())).await;
    // Two more runs, to be sure that what is referenced stays.
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(
        data.join("blobs/README").exists(),
        "a file of another shape is left alone"
    );
    assert_eq!(app.download(json!({"id": kept["id"]})).await, b"kept");
    assert_eq!(
        files_under(&data.join("parts")),
        1,
        "the open upload's part stays"
    );
}

#[tokio::test]
async fn nothing_is_collected_within_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    plant_orphans(dir.path());
    if !content_on_s3() {
        plant_packed_orphan(dir.path()).await;
    }
    let app = TestApp::spawn_in(dir, |c| {
        c.guards.orphan_grace = Duration::from_secs(3600);
        c.guards.janitor_interval = Duration::from_millis(50);
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(files_under(&app.dir.path().join("parts")), 1);
    assert_eq!(files_under(&app.dir.path().join("blobs")), 2);
    if !content_on_s3() {
        assert_eq!(
            crate::stored::packed_keys(app.dir.path()),
            vec![PACKED_ORPHAN]
        );
    }
}

#[tokio::test]
async fn the_collector_never_takes_content_of_a_publish_in_flight() {
    if !crate::helpers::content_in_data_dir(
        "the_collector_never_takes_content_of_a_publish_in_flight",
    ) {
        return;
    }
    // With no grace at all and a run every few milliseconds, only the in-flight registry and the live
    // staging set protect uploads and multipart completions under way.
    let app = TestApp::spawn_with(|c| {
        c.guards.orphan_grace = Duration::ZERO;
        c.guards.janitor_interval = Duration::from_millis(5);
    })
    .await;
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for i in 0..24u64 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let x = format!("busy-{i}");
            let created = app.create(json!({"name": "b.bin", "externalId": x})).await;
            let url = created["uploadUrl"].as_str().unwrap().to_string();
            // Every other one small, so that it goes to the packed store.
            let len = if i % 2 == 0 { 1_000 } else { 300_000 };
            let data = content(len + i as usize, i);
            // A body in slow pieces, so that collector runs fall in the middle of the upload.
            let pieces: Vec<Result<Bytes, std::io::Error>> = data
                .chunks(64 * 1024)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let body = futures_util::stream::iter(pieces).then(|piece| async move {
                tokio::time::sleep(Duration::from_millis(3)).await;
                piece
            });
            let status = app
                .client
                .put(&url)
                .body(reqwest::Body::wrap_stream(body))
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, StatusCode::OK);
            (x, data)
        }));
    }
    for task in tasks {
        let (x, data) = task.await.unwrap();
        assert_eq!(app.download(json!({"externalId": x})).await, data, "{x}");
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(crate::stored::stored_objects(app.dir.path()).len(), 24);
}
