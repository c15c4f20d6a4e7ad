//! Resource tests of the real `cabinet` binary: the open-files limit it runs with, and a crowd of stalled
//! transfers that must neither starve other clients nor outlive the guards. They measure the process
//! (its descriptors, its peak memory), so they run one at a time and apart from the in-process tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

mod common;
use common::server::Server;

/// Held by every test for its whole run.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Creates a file and returns its upload URL.
async fn upload_url(server: &Server, name: &str) -> String {
    server.create(name, false).await["uploadUrl"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The soft and hard open-files limits of this process.
fn nofile_limits() -> (u64, u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given, which lives for the call.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (limit.rlim_cur, limit.rlim_max)
}

/// The soft and hard limits in a `/proc/PID/limits` text; unlimited is `u64::MAX`, as `RLIM_INFINITY` is on
/// Linux.
fn max_open_files(limits: &str) -> (u64, u64) {
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_else(|| panic!("no open files line in {limits}"));
    let figure = |s: &str| {
        if s == "unlimited" {
            u64::MAX
        } else {
            s.parse().unwrap()
        }
    };
    let fields: Vec<&str> = line["Max open files".len()..].split_whitespace().collect();
    (figure(fields[0]), figure(fields[1]))
}

/// The path and query of a URL.
fn target(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.find('/').map_or("/", |i| &rest[i..])
}

#[tokio::test]
async fn the_open_files_limit_is_raised_to_the_hard_limit() {
    let _serial = SERIAL.lock().await;
    let (_, hard) = nofile_limits();
    let soft = (hard / 2).clamp(1, 512);
    let root = tempfile::tempdir().unwrap();
    let server = Server::start_with(root.path(), &[], Some((soft, hard))).await;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid)).unwrap();
    let (now_soft, now_hard) = max_open_files(&limits);
    assert_eq!(now_hard, hard, "{limits}");
    assert_eq!(
        now_soft, hard,
        "started under a soft limit of {soft}, the server runs with {now_soft}, not the hard limit {hard}"
    );
    assert!(
        server.logs().contains(&format!("raised from {soft} to")),
        "no log line about the limit:\n{}",
        server.logs()
    );
}

/// The scene in small: a server that may open 64 descriptors, and 100 connections that send
/// nothing. Accepting fails while they hold every descriptor; the server must neither spin nor stop, and
/// once the header timeout has cut them it must answer another client again.
#[tokio::test]
async fn a_flood_of_silent_connections_does_not_lock_others_out() {
    let _serial = SERIAL.lock().await;
    let root = tempfile::tempdir().unwrap();
    let server =
        Server::start_with(root.path(), &["--header-read-timeout", "2"], Some((64, 64))).await;
    let (status, _) = server.post("/files/list", json!({})).await;
    assert_eq!(status, StatusCode::OK);

    let mut flood = Vec::new();
    for _ in 0..100 {
        flood.push(TcpStream::connect(server.addr()).await.unwrap());
    }
    let began = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu_before = process_cpu_ticks(server.pid);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cpu_ticks = process_cpu_ticks(server.pid) - cpu_before;

    // A new client, so a new connection that has to be accepted.
    let other = reqwest::Client::builder().no_proxy().build().unwrap();
    let request = other
        .post(server.url("/files/list"))
        .bearer_auth("resource-test")
        .json(&json!({}))
        .send();
    let answered = tokio::time::timeout(Duration::from_secs(15), request).await;
    let response = answered.unwrap_or_else(|_| {
        panic!(
            "no answer {:?} after 100 silent connections took the server's descriptors",
            began.elapsed()
        )
    });
    assert_eq!(response.unwrap().status(), StatusCode::OK);
    let refusals = server.logs().matches("cannot accept a connection").count();
    assert!(
        refusals > 0,
        "the flood did not exhaust the server's descriptors: the test proves nothing"
    );
    // Out of descriptors, the loop backs off between attempts: a few a second, not thousands.
    let out_for = began.elapsed().as_secs_f64();
    assert!(
        refusals as f64 <= 20.0 * out_for,
        "{refusals} failed accepts in {out_for:.1} s: the accept loop spins"
    );
    // A spinning accept loop would take a whole core: 100 ticks a second.
    assert!(
        cpu_ticks < 50,
        "the server used {cpu_ticks} ticks of CPU in a second while out of descriptors"
    );
    println!(
        "under 64 descriptors and 100 silent connections: a new connection answered {:?} after the \
         flood began; {refusals} failed accepts, {cpu_ticks} CPU ticks in a second out of descriptors",
        began.elapsed()
    );
    drop(flood);
}

/// User plus system CPU time of a process, in clock ticks (`/proc/PID/stat` fields 14 and 15).
fn process_cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

const STALLED_UPLOADS: usize = 300;
const UNREAD_DOWNLOADS: usize = 300;
/// Each request of the other client must be answered within this.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// Hundreds of upload PUTs that send a little more than the packed store takes (so each holds a staging
/// file) and stop, and hundreds of downloads that are never read:
/// more than tokio's 512 blocking threads together, which is what used to exhaust the blocking pool and
/// hang every other client. Meanwhile another client lists, aggregates, creates and uploads, and each
/// request must be answered within [`ANSWER_WITHIN`]; then the guards must cut every stalled transfer
/// and the server must give its descriptors back.
#[tokio::test]
async fn stalled_transfers_do_not_starve_other_clients() {
    let _serial = SERIAL.lock().await;
    let _ = cabinet::server::rlimit::raise_open_files_limit();
    let (_, hard) = nofile_limits();
    assert!(
        hard >= 4096,
        "this test opens about 700 sockets and the server about 1300 descriptors: it needs a hard \
         open-files limit of at least 4096, and this machine's is {hard}"
    );
    let root = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        root.path(),
        &[
            "--body-idle-timeout",
            "10",
            "--write-stall-timeout",
            "10",
            "--max-uploads",
            "1000",
            "--max-downloads",
            "1000",
        ],
        None,
    )
    .await;
    let big_url = upload_url(&server, "big").await;
    assert_eq!(
        server.put(&big_url, vec![7u8; 16 << 20]).await,
        StatusCode::OK
    );
    let download = server.download_url("big").await;
    let upload = upload_url(&server, "target").await;
    let before_fds = server.open_fds();
    let began = Instant::now();

    let mut stalled: Vec<TcpStream> = Vec::new();
    for _ in 0..STALLED_UPLOADS {
        let mut s = TcpStream::connect(server.addr()).await.unwrap();
        let head = format!(
            "PUT {} HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n",
            target(&upload)
        );
        s.write_all(head.as_bytes()).await.unwrap();
        // More than the store packs in its database, so that the upload is staged in a file.
        s.write_all(&vec![b'x'; cabinet::blob::packed::PACKED_MAX + 1])
            .await
            .unwrap();
        stalled.push(s);
    }
    let mut unread: Vec<TcpStream> = Vec::new();
    for _ in 0..UNREAD_DOWNLOADS {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(64 * 1024).unwrap();
        let mut s = socket
            .connect(server.addr().parse().unwrap())
            .await
            .unwrap();
        let head = format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", target(&download));
        s.write_all(head.as_bytes()).await.unwrap();
        unread.push(s);
    }
    // Every stalled upload has its socket and its staging file, every download its socket.
    let mut peak_fds = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        peak_fds = peak_fds.max(server.open_fds());
        if server.staged() >= STALLED_UPLOADS
            && peak_fds >= before_fds + 2 * STALLED_UPLOADS + UNREAD_DOWNLOADS
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after 5 s the server has {} staging files and {peak_fds} descriptors ({before_fds} before)",
            server.staged(),
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let crowd_ready = began.elapsed();

    // The other client, while the crowd stalls.
    let mut slowest: Vec<(&str, Duration)> = Vec::new();
    for round in 0..3 {
        let t = Instant::now();
        let (status, body) = tokio::time::timeout(
            ANSWER_WITHIN,
            server.post("/files/list", json!({ "limit": 100 })),
        )
        .await
        .unwrap_or_else(|_| panic!("list did not answer within {ANSWER_WITHIN:?}"));
        assert_eq!(status, StatusCode::OK, "list: {body}");
        slowest.push(("list", t.elapsed()));

        let t = Instant::now();
        let (status, body) =
            tokio::time::timeout(ANSWER_WITHIN, server.post("/files/aggregate", json!({})))
                .await
                .unwrap_or_else(|_| panic!("aggregate did not answer within {ANSWER_WITHIN:?}"));
        assert_eq!(status, StatusCode::OK, "aggregate: {body}");
        slowest.push(("aggregate", t.elapsed()));

        let t = Instant::now();
        let url = tokio::time::timeout(
            ANSWER_WITHIN,
            upload_url(&server, &format!("other-{round}")),
        )
        .await
        .unwrap_or_else(|_| panic!("create did not answer within {ANSWER_WITHIN:?}"));
        slowest.push(("create", t.elapsed()));
        let t = Instant::now();
        let status = tokio::time::timeout(ANSWER_WITHIN, server.put(&url, vec![1u8; 64 * 1024]))
            .await
            .unwrap_or_else(|_| panic!("upload did not answer within {ANSWER_WITHIN:?}"));
        assert_eq!(status, StatusCode::OK, "upload");
        slowest.push(("upload", t.elapsed()));
        peak_fds = peak_fds.max(server.open_fds());
    }
    let served_at = began.elapsed();
    assert!(
        served_at < Duration::from_secs(10),
        "the other client's requests ended {served_at:?} after the crowd began, past the body \
         timeout: the test did not measure them under the crowd"
    );
    let (hwm, anon, file) = (
        server.status_kib("VmHWM:"),
        server.status_kib("RssAnon:"),
        server.status_kib("RssFile:"),
    );

    // The guards cut the whole crowd, and the server gives its descriptors and staging files back.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (fds, staged) = (server.open_fds(), server.staged());
        if staged == 0 && fds <= before_fds + 16 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{:?} after the crowd began, the server still holds {fds} descriptors ({before_fds} \
             before) and {staged} staging files",
            began.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let released_at = began.elapsed();
    drop((stalled, unread));

    let max = |name: &str| {
        slowest
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, d)| *d)
            .max()
            .unwrap_or_default()
    };
    println!(
        "{STALLED_UPLOADS} stalled uploads + {UNREAD_DOWNLOADS} unread downloads (in place after \
         {crowd_ready:?}): slowest list {:?}, aggregate {:?}, create {:?}, upload {:?}; peak open \
         descriptors {peak_fds} ({before_fds} before); RSS under the crowd {anon} KiB anonymous + {file} KiB \
         file-backed, peak VmHWM {hwm} KiB; all cut and released {released_at:?} after the crowd began",
        max("list"),
        max("aggregate"),
        max("create"),
        max("upload"),
    );
    assert!(
        anon < 256 * 1024,
        "the crowd took {anon} KiB of anonymous memory"
    );
}
