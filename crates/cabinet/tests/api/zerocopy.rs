//! Downloads over the zero-copy path (`sendfile` from the content file): the bytes, ranges and headers
//! are those of any download, over HTTP/1.1 and HTTP/2, and with content in the data directory the
//! bytes really went by `sendfile`. On S3 the same requests check that its own get path is unaffected.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// Whether this run serves content from the data directory through cabinet's own URLs: only then do
/// downloads take the zero-copy path.
fn served_from_disk() -> bool {
    !content_on_s3() && !direct_transfer()
}

#[tokio::test]
async fn multi_mib_downloads_whole_and_by_range_are_exact_and_go_by_sendfile() {
    let app = TestApp::spawn().await;
    // Several windows of 512 KiB and a tail that is not a whole page.
    let body = content(5 * 1024 * 1024 + 12_345, 14);
    let f = app.upload(json!({"name": "big.bin"}), &body).await;
    let url = app.download_url(json!({"id": f["id"]})).await;
    let before = cabinet::zerocopy::sent_bytes();

    let full = app.client.get(&url).send().await.unwrap();
    assert_eq!(full.status(), StatusCode::OK);
    let length = full.headers()["content-length"]
        .to_str()
        .unwrap()
        .to_string();
    let etag = full.headers().get("etag").cloned();
    assert_eq!(length, body.len().to_string());
    assert!(
        full.bytes().await.unwrap() == body,
        "the whole body differs"
    );

    // A range that starts off a page boundary and crosses several windows.
    let (first, last) = (524_287usize, 3 * 1024 * 1024 + 4_099);
    let part = app
        .client
        .get(&url)
        .header("range", format!("bytes={first}-{last}"))
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()["content-range"].to_str().unwrap(),
        format!("bytes {first}-{last}/{}", body.len())
    );
    assert_eq!(part.headers().get("etag"), etag.as_ref());
    assert!(
        part.bytes().await.unwrap() == body[first..=last],
        "the range differs"
    );

    // The last bytes, by a suffix range.
    let tail = app
        .client
        .get(&url)
        .header("range", "bytes=-70000")
        .send()
        .await
        .unwrap();
    assert_eq!(tail.status(), StatusCode::PARTIAL_CONTENT);
    assert!(tail.bytes().await.unwrap() == body[body.len() - 70_000..]);

    if served_from_disk() {
        // Other tests in this process may send too, so the count can only be at least ours.
        let ours = (body.len() + (last - first + 1) + 70_000) as u64;
        let sent = cabinet::zerocopy::sent_bytes() - before;
        assert!(
            sent >= ours,
            "{sent} bytes went by sendfile, fewer than the {ours} downloaded"
        );
    }
}

/// Over HTTP/2 the frames carry slices of the same windows; a whole download and a range come back
/// exact.
#[tokio::test]
async fn http2_downloads_whole_and_by_range_are_exact() {
    if direct_transfer() {
        eprintln!("zerocopy::http2_downloads_whole_and_by_range_are_exact: skipped with direct transfer: it talks HTTP/2 to cabinet's own URLs");
        return;
    }
    let app = TestApp::spawn().await;
    let body = content(3 * 1024 * 1024 + 5, 15);
    let f = app.upload(json!({"name": "h2.bin"}), &body).await;
    let url = app.download_url(json!({"id": f["id"]})).await;

    let socket = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let (h2, connection) = h2::client::handshake(socket).await.unwrap();
    let connection = tokio::spawn(connection);
    let downloads = async {
        for (range, expected) in [
            (None, &body[..]),
            (Some("bytes=1000-2500000"), &body[1000..=2_500_000]),
        ] {
            let mut request = axum::http::Request::get(&url);
            if let Some(range) = range {
                request = request.header("range", range);
            }
            let mut h2 = h2.clone().ready().await.unwrap();
            let (response, _) = h2.send_request(request.body(()).unwrap(), true).unwrap();
            let response = response.await.unwrap();
            assert!(response.status().is_success(), "{}", response.status());
            let mut data = response.into_body();
            let mut got = Vec::new();
            while let Some(chunk) = data.data().await {
                let chunk = chunk.unwrap();
                data.flow_control().release_capacity(chunk.len()).unwrap();
                got.extend_from_slice(&chunk);
            }
            assert!(got == expected, "{range:?}: the body differs");
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), downloads)
        .await
        .expect("the HTTP/2 downloads took over a minute");
    drop(h2);
    connection.abort();
}
