use futures_util::stream;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_put_marks_the_file_uploaded_as_soon_as_it_returns() {
    let app = TestApp::spawn().await;
    let f = app
        .create(json!({"name": "a.txt", "externalId": "a", "mimeType": "text/plain"}))
        .await;
    assert_eq!(
        app.put(f["uploadUrl"].as_str().unwrap(), b"hello".to_vec())
            .await,
        StatusCode::OK
    );
    let got = app.retrieve(json!({"id": f["id"]})).await.body["items"][0].clone();
    assert_eq!(got["uploaded"], json!(true));
    assert!(got["uploadedTime"].as_i64().unwrap() >= f["createdTime"].as_i64().unwrap());
    assert!(got["lastUpdatedTime"].as_i64().unwrap() >= got["uploadedTime"].as_i64().unwrap());
    assert_eq!(app.download(json!({"externalId": "a"})).await, b"hello");
}

#[tokio::test]
async fn a_put_accepts_chunked_bodies_any_content_type_empty_bodies_and_a_token() {
    let app = TestApp::spawn().await;
    // Chunked, no Content-Length.
    let f = app.create(json!({"name": "chunked"})).await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        vec![Ok(b"ab".to_vec()), Ok(b"cd".to_vec()), Ok(b"e".to_vec())];
    let r = app
        .client
        .put(f["uploadUrl"].as_str().unwrap())
        .body(reqwest::Body::wrap_stream(stream::iter(chunks)))
        .header("content-type", "application/json")
        .bearer_auth("any-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("transfer-encoding").is_none());
    assert_eq!(app.download(json!({"id": f["id"]})).await, b"abcde");

    // Empty body.
    let e = app.create(json!({"name": "empty"})).await;
    assert_eq!(
        app.put(e["uploadUrl"].as_str().unwrap(), vec![]).await,
        StatusCode::OK
    );
    let got = app.retrieve(json!({"id": e["id"]})).await.body["items"][0].clone();
    assert_eq!(got["uploaded"], json!(true));
    assert_eq!(app.download(json!({"id": e["id"]})).await, b"");
}

#[tokio::test]
async fn repeated_puts_to_one_url_last_write_wins() {
    let app = TestApp::spawn().await;
    let f = app.create(json!({"name": "a"})).await;
    let url = f["uploadUrl"].as_str().unwrap();
    assert_eq!(app.put(url, b"one".to_vec()).await, StatusCode::OK);
    assert_eq!(app.put(url, b"two".to_vec()).await, StatusCode::OK);
    assert_eq!(app.download(json!({"id": f["id"]})).await, b"two");
    // Only the current content is kept on disk (with content on S3, the contract tests check deletes).
    if !content_on_s3() {
        let stored = crate::stored::stored_objects(app.dir.path());
        assert_eq!(stored.len(), 1, "{stored:?}");
    }
}

#[tokio::test]
async fn an_interrupted_upload_changes_nothing() {
    let app = TestApp::spawn().await;
    let f = app
        .upload(json!({"name": "a", "externalId": "keep"}), b"original")
        .await;
    let again = app
        .post(
            "/files?overwrite=true",
            json!({"name": "a", "externalId": "keep"}),
        )
        .await
        .body;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
        Ok(vec![1u8; 100_000]),
        Err(std::io::Error::other("client gave up")),
    ];
    let sent = app
        .client
        .put(again["uploadUrl"].as_str().unwrap())
        .body(reqwest::Body::wrap_stream(stream::iter(chunks)))
        .send()
        .await;
    assert!(sent.is_err() || !sent.unwrap().status().is_success());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(app.download(json!({"id": f["id"]})).await, b"original");
    assert!(
        crate::stored::files_under(&app.dir.path().join("staging")).is_empty(),
        "staging is cleaned up"
    );
}

#[tokio::test]
async fn a_body_over_the_declared_limit_is_a_413_before_reading_it() {
    let app = TestApp::spawn().await;
    let f = app.create(json!({"name": "big"})).await;
    let r = app
        .client
        .put(f["uploadUrl"].as_str().unwrap())
        .header("content-length", "5000000001")
        .body(reqwest::Body::wrap_stream(stream::iter(vec![Ok::<
            _,
            std::io::Error,
        >(
            vec![0u8; 10],
        )])))
        .send()
        .await;
    if let Ok(r) = r {
        assert_error(&reply(r).await, 413);
    }
    let got = app.retrieve(json!({"id": f["id"]})).await.body["items"][0].clone();
    assert_eq!(got["uploaded"], json!(false));
}

#[tokio::test]
async fn tampered_and_expired_urls_are_403() {
    if !proxy_transfer_only(
        "content::tampered_and_expired_urls_are_403",
        "it tests cabinet's own content URLs, which direct transfer replaces by S3's",
    ) {
        return;
    }
    let app = TestApp::spawn().await;
    let f = app.upload(json!({"name": "a"}), b"x").await;
    let url = f["uploadUrl"].as_str().unwrap();
    let tampered = url.replace("expires=", "expires=9");
    assert_error(
        &reply(app.client.put(&tampered).body("y").send().await.unwrap()).await,
        403,
    );
    let other_file = url.replace(&format!("/files/{}/", f["id"]), "/files/12345/");
    assert_error(
        &reply(app.client.put(&other_file).body("y").send().await.unwrap()).await,
        403,
    );

    // An expired URL signed with the server's own key.
    let secret = app.secret().await;
    let signer = cabinet::signing::UrlSigner::new(&secret, &app.base);
    let grant = cabinet::signing::Grant::Download {
        project: app.project.clone(),
        file_id: f["id"].as_i64().unwrap(),
    };
    let expired = signer.url(&grant, cabinet::clock::now_ms() - 1000);
    let e = assert_error(
        &reply(app.client.get(&expired).send().await.unwrap()).await,
        403,
    );
    assert!(e["message"].as_str().unwrap().contains("expired"));
    let fresh = signer.url(&grant, cabinet::clock::now_ms() + 10_000);
    assert_eq!(
        app.client.get(&fresh).send().await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn downloads_carry_type_length_etag_and_serve_ranges() {
    if !proxy_transfer_only(
        "content::downloads_carry_type_length_etag_and_serve_ranges",
        "it tests cabinet's own content URLs, which direct transfer replaces by S3's",
    ) {
        return;
    }
    let app = TestApp::spawn().await;
    let body = content(10_000, 3);
    let f = app
        .upload(json!({"name": "d.csv", "mimeType": "text/csv"}), &body)
        .await;
    let url = app.download_url(json!({"id": f["id"]})).await;

    let full = app.client.get(&url).send().await.unwrap();
    assert_eq!(full.status(), StatusCode::OK);
    assert_eq!(full.headers()["content-type"], "text/csv");
    assert_eq!(full.headers()["content-length"], "10000");
    assert_eq!(full.headers()["accept-ranges"], "bytes");
    let etag = full.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'));
    assert_eq!(full.bytes().await.unwrap().to_vec(), body);

    let part = app
        .client
        .get(&url)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers()["content-range"], "bytes 100-199/10000");
    assert_eq!(part.bytes().await.unwrap().to_vec(), body[100..200]);

    let tail = app
        .client
        .get(&url)
        .header("range", "bytes=-10")
        .send()
        .await
        .unwrap();
    assert_eq!(tail.bytes().await.unwrap().to_vec(), body[9990..]);

    let r = reply(
        app.client
            .get(&url)
            .header("range", "bytes=20000-")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&r, 416);
    assert_eq!(r.headers["content-range"], "bytes */10000");

    let not_modified = app
        .client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);

    let head = app.client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["content-length"], "10000");
}

#[tokio::test]
async fn a_new_upload_gives_a_new_etag() {
    if !proxy_transfer_only(
        "content::a_new_upload_gives_a_new_etag",
        "S3's ETag is the content's MD5, the same for the same bytes",
    ) {
        return;
    }
    let app = TestApp::spawn().await;
    let f = app
        .upload(json!({"name": "a", "externalId": "e"}), b"1")
        .await;
    let url = app.download_url(json!({"id": f["id"]})).await;
    let first = app.client.get(&url).send().await.unwrap().headers()["etag"].clone();
    let again = app
        .post("/files/uploadlink", json!({"items": [{"id": f["id"]}]}))
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{again:?}");
    app.put(
        again.body["items"][0]["uploadUrl"].as_str().unwrap(),
        b"2".to_vec(),
    )
    .await;
    let second = app.client.get(&url).send().await.unwrap().headers()["etag"].clone();
    assert_ne!(first, second);
}

/// A download larger than one read window (512 KiB), whole and by a range that starts off a page boundary
/// and crosses two windows, comes back byte for byte.
#[tokio::test]
async fn large_downloads_and_ranges_across_windows_are_exact() {
    let app = TestApp::spawn().await;
    let body = content(1_300_001, 7);
    let f = app.upload(json!({"name": "big.bin"}), &body).await;
    let url = app.download_url(json!({"id": f["id"]})).await;

    let full = app.client.get(&url).send().await.unwrap();
    assert_eq!(full.status(), StatusCode::OK);
    assert_eq!(full.bytes().await.unwrap().to_vec(), body);

    let part = app
        .client
        .get(&url)
        .header("range", "bytes=4097-1100000")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.unwrap().to_vec(), body[4097..=1_100_000]);

    let tail = app
        .client
        .get(&url)
        .header("range", "bytes=-3")
        .send()
        .await
        .unwrap();
    assert_eq!(tail.bytes().await.unwrap().to_vec(), body[1_299_998..]);
}
