//! Rotating the URL signing key with the real binary: `cabinet keys rotate` on the data directory of a
//! running server. URLs handed out before keep working until they expire, new ones name the new key, a
//! URL whose key id or signature was swapped is refused, and file ids and cursors do not change.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

mod common;
use common::server::Server;

/// A query parameter of a URL.
fn param(url: &str, name: &str) -> Option<String> {
    url.split(['?', '&'])
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .map(str::to_string)
}

/// `url` with query parameter `name` set to `value`.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let old = param(url, name).unwrap_or_else(|| panic!("no {name} in {url}"));
    url.replace(&format!("{name}={old}"), &format!("{name}={value}"))
}

/// Runs `cabinet keys <args>` on `data_dir` (through `CABINET_DATA_DIR` when `by_env`); returns stdout.
fn keys(data_dir: &Path, args: &[&str], by_env: bool) -> String {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cabinet"));
    command
        .arg("keys")
        .args(args)
        .env_remove("CABINET_CONFIG")
        .env_remove("CABINET_DATA_DIR");
    if by_env {
        command.env("CABINET_DATA_DIR", data_dir);
    } else {
        command.arg("--data-dir").arg(data_dir);
    }
    let out = command.output().expect("cabinet keys runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "cabinet keys {args:?}: {}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

async fn get(server: &Server, url: &str) -> (StatusCode, Vec<u8>) {
    let resp = server.client.get(url).send().await.expect("GET");
    let status = resp.status();
    (status, resp.bytes().await.expect("a body").to_vec())
}

/// A refused URL: 403 with the CDF envelope; returns its message.
async fn refused(server: &Server, url: &str) -> String {
    let (status, body) = get(server, url).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "GET {url}");
    let body: Value = serde_json::from_slice(&body).expect("a JSON error");
    assert_eq!(body["error"]["code"], json!(403), "{body}");
    body["error"]["message"].as_str().unwrap().to_string()
}

async fn list_page(server: &Server, body: Value) -> Value {
    let (status, page) = server.post("/files/list", body).await;
    assert_eq!(status, StatusCode::OK, "list: {page}");
    page
}

#[tokio::test]
async fn a_rotated_key_still_verifies_old_urls_and_refuses_forged_ones() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path()).await;

    // Before the rotation: a file with content, a file awaiting its upload, a list cursor.
    let a = server.create("a", false).await;
    let status = server
        .put(a["uploadUrl"].as_str().unwrap(), b"alpha".to_vec())
        .await;
    assert_eq!(status, StatusCode::OK);
    let b = server.create("b", false).await;
    let old_upload = b["uploadUrl"].as_str().unwrap().to_string();
    let old_download = server.download_url("a").await;
    let old_kid = param(&old_download, "kid").expect("URLs name their key");
    assert_eq!(param(&old_upload, "kid"), Some(old_kid.clone()));
    let first_page = list_page(&server, json!({ "limit": 1 })).await;
    let cursor = first_page["nextCursor"]
        .as_str()
        .expect("a cursor")
        .to_string();

    let listed = keys(&server.data_dir, &["list"], true);
    assert!(listed.contains(&old_kid), "{listed}");

    let rotated_at = Instant::now();
    let out = keys(&server.data_dir, &["rotate"], false);
    let new_kid = out
        .lines()
        .find_map(|l| l.strip_prefix("new current key: "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no new key id in:\n{out}"))
        .to_string();
    assert_ne!(new_kid, old_kid);
    assert!(out.contains(&format!("kept: {old_kid}")), "{out}");

    let listed = keys(&server.data_dir, &["list"], false);
    let current: Vec<&str> = listed.lines().filter(|l| l.contains("current")).collect();
    assert_eq!(current.len(), 1, "{listed}");
    assert!(current[0].starts_with(&new_kid), "{listed}");
    assert!(listed.contains(&old_kid), "{listed}");

    // The running server hands out URLs with the new key within its check interval (2 s).
    let new_download = loop {
        let url = server.download_url("a").await;
        if param(&url, "kid").as_deref() == Some(new_kid.as_str()) {
            break url;
        }
        assert_eq!(param(&url, "kid"), Some(old_kid.clone()));
        assert!(
            rotated_at.elapsed() < Duration::from_secs(4),
            "still signing with {old_kid} {:?} after the rotation",
            rotated_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        get(&server, &new_download).await,
        (StatusCode::OK, b"alpha".to_vec())
    );

    // URLs signed with the previous key keep working.
    assert_eq!(
        get(&server, &old_download).await,
        (StatusCode::OK, b"alpha".to_vec())
    );
    let status = server.put(&old_upload, b"bravo".to_vec()).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "PUT to the upload URL from before the rotation"
    );
    let new_upload = server
        .create("c", false)
        .await
        .get("uploadUrl")
        .and_then(Value::as_str)
        .unwrap()
        .to_string();
    assert_eq!(param(&new_upload, "kid"), Some(new_kid.clone()));
    assert_eq!(
        server.put(&new_upload, b"charlie".to_vec()).await,
        StatusCode::OK
    );

    // Forgeries: the old key id on a signature made with the new key, the key id of a URL changed
    // either way, an unknown key id, no key id at all.
    for forged in [
        with_param(&new_download, "kid", &old_kid),
        with_param(&old_download, "kid", &new_kid),
        with_param(&old_download, "kid", "ffffffff"),
        old_download.replace(&format!("kid={old_kid}&"), ""),
    ] {
        let message = refused(&server, &forged).await;
        assert!(
            message.contains("signature is not valid"),
            "{forged}: {message}"
        );
    }

    // File ids and cursors from before the rotation are unchanged.
    let (status, by_id) = server
        .post("/files/byids", json!({ "items": [{ "id": a["id"] }] }))
        .await;
    assert_eq!(status, StatusCode::OK, "{by_id}");
    assert_eq!(by_id["items"][0]["externalId"], json!("a"));
    let second_page = list_page(&server, json!({ "limit": 1, "cursor": cursor })).await;
    let first_id = &first_page["items"][0]["id"];
    let second_id = &second_page["items"][0]["id"];
    assert!(second_id.is_i64(), "{second_page}");
    assert_ne!(first_id, second_id);

    // After a restart the ring is read back: the new key signs, the old one still verifies.
    let old_base = server.base.clone();
    server.stop().await;
    let server = Server::start(root.path()).await;
    // The restarted server listens on another port; the signature does not cover the host.
    let old_download = old_download.replace(&old_base, &server.base);
    assert_eq!(
        param(&server.download_url("a").await, "kid"),
        Some(new_kid.clone())
    );
    let expires: i64 = param(&old_download, "expires").unwrap().parse().unwrap();
    let now = cabinet::clock::now_ms();
    assert!(now < expires, "the test took too long to see the URL live");
    assert_eq!(
        get(&server, &old_download).await,
        (StatusCode::OK, b"alpha".to_vec())
    );

    // Once its time is up, the old URL is refused like any expired one (download URLs live 30 s).
    tokio::time::sleep(Duration::from_millis((expires - now + 500) as u64)).await;
    let message = refused(&server, &old_download).await;
    assert!(message.contains("expired"), "{message}");
    server.stop().await;
}
