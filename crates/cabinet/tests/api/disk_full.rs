//! A full disk, on a small tmpfs mounted for the test (root only; CI runs as root): uploads are refused
//! with 507 before they start, a write that runs out of space midway is a 507 and leaves nothing, deletes
//! keep working, and nothing is lost once space returns.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::stale_uploads::files_under;

const MIB: usize = 1024 * 1024;

/// A tmpfs of `mib` MiB mounted on a fresh directory, unmounted when dropped. `None` (with a note on
/// stderr) where mounting is not allowed, except in CI, where it must work.
fn small_disk(mib: u32) -> Option<(tempfile::TempDir, Unmount)> {
    let dir = tempfile::tempdir().unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
        .arg(dir.path())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        assert!(
            std::env::var_os("CI").is_none(),
            "the disk-full test must mount a tmpfs in CI (it runs as root)"
        );
        eprintln!("disk-full test not run: mounting a tmpfs needs root");
        return None;
    }
    let unmount = Unmount(dir.path().to_path_buf());
    Some((dir, unmount))
}

struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the filesystem of `dir` with `filler` until it takes no more, leaving `leave` bytes free.
fn fill(dir: &Path, leave: u64) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let free = cabinet::disk::fs_space(dir).unwrap().free;
    let block = vec![0u8; 64 * 1024];
    let mut left = free.saturating_sub(leave);
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        if file.write_all(&block[..n]).is_err() {
            break;
        }
        left -= n as u64;
    }
    if leave == 0 {
        // Whatever the estimate missed, in small steps.
        while file
            .write_all(&block[..4096])
            .and_then(|()| file.sync_data())
            .is_ok()
        {}
    }
    let _ = file.sync_data();
    path
}

#[tokio::test]
async fn a_full_disk_refuses_uploads_with_507_keeps_deletes_working_and_loses_nothing() {
    if !proxy_transfer_only(
        "disk_full::a_full_disk_refuses_uploads_with_507_keeps_deletes_working_and_loses_nothing",
        "content does not pass through the data directory's disk",
    ) {
        return;
    }
    let Some((dir, _unmount)) = small_disk(48) else {
        return;
    };
    let app = TestApp::spawn_in(dir, |c| {
        c.guards.min_free_bytes = Some(8 * MIB as u64);
        c.guards.disk_reserve_bytes = Some(4 * MIB as u64);
    })
    .await;
    let data = app.dir.path().to_path_buf();
    assert!(
        data.join("reserve.space").exists(),
        "the reserve is taken at start-up"
    );
    let mut kept = Vec::new();
    for i in 0..4u64 {
        let bytes = content(200_000, i);
        let f = app
            .upload(
                json!({"name": format!("f{i}"), "externalId": format!("f{i}")}),
                &bytes,
            )
            .await;
        kept.push((f["id"].clone(), bytes));
    }
    let pending = app
        .create(json!({"name": "later", "externalId": "later"}))
        .await;
    let pending_url = pending["uploadUrl"].as_str().unwrap().to_string();

    let filler = fill(&data, 0);

    let r = app.post("/files", json!({"name": "new"})).await;
    let e = assert_error(&r, 507);
    assert!(e["message"].as_str().unwrap().contains("full"), "{r:?}");
    let r = reply(
        app.client
            .put(&pending_url)
            .body(content(100_000, 9))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&r, 507);
    let link = app
        .post("/files/uploadlink", json!({"items": [{"id": kept[0].0}]}))
        .await;
    assert_error(&link, 507);

    // Deleting works on the full disk, and frees space.
    let r = app
        .post("/files/delete", json!({"items": [{"id": kept[3].0}]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    kept.pop();
    for (id, bytes) in &kept {
        assert_eq!(&app.download(json!({"id": id})).await, bytes);
    }
    assert_eq!(files_under(&data.join("staging")), 0);

    // Space returns: uploads work again, and nothing was lost.
    std::fs::remove_file(filler).unwrap();
    assert_eq!(
        app.put(&pending_url, b"after".to_vec()).await,
        StatusCode::OK
    );
    assert_eq!(app.download(json!({"externalId": "later"})).await, b"after");
    for (id, bytes) in &kept {
        assert_eq!(&app.download(json!({"id": id})).await, bytes);
    }
    let listed = app.post("/files/list", json!({"limit": 100})).await;
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        4,
        "{listed:?}"
    );
}

#[tokio::test]
async fn running_out_of_space_midway_is_a_507_and_leaves_no_partial_content() {
    if !crate::helpers::content_in_data_dir(
        "running_out_of_space_midway_is_a_507_and_leaves_no_partial_content",
    ) {
        return;
    }
    let Some((dir, _unmount)) = small_disk(32) else {
        return;
    };
    // No watermark and no reserve: the upload starts, and the disk fills under it.
    let app = TestApp::spawn_in(dir, |c| {
        c.guards.min_free_bytes = Some(0);
        c.guards.disk_reserve_bytes = Some(0);
    })
    .await;
    let data = app.dir.path().to_path_buf();
    let created = app
        .create(json!({"name": "big", "externalId": "big"}))
        .await;
    let url = created["uploadUrl"].as_str().unwrap().to_string();
    let filler = fill(&data, 2 * MIB as u64);

    // Streamed without a Content-Length, so that nothing can be refused up front.
    let pieces: Vec<Result<Bytes, std::io::Error>> =
        (0..8).map(|i| Ok(Bytes::from(content(MIB, i)))).collect();
    let r = reply(
        app.client
            .put(&url)
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                pieces,
            )))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let e = assert_error(&r, 507);
    assert!(
        !e["message"].as_str().unwrap().contains("Internal"),
        "{r:?}"
    );
    assert_eq!(
        files_under(&data.join("staging")),
        0,
        "no partial content stays"
    );
    assert_eq!(files_under(&data.join("blobs")), 0);
    let file = app.retrieve(json!({"externalId": "big"})).await;
    assert_eq!(file.body["items"][0]["uploaded"], json!(false), "{file:?}");

    std::fs::remove_file(filler).unwrap();
    assert_eq!(app.put(&url, content(3 * MIB, 1)).await, StatusCode::OK);
    assert_eq!(
        app.download(json!({"externalId": "big"})).await,
        content(3 * MIB, 1)
    );
}
