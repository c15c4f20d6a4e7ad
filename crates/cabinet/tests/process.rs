//! Process-level tests: the real `cabinet` binary, started, stopped (politely and not) and restarted on the
//! same data directory, talked to over loopback HTTP.
//!
//! The tests run one at a time (see [`SERIAL`]): they measure start-up time and memory, and on a small
//! machine a concurrent 512 MiB transfer would make those figures say more about the neighbour than
//! about the server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::CONTENT_LENGTH;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::mpsc;

mod common;
use common::server::{proc_status_kib, Server, PROJECT};

const MIB: usize = 1 << 20;

/// Held by every test for its whole run.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

// ---------------------------------------------------------------------------------------------------------
// Content and bodies
// ---------------------------------------------------------------------------------------------------------

/// Deterministic pseudo-random content, so a mismatch shows up anywhere in a file.
fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A request body fed through a channel: bytes go out as the test sends them, and the body stalls while
/// the test holds the sender without sending. Dropping the sender ends the body.
fn channel_body() -> (mpsc::Sender<Bytes>, reqwest::Body) {
    let (tx, rx) = mpsc::channel::<Bytes>(2);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::io::Error>(b), rx))
    });
    (tx, reqwest::Body::wrap_stream(stream))
}

/// Starts a PUT of a body of declared `length` fed by the returned sender; the task yields the status,
/// or the transport error.
fn start_streaming_put(
    client: &reqwest::Client,
    url: &str,
    length: u64,
) -> (
    mpsc::Sender<Bytes>,
    tokio::task::JoinHandle<Result<StatusCode, reqwest::Error>>,
) {
    let (tx, body) = channel_body();
    let request = client
        .put(url)
        .header(CONTENT_LENGTH, length)
        .body(body)
        .send();
    let task = tokio::spawn(async move { request.await.map(|r| r.status()) });
    (tx, task)
}

/// Sends `data` into a channel body in 1 MiB chunks.
async fn feed(tx: &mpsc::Sender<Bytes>, data: &[u8]) {
    for chunk in data.chunks(MIB) {
        tx.send(Bytes::copy_from_slice(chunk))
            .await
            .expect("the request still reads its body");
    }
}

/// The files in a staging directory, with their sizes.
fn staged_files(dir: &Path) -> Vec<(PathBuf, u64)> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .map(|e| (e.path(), e.metadata().map(|m| m.len()).unwrap_or(0)))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("cannot read {}: {e}", dir.display()),
    }
}

/// Waits (up to 10 s) until at least `count` staging files hold some bytes: the server has received part
/// of that many bodies and is writing them out.
async fn wait_for_staged_bytes(dir: &Path, count: usize) -> Vec<(PathBuf, u64)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let files = staged_files(dir);
        if files.iter().filter(|(_, size)| *size > 0).count() >= count {
            return files;
        }
        assert!(
            Instant::now() < deadline,
            "after 10 s, {} holds {files:?}; expected {count} non-empty staging file(s)",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every regular file under `dir`, recursively, with its size.
fn files_under(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                todo.push(entry.path());
            } else {
                out.push((entry.path(), entry.metadata().unwrap().len()));
            }
        }
    }
    out
}

fn assert_uploaded(file: &Value) {
    assert_eq!(file["uploaded"], json!(true), "not uploaded: {file}");
    assert!(file["uploadedTime"].is_i64(), "no uploadedTime: {file}");
}

// ---------------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn uploaded_content_survives_a_restart() {
    let _serial = SERIAL.lock().await;
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path()).await;

    let contents: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("one-byte", vec![0x5a]),
        ("small", content(4_321, 1)),
        ("medium", content(300 * 1024 + 7, 2)),
        ("big", content(3 * MIB + 12_345, 3)),
    ];
    let names: Vec<&str> = contents.iter().map(|(x, _)| *x).collect();
    for (x, bytes) in &contents {
        let created = server.create(x, false).await;
        assert_eq!(created["uploaded"], json!(false), "{created}");
        let status = server
            .put(created["uploadUrl"].as_str().unwrap(), bytes.clone())
            .await;
        assert_eq!(status, StatusCode::OK, "PUT of {x}");
    }
    let before = server.by_external_ids(&names).await;
    for file in &before {
        assert_uploaded(file);
    }
    server.stop().await;

    let server = Server::start(root.path()).await;
    let after = server.by_external_ids(&names).await;
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a, b, "the file changed across a restart");
    }
    for (x, bytes) in &contents {
        let got = server.download(x).await;
        assert_eq!(got.len(), bytes.len(), "length of {x} after a restart");
        assert!(got == *bytes, "content of {x} differs after a restart");
    }
    server.stop().await;
}

#[tokio::test]
async fn sigkill_during_an_upload_leaves_no_partial_content() {
    let _serial = SERIAL.lock().await;
    let root = tempfile::tempdir().unwrap();
    let mut server = Server::start(root.path()).await;

    // x has content A; y has none.
    let a = content(MIB + 123, 10);
    let created_x = server.create("x", false).await;
    let status = server
        .put(created_x["uploadUrl"].as_str().unwrap(), a.clone())
        .await;
    assert_eq!(status, StatusCode::OK);
    let created_y = server.create("y", false).await;
    let before = server.by_external_ids(&["x", "y"]).await;
    assert_uploaded(&before[0]);
    assert_eq!(before[1]["uploaded"], json!(false), "{}", before[1]);

    // A new upload for x, and the first for y: 64 MiB declared, 8 MiB sent, then the bodies stall.
    let overwritten = server.create("x", true).await;
    assert_eq!(overwritten["id"], created_x["id"], "overwrite kept the id");
    let declared = 64 * MIB as u64;
    let partial = content(8 * MIB, 11);
    let (tx_x, put_x) = start_streaming_put(
        &server.client,
        overwritten["uploadUrl"].as_str().unwrap(),
        declared,
    );
    let (tx_y, put_y) = start_streaming_put(
        &server.client,
        created_y["uploadUrl"].as_str().unwrap(),
        declared,
    );
    feed(&tx_x, &partial).await;
    feed(&tx_y, &partial).await;
    let staged = wait_for_staged_bytes(&server.staging(), 2).await;

    server.kill().await;
    for (name, put) in [("x", put_x), ("y", put_y)] {
        let outcome = tokio::time::timeout(Duration::from_secs(10), put)
            .await
            .unwrap_or_else(|_| panic!("the PUT of {name} did not end after SIGKILL"))
            .unwrap();
        assert!(
            outcome.is_err(),
            "the interrupted PUT of {name} did not fail: {outcome:?}"
        );
    }
    drop((tx_x, tx_y));
    let left = staged_files(&server.staging());
    assert!(
        !left.is_empty(),
        "the killed server left nothing in staging (it had {staged:?}): the test did not interrupt a write"
    );
    drop(server);

    let server = Server::start(root.path()).await;
    let staging = staged_files(&server.staging());
    assert!(
        staging.is_empty(),
        "staging still holds {staging:?} after a restart"
    );
    let after = server.by_external_ids(&["x", "y"]).await;
    let (x, y) = (&after[0], &after[1]);
    assert_uploaded(x);
    assert_eq!(x["id"], created_x["id"], "{x}");
    assert_eq!(
        x["uploadedTime"], before[0]["uploadedTime"],
        "x's uploadedTime changed: {x}"
    );
    assert_eq!(y["uploaded"], json!(false), "y: {y}");
    assert!(y.get("uploadedTime").is_none(), "y: {y}");
    let got = server.download("x").await;
    assert_eq!(got.len(), a.len(), "length of x after the kill");
    assert!(got == a, "x's content is not A after the kill");
    let stored = files_under(&server.data_dir.join("blobs"));
    assert_eq!(
        stored.len(),
        1,
        "expected only x's content under blobs/, found {stored:?}"
    );
    assert_eq!(stored[0].1, a.len() as u64, "{stored:?}");
    server.stop().await;
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_upload_finish() {
    let _serial = SERIAL.lock().await;
    let root = tempfile::tempdir().unwrap();
    let mut server = Server::start(root.path()).await;

    let body = content(16 * MIB + 999, 20);
    let (first, rest) = body.split_at(8 * MIB);
    let created = server.create("z", false).await;
    let (tx, put) = start_streaming_put(
        &server.client,
        created["uploadUrl"].as_str().unwrap(),
        body.len() as u64,
    );
    feed(&tx, first).await;
    wait_for_staged_bytes(&server.staging(), 1).await;

    server.signal_term();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let early = server.child.try_wait().unwrap();
    assert!(
        early.is_none(),
        "the server exited ({early:?}) with an upload in flight; the log:\n{}",
        server.logs()
    );
    feed(&tx, rest).await;
    drop(tx);
    let status = tokio::time::timeout(Duration::from_secs(15), put)
        .await
        .expect("the PUT answers within 15 s")
        .unwrap()
        .unwrap_or_else(|e| panic!("the in-flight PUT failed after SIGTERM: {e}"));
    assert_eq!(status, StatusCode::OK, "the in-flight PUT after SIGTERM");
    let exit = server.wait_exit(Duration::from_secs(15)).await;
    assert_eq!(
        exit.code(),
        Some(0),
        "exit after SIGTERM: {exit}; the log:\n{}",
        server.logs()
    );
    drop(server);

    let server = Server::start(root.path()).await;
    let file = &server.by_external_ids(&["z"]).await[0];
    assert_uploaded(file);
    assert_eq!(file["id"], created["id"]);
    let got = server.download("z").await;
    assert_eq!(got.len(), body.len(), "length of z after the restart");
    assert!(got == body, "z's content differs after the restart");
    assert!(staged_files(&server.staging()).is_empty());
    server.stop().await;
}

/// Length and CRC-32 of a byte stream, fed in pieces of any size.
#[derive(Default)]
struct Digest {
    len: u64,
    crc: flate2::Crc,
}

impl Digest {
    fn update(&mut self, bytes: &[u8]) {
        self.len += bytes.len() as u64;
        self.crc.update(bytes);
    }

    fn value(&self) -> (u64, u32) {
        (self.len, self.crc.sum())
    }
}

#[tokio::test]
async fn server_memory_stays_flat_during_a_large_transfer() {
    const TOTAL: u64 = 512 << 20;
    const LIMIT_KIB: u64 = 64 * 1024;
    let _serial = SERIAL.lock().await;
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path()).await;
    let baseline_kib = server.peak_rss_kib();

    // The body: a shared 1 MiB block (not copied) after an 8-byte chunk counter, so that every MiB differs
    // and a lost, repeated or reordered piece changes the checksum.
    let block = Bytes::from(content(MIB - 8, 30));
    let sent = Arc::new(Mutex::new(Digest::default()));
    let chunks = (TOTAL / MIB as u64) as usize;
    let stream = {
        let sent = Arc::clone(&sent);
        futures_util::stream::iter(0..chunks).flat_map(move |i| {
            let header = Bytes::copy_from_slice(&(i as u64).to_le_bytes());
            let mut digest = sent.lock().unwrap();
            digest.update(&header);
            digest.update(&block);
            futures_util::stream::iter([Ok::<_, std::io::Error>(header), Ok(block.clone())])
        })
    };

    let created = server.create("large", false).await;
    let began = Instant::now();
    let status = tokio::time::timeout(
        Duration::from_secs(120),
        server
            .client
            .put(created["uploadUrl"].as_str().unwrap())
            .header(CONTENT_LENGTH, TOTAL)
            .body(reqwest::Body::wrap_stream(stream))
            .send(),
    )
    .await
    .expect("the 512 MiB PUT finishes within 120 s")
    .expect("the 512 MiB PUT")
    .status();
    let upload_time = began.elapsed();
    assert_eq!(status, StatusCode::OK, "PUT of 512 MiB");
    let sent = sent.lock().unwrap().value();
    assert_eq!(sent.0, TOTAL, "the test sent the wrong length");
    assert_uploaded(&server.by_external_ids(&["large"]).await[0]);
    let after_upload_kib = server.peak_rss_kib();

    let began = Instant::now();
    let url = server.download_url("large").await;
    let resp = server
        .client
        .get(&url)
        .send()
        .await
        .expect("GET downloadUrl");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.content_length(),
        Some(TOTAL),
        "Content-Length of the download"
    );
    let mut received = Digest::default();
    let mut body = resp.bytes_stream();
    let read = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(chunk) = body.next().await {
            received.update(&chunk.expect("the download streams"));
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the 512 MiB download did not finish within 120 s"
    );
    let download_time = began.elapsed();
    assert_eq!(
        received.value(),
        sent,
        "(length, CRC-32) downloaded vs sent"
    );

    let peak_kib = server.peak_rss_kib();
    println!(
        "cabinet peak RSS (VmHWM): {baseline_kib} KiB after start-up, {after_upload_kib} KiB after the \
         512 MiB upload ({upload_time:?}), {peak_kib} KiB after the download ({download_time:?})"
    );
    assert!(
        peak_kib < LIMIT_KIB,
        "the server's peak RSS reached {peak_kib} KiB ({:.1} MiB) moving 512 MiB (start-up: {baseline_kib} \
         KiB, after the upload: {after_upload_kib} KiB); the bound is {LIMIT_KIB} KiB",
        peak_kib as f64 / 1024.0
    );
    server.stop().await;
}

/// Every field of a file is bounded, so a page of 1000 files is: its JSON is at most 1000 times
/// `MAX_FILE_JSON_BYTES`, and the server's memory while it answers stays within `LIMIT_KIB`.
#[tokio::test]
async fn a_page_of_the_largest_files_stays_within_its_memory_bound() {
    /// The documented bound (docs/decisions.md) on the server's peak RSS while it serves such a page:
    /// about 125 MiB of records and 210 MiB of the database file mapped by SQLite were measured.
    const LIMIT_KIB: u64 = 400 * 1024;
    const FILES: usize = 1000;
    let _serial = SERIAL.lock().await;
    let root = tempfile::tempdir().unwrap();

    // All but one through the store, before the server starts (creating them over HTTP costs a debug build
    // half a minute); the last through the API, which must accept the largest legal file.
    let began = Instant::now();
    {
        use cabinet::store::{MetadataStore, NewSession};
        let store = cabinet::app::open_data_dir_metadata(&root.path().join("data")).unwrap();
        let project = cabinet::domain::ProjectName::parse(PROJECT).unwrap();
        let write: cabinet::api::model::FileWrite =
            serde_json::from_value(cabinet::domain::largest_file_body(0)).unwrap();
        let spec = cabinet::domain::FileSpec::try_from(write).unwrap();
        let creates = (1..FILES).map(|i| {
            let mut spec = spec.clone();
            let xid = spec.external_id.as_mut().unwrap();
            xid.replace_range(..6, &format!("{i:06}"));
            let session = NewSession {
                id: format!("s{i}"),
                parts: None,
                expires_time: i64::MAX,
            };
            let (store, project) = (&store, &project);
            async move { store.create_file(project, spec, false, session, 1).await }
        });
        for created in futures_util::future::join_all(creates).await {
            created.expect("a largest file, through the store");
        }
    }
    let server = Server::start(root.path()).await;
    let (status, body) = server
        .post("/files", cabinet::domain::largest_file_body(0))
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the largest legal file: {body}"
    );
    let create_time = began.elapsed();
    let before_kib = server.peak_rss_kib();

    let began = Instant::now();
    let resp = server
        .client
        .post(server.url("/files/list"))
        .bearer_auth("process-test-token")
        .json(&json!({ "limit": FILES }))
        .send()
        .await
        .expect("list");
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.bytes().await.expect("the page");
    let list_time = began.elapsed();
    let peak_kib = server.peak_rss_kib();
    let (anon_kib, file_kib) = (
        proc_status_kib(server.pid, "RssAnon:"),
        proc_status_kib(server.pid, "RssFile:"),
    );

    #[derive(serde::Deserialize)]
    struct Page {
        items: Vec<serde::de::IgnoredAny>,
    }
    let page: Page = serde_json::from_slice(&body).expect("a page");
    assert_eq!(page.items.len(), FILES);
    let bound = FILES * cabinet::domain::MAX_FILE_JSON_BYTES + 100;
    println!(
        "{FILES} largest files created in {create_time:?}; a page of them: {} bytes (bound {bound}) in \
         {list_time:?}; cabinet peak RSS (VmHWM) {before_kib} KiB before the list, {peak_kib} KiB after \
         (now {anon_kib} KiB anonymous, {file_kib} KiB file-backed: the database, mapped by SQLite)",
        body.len()
    );
    assert!(body.len() <= bound, "the page has {} bytes", body.len());
    assert!(
        peak_kib < LIMIT_KIB,
        "the server's peak RSS reached {peak_kib} KiB ({:.1} MiB) serving a page of {FILES} of the \
         largest files ({before_kib} KiB before); the bound is {LIMIT_KIB} KiB",
        peak_kib as f64 / 1024.0
    );
    server.stop().await;
}

#[tokio::test]
async fn answers_as_soon_as_it_says_it_listens() {
    let _serial = SERIAL.lock().await;
    let root = tempfile::tempdir().unwrap();

    let fresh = Server::start(root.path()).await;
    let fresh_time = fresh.started_in;
    // Ready means ready: the first request right after the line is answered.
    let (status, body) = fresh.post("/files/list", json!({ "limit": 1 })).await;
    assert_eq!(status, StatusCode::OK, "list right after start-up: {body}");
    for i in 0..20 {
        let created = fresh.create(&format!("f{i}"), false).await;
        let status = fresh
            .put(
                created["uploadUrl"].as_str().unwrap(),
                content(1000 + i, i as u64),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    fresh.stop().await;

    let existing = Server::start(root.path()).await;
    let existing_time = existing.started_in;
    let (status, body) = existing.post("/files/list", json!({ "limit": 1000 })).await;
    assert_eq!(status, StatusCode::OK, "list right after a restart: {body}");
    assert_eq!(body["items"].as_array().map(Vec::len), Some(20), "{body}");
    existing.stop().await;

    // Start-up time is a figure of the benchmark (cabinet-bench), not a timed assertion here: a busy
    // machine would make such a test flaky without telling anything about the server.
    println!("cabinet start-up: {fresh_time:?} on a fresh data dir, {existing_time:?} on an existing one");
}

// ---------------------------------------------------------------------------------------------------------
// Access configuration and the commands around it
// ---------------------------------------------------------------------------------------------------------

/// `cabinet` with `args`, without any `CABINET_*` variable of the environment the tests run in.
fn cabinet_command(args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cabinet"));
    command.args(args).env("NO_COLOR", "1");
    for (name, _) in std::env::vars() {
        if name.starts_with("CABINET_") {
            command.env_remove(name);
        }
    }
    command
}

#[tokio::test]
async fn open_mode_beyond_loopback_refuses_to_start() {
    let _serial = SERIAL.lock().await;
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let data_dir = data.clone();
    let output = tokio::task::spawn_blocking(move || {
        cabinet_command(&["serve", "--listen", "0.0.0.0:0", "--data-dir"])
            .arg(&data_dir)
            .stdin(std::process::Stdio::null())
            .output()
    })
    .await
    .unwrap()
    .expect("cabinet runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "it started: {stderr}");
    assert!(
        output.stdout.is_empty(),
        "it said it listens: {:?}",
        output.stdout
    );
    assert!(stderr.contains("refusing to serve"), "{stderr}");
    assert!(
        stderr.contains("--config FILE"),
        "the message says how to configure access: {stderr}"
    );
    assert!(stderr.contains("--open"), "{stderr}");
    assert!(!data.exists(), "a refused start created its data directory");
}

#[tokio::test]
async fn open_flag_serves_beyond_loopback_with_a_warning() {
    let _serial = SERIAL.lock().await;
    let root = tempfile::tempdir().unwrap();
    let log = root.path().join("server.log");
    let mut child = tokio::process::Command::from(cabinet_command(&[
        "serve",
        "--listen",
        "0.0.0.0:0",
        "--open",
        "--data-dir",
    ]))
    .arg(root.path().join("data"))
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::fs::File::create(&log).unwrap())
    .kill_on_drop(true)
    .spawn()
    .expect("cabinet starts");
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncBufReadExt::read_line(&mut stdout, &mut line),
    )
    .await
    .expect("a line within 10 s")
    .unwrap();
    let port: u16 = line
        .trim_end()
        .strip_prefix("cabinet listening on http://0.0.0.0:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "unexpected line {line:?}; log:\n{}",
                std::fs::read_to_string(&log).unwrap()
            )
        });
    // Reached over loopback: open mode, any token.
    let r = common::server::client()
        .post(format!(
            "http://127.0.0.1:{port}/api/v1/projects/{PROJECT}/files/list"
        ))
        .bearer_auth("anything")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("WARN") && logged.contains("open mode on an address other than loopback"),
        "no warning in the log:\n{logged}"
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn token_hash_prints_the_sha256_of_stdin() {
    use std::io::Write as _;
    let mut child = cabinet_command(&["token", "hash"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("cabinet runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"s3cret-token\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    // sha256("s3cret-token"), computed independently of cabinet.
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "a81e611a041b13f078bf8ebe5dab4d4fd63fcc5594661c918bec093a2f416a7e\n"
    );
}

/// A configuration with the process tests' project and token as a service token with full files access;
/// its `listen` is not loopback, so only the harness's `--listen` flag lets it start on loopback.
fn write_config(root: &Path) -> PathBuf {
    common::config::write_service_token_config(
        root,
        PROJECT,
        "process-test",
        "process-test-token",
        r#"listen = "0.0.0.0:8765""#,
    )
}

#[tokio::test]
async fn a_configured_server_accepts_its_service_token_only() {
    let _serial = SERIAL.lock().await;
    let root = tempfile::tempdir().unwrap();
    let config = write_config(root.path());
    let server =
        Server::start_with(root.path(), &["--config", config.to_str().unwrap()], None).await;
    let created = server.create("configured", false).await;
    let status = server
        .put(created["uploadUrl"].as_str().unwrap(), b"hello".to_vec())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(server.download("configured").await, b"hello");
    let r = server
        .client
        .post(server.url("/files/list"))
        .bearer_auth("another-token")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}

#[tokio::test]
async fn config_check_prints_what_it_understood_or_names_the_fault() {
    let root = tempfile::tempdir().unwrap();
    let config = write_config(root.path());
    let output = cabinet_command(&["config", "check", config.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for needle in [
        format!("project {PROJECT}"),
        "group admins".to_string(),
        "filesAcl READ,WRITE scope all".to_string(),
        "service token process-test".to_string(),
        "oidc: none".to_string(),
    ] {
        assert!(stdout.contains(&needle), "no {needle:?} in:\n{stdout}");
    }
    let bad = root.path().join("bad.toml");
    std::fs::write(&bad, "listen = \"127.0.0.1:1\"\nlisten_adress = \"x\"\n").unwrap();
    let output = cabinet_command(&["config", "check", bad.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("unknown field `listen_adress`"), "{stderr}");
}
