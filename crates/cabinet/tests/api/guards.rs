//! The connection and transfer guards, with short figures: slow headers, idle connections, stalled and
//! slow bodies and unread downloads are cut; transfers over the cap are answered 503 with Retry-After.
//! Raw sockets play the misbehaving clients, since a well-behaved HTTP client cannot.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::*;

const SEC: Duration = Duration::from_secs(1);

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// The path and query of a URL the server handed out.
fn target(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.find('/').map_or("/", |i| &rest[i..])
}

/// Reads until the server closes the connection (or resets it); returns what came and when it ended.
/// Fails the test if the connection is still open after `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, Instant) {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let outcome = tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return Instant::now(),
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let closed = outcome.unwrap_or_else(|_| {
        panic!(
            "the server kept the connection open for {limit:?}; it sent {:?}",
            String::from_utf8_lossy(&got[..got.len().min(300)])
        )
    });
    (got, closed)
}

fn assert_between(elapsed: Duration, low: Duration, high: Duration, what: &str) {
    assert!(
        elapsed >= low && elapsed <= high,
        "{what} after {elapsed:?}, expected between {low:?} and {high:?}"
    );
}

#[tokio::test]
async fn a_connection_without_a_complete_request_header_is_cut_after_the_header_timeout() {
    let app = TestApp::spawn_with_guards(|g| {
        g.header_read_timeout = SEC;
        g.idle_timeout = 10 * SEC;
    })
    .await;
    let attempts: [(&str, &[u8]); 3] = [
        ("a silent connection", b""),
        (
            "half an HTTP/1.1 header",
            b"GET /api/v1/token/inspect HTTP/1.1\r\nHost: x\r\n",
        ),
        (
            "the HTTP/2 preface alone",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        ),
    ];
    for (what, sent) in attempts {
        let mut stream = connect(&app).await;
        let began = Instant::now();
        stream.write_all(sent).await.unwrap();
        let (got, closed) = read_until_closed(&mut stream, 5 * SEC).await;
        assert_between(closed - began, SEC - SEC / 10, 3 * SEC, what);
        assert!(
            !String::from_utf8_lossy(&got).contains("200 OK"),
            "{what}: answered {got:?}"
        );
    }
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_cut_after_the_idle_timeout() {
    let app = TestApp::spawn_with_guards(|g| {
        g.header_read_timeout = 10 * SEC;
        g.idle_timeout = SEC;
    })
    .await;
    let mut stream = connect(&app).await;
    stream
        .write_all(
            b"GET /api/v1/token/inspect HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n\r\n",
        )
        .await
        .unwrap();
    // The response arrives at once; then the connection idles until the server closes it.
    let mut first = vec![0u8; 1 << 16];
    let n = stream.read(&mut first).await.unwrap();
    let answered = Instant::now();
    assert!(
        first[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&first[..n])
    );
    let (_, closed) = read_until_closed(&mut stream, 5 * SEC).await;
    assert_between(
        closed - answered,
        SEC - SEC / 10,
        3 * SEC,
        "an idle connection closed",
    );
}

#[tokio::test]
async fn a_slow_but_steady_upload_is_not_cut_by_the_connection_timeouts() {
    let app = TestApp::spawn_with_guards(|g| {
        g.header_read_timeout = SEC;
        g.idle_timeout = SEC;
        g.body_idle_timeout = 2 * SEC;
        g.min_body_rate = 0;
    })
    .await;
    let f = app.create(json!({"name": "slow"})).await;
    // Eight pieces, 300 ms apart: 2.4 s in all, longer than the header and idle timeouts.
    let pieces = futures_util::stream::unfold(0u8, |i| async move {
        if i == 8 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        Some((Ok::<_, std::io::Error>(vec![b'a' + i]), i + 1))
    });
    let status = app
        .client
        .put(f["uploadUrl"].as_str().unwrap())
        .body(reqwest::Body::wrap_stream(pieces))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.download(json!({"id": f["id"]})).await, b"abcdefgh");
}

/// Sends a request head and one byte of its body, which then stalls, or trickles a byte every `trickle`;
/// returns the response and how long it took to come and the connection to close after it.
async fn request_with_a_bad_body(
    app: &TestApp,
    head: String,
    trickle: Option<Duration>,
) -> (String, Duration) {
    let mut stream = connect(app).await;
    let began = Instant::now();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(b"{").await.unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let read = tokio::time::timeout(10 * SEC, async {
        loop {
            tokio::select! {
                n = stream.read(&mut buf) => match n {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                },
                () = tokio::time::sleep(trickle.unwrap_or(10 * SEC)), if trickle.is_some() => {
                    let _ = stream.write_all(b" ").await;
                }
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "no answer within 10 s; got {:?}",
        String::from_utf8_lossy(&got)
    );
    (String::from_utf8_lossy(&got).into_owned(), began.elapsed())
}

#[tokio::test]
async fn a_stalled_request_body_is_cut_and_an_upload_leaves_nothing_behind() {
    if !crate::helpers::content_in_data_dir(
        "a_stalled_request_body_is_cut_and_an_upload_leaves_nothing_behind",
    ) {
        return;
    }
    let app = TestApp::spawn_with_guards(|g| g.body_idle_timeout = SEC).await;
    let f = app.create(json!({"name": "stalled"})).await;
    let upload = target(f["uploadUrl"].as_str().unwrap()).to_string();
    let list = format!("/api/v1/projects/{}/files/list", app.project);
    let heads = [
        (
            "an upload",
            format!("PUT {upload} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"),
        ),
        (
            "a JSON request",
            format!(
                "POST {list} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n\
                 Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            ),
        ),
    ];
    for (what, head) in heads {
        let (response, took) = request_with_a_bad_body(&app, head, None).await;
        assert!(response.starts_with("HTTP/1.1 400"), "{what}: {response:?}");
        assert!(response.contains("stalled"), "{what}: {response:?}");
        assert_between(took, SEC - SEC / 10, 4 * SEC, what);
    }
    let staging = app.dir.path().join("staging");
    let left: Vec<_> = std::fs::read_dir(&staging).unwrap().collect();
    assert!(left.is_empty(), "staging holds {left:?}");
    let file = app.retrieve(json!({"id": f["id"]})).await.body["items"][0].clone();
    assert_eq!(file["uploaded"], json!(false), "{file}");
}

#[tokio::test]
async fn an_upload_below_the_minimum_rate_is_cut() {
    if !proxy_transfer_only("guards::an_upload_below_the_minimum_rate_is_cut", "it tests the transfer guards of cabinet's content endpoints, which direct transfer bypasses") {
        return;
    }
    let app = TestApp::spawn_with_guards(|g| {
        g.body_idle_timeout = SEC;
        g.min_body_rate = 1000;
    })
    .await;
    let f = app.create(json!({"name": "slow"})).await;
    let upload = target(f["uploadUrl"].as_str().unwrap()).to_string();
    // A byte every 200 ms never stalls for the idle timeout, but is far below 1000 bytes/s.
    let head = format!("PUT {upload} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
    let (response, took) =
        request_with_a_bad_body(&app, head, Some(Duration::from_millis(200))).await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response:?}");
    assert!(response.contains("too slow"), "{response:?}");
    assert_between(took, SEC - SEC / 10, 4 * SEC, "the slow upload was cut");
}

#[tokio::test]
async fn uploads_over_the_cap_are_answered_503_with_retry_after() {
    if !proxy_transfer_only("guards::uploads_over_the_cap_are_answered_503_with_retry_after", "it tests the transfer guards of cabinet's content endpoints, which direct transfer bypasses") {
        return;
    }
    let app = TestApp::spawn_with_guards(|g| {
        g.max_uploads = 1;
        g.body_idle_timeout = 30 * SEC;
    })
    .await;
    let f = app.create(json!({"name": "capped"})).await;
    let url = f["uploadUrl"].as_str().unwrap();
    // One upload in progress, stalled, holds the only slot.
    let mut stalled = connect(&app).await;
    let head = format!(
        "PUT {} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc",
        target(url)
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let r = reply(app.client.put(url).body("hello").send().await.unwrap()).await;
    let error = assert_error(&r, 503);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("limit of 1 concurrent uploads"),
        "{r:?}"
    );
    let retry_after: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=5).contains(&retry_after), "Retry-After: {retry_after}");

    // The stalled client goes away; its slot is free again.
    drop(stalled);
    let deadline = Instant::now() + 5 * SEC;
    loop {
        let status = app.put(url, b"hello".to_vec()).await;
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(Instant::now() < deadline, "the slot was not freed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.download(json!({"id": f["id"]})).await, b"hello");
}

#[tokio::test]
async fn an_unread_download_is_cut_after_the_write_stall_timeout_and_frees_its_slot() {
    if !proxy_transfer_only("guards::an_unread_download_is_cut_after_the_write_stall_timeout_and_frees_its_slot", "it tests the transfer guards of cabinet's content endpoints, which direct transfer bypasses") {
        return;
    }
    let app = TestApp::spawn_with_guards(|g| {
        g.max_downloads = 1;
        g.write_stall_timeout = SEC;
    })
    .await;
    let size = 16 << 20;
    let body = content(size, 7);
    app.upload(json!({"name": "big", "externalId": "big"}), &body)
        .await;
    let url = app.download_url(json!({"externalId": "big"})).await;

    // A client that asks for the content and never reads it, with a small receive buffer.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    let addr = app.base.trim_start_matches("http://").parse().unwrap();
    let mut unread = socket.connect(addr).await.unwrap();
    let head = format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", target(&url));
    unread.write_all(head.as_bytes()).await.unwrap();
    let began = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // It holds the only download slot.
    let r = reply(app.client.get(&url).send().await.unwrap()).await;
    assert_error(&r, 503);
    assert!(r.headers.contains_key("retry-after"), "{r:?}");

    // After the write-stall timeout the server has given up on it: what it sent ends short.
    tokio::time::sleep(3 * SEC).await;
    let (got, _) = read_until_closed(&mut unread, 5 * SEC).await;
    assert!(
        got.len() < size,
        "the unread download was not cut: {} bytes arrived after {:?}",
        got.len(),
        began.elapsed()
    );

    // And its slot is free again.
    let resp = app.client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.bytes().await.unwrap() == body);
}

#[tokio::test]
async fn an_http2_download_without_flow_control_window_is_cut_and_frees_its_slot() {
    if !proxy_transfer_only("guards::an_http2_download_without_flow_control_window_is_cut_and_frees_its_slot", "it tests the transfer guards of cabinet's content endpoints, which direct transfer bypasses") {
        return;
    }
    let app = TestApp::spawn_with_guards(|g| {
        g.max_downloads = 1;
        g.write_stall_timeout = SEC;
    })
    .await;
    let body = content(4 << 20, 9);
    app.upload(json!({"name": "big", "externalId": "big"}), &body)
        .await;
    let url = app.download_url(json!({"externalId": "big"})).await;

    // An HTTP/2 client that takes the first frame and never grants the server more window: no socket
    // write ever blocks, the server simply may not send.
    let (mut h2, connection) = h2::client::handshake(connect(&app).await).await.unwrap();
    let connection = tokio::spawn(connection);
    let request = axum::http::Request::get(&url).body(()).unwrap();
    let (response, _) = h2.send_request(request, true).unwrap();
    let response = response.await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut data = response.into_body();
    let first = data.data().await.unwrap().unwrap();
    assert!(first.len() < body.len());
    let began = Instant::now();

    // It holds the only download slot.
    let r = reply(app.client.get(&url).send().await.unwrap()).await;
    assert_error(&r, 503);

    // After the write-stall timeout the server closes the connection.
    let closed = tokio::time::timeout(5 * SEC, connection).await;
    assert!(
        closed.is_ok(),
        "the server kept the stalled HTTP/2 download for {:?}",
        began.elapsed()
    );
    assert_between(
        began.elapsed(),
        SEC - SEC / 10,
        3 * SEC,
        "the stalled HTTP/2 download was cut",
    );

    // And its slot is free again.
    let resp = app.client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.bytes().await.unwrap() == body);
}
