use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn parts_put_out_of_order_in_parallel_and_retried_assemble_in_url_order() {
    if !proxy_transfer_only(
        "multipart::parts_put_out_of_order_in_parallel_and_retried_assemble_in_url_order",
        "S3 requires every part but the last to be at least 5 MiB",
    ) {
        return;
    }
    let app = TestApp::spawn().await;
    let init = app
        .post(
            "/files/initmultipartupload?overwrite=false&parts=3",
            json!({"name": "big.bin", "externalId": "mp"}),
        )
        .await;
    assert_eq!(init.status, StatusCode::CREATED, "{init:?}");
    let f = init.body;
    assert_eq!(f["uploaded"], json!(false));
    let upload_id = f["uploadId"].as_str().unwrap().to_string();
    let urls: Vec<String> = f["uploadUrls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_string())
        .collect();
    assert_eq!(urls.len(), 3);

    let parts = [
        content(5 * MIB, 1),
        content(5 * MIB + 3, 2),
        content(1000, 3),
    ];
    // A first, wrong attempt at part 1 is replaced by its retry.
    assert_eq!(app.put(&urls[1], b"wrong".to_vec()).await, StatusCode::OK);
    let (a, b, c) = tokio::join!(
        app.put(&urls[2], parts[2].clone()),
        app.put(&urls[0], parts[0].clone()),
        app.put(&urls[1], parts[1].clone())
    );
    assert_eq!((a, b, c), (StatusCode::OK, StatusCode::OK, StatusCode::OK));

    let complete = json!({"id": f["id"], "uploadId": upload_id});
    let r = app
        .post("/files/completemultipartupload", complete.clone())
        .await;
    assert_eq!(r.status, StatusCode::OK, "exactly 200: {r:?}");
    assert_eq!(r.body, json!({}));
    let again = app.post("/files/completemultipartupload", complete).await;
    assert_eq!(
        (again.status, again.body),
        (StatusCode::OK, json!({})),
        "complete is idempotent"
    );

    let expected: Vec<u8> = parts.concat();
    assert_eq!(app.download(json!({"externalId": "mp"})).await, expected);
    let got = app.retrieve(json!({"externalId": "mp"})).await.body["items"][0].clone();
    assert_eq!(got["uploaded"], json!(true));
    assert!(got.get("uploadedTime").is_some());
    assert!(
        crate::stored::files_under(&app.dir.path().join("parts")).is_empty(),
        "parts are cleaned up"
    );
    // A part PUT after completion is refused.
    assert_error(
        &reply(app.client.put(&urls[0]).body("late").send().await.unwrap()).await,
        400,
    );
}

#[tokio::test]
async fn a_single_part_upload_may_be_tiny_or_empty() {
    let app = TestApp::spawn().await;
    for body in [b"x".to_vec(), vec![]] {
        let f = app
            .post("/files/initmultipartupload?parts=1", json!({"name": "one"}))
            .await
            .body;
        assert_eq!(
            app.put(f["uploadUrls"][0].as_str().unwrap(), body.clone())
                .await,
            StatusCode::OK
        );
        let r = app
            .post(
                "/files/completemultipartupload",
                json!({"id": f["id"], "uploadId": f["uploadId"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(app.download(json!({"id": f["id"]})).await, body);
    }
}

#[tokio::test]
async fn complete_refuses_missing_parts_small_parts_and_foreign_upload_ids() {
    if !proxy_transfer_only(
        "multipart::complete_refuses_missing_parts_small_parts_and_foreign_upload_ids",
        "it tests cabinet's own content URLs, which direct transfer replaces by S3's",
    ) {
        return;
    }
    let app = TestApp::spawn().await;
    let f = app
        .post(
            "/files/initmultipartupload?parts=2",
            json!({"name": "m", "externalId": "m"}),
        )
        .await
        .body;
    let complete = json!({"externalId": "m", "uploadId": f["uploadId"]});
    let r = app
        .post("/files/completemultipartupload", complete.clone())
        .await;
    assert!(assert_error(&r, 400)["message"]
        .as_str()
        .unwrap()
        .contains("0, 1"));

    app.put(f["uploadUrls"][1].as_str().unwrap(), b"tail".to_vec())
        .await;
    app.put(f["uploadUrls"][0].as_str().unwrap(), b"too small".to_vec())
        .await;
    let r = app
        .post("/files/completemultipartupload", complete.clone())
        .await;
    assert!(assert_error(&r, 400)["message"]
        .as_str()
        .unwrap()
        .contains("Part 0"));
    assert_eq!(
        app.retrieve(json!({"externalId": "m"})).await.body["items"][0]["uploaded"],
        json!(false)
    );

    let r = app
        .post(
            "/files/completemultipartupload",
            json!({"externalId": "m", "uploadId": "not-a-session"}),
        )
        .await;
    assert_error(&r, 400);
    let r = app
        .post("/files/completemultipartupload", json!({"externalId": "m"}))
        .await;
    assert_error(&r, 400);
    let r = app
        .post(
            "/files/completemultipartupload",
            json!({"externalId": "nope", "uploadId": f["uploadId"]}),
        )
        .await;
    assert_eq!(
        assert_error(&r, 400)["missing"],
        json!([{"externalId": "nope"}])
    );
    // A single-PUT session is not a multipart one.
    let single = app.create(json!({"name": "s"})).await;
    let session = single["uploadUrl"]
        .as_str()
        .unwrap()
        .split("/uploads/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let r = app
        .post(
            "/files/completemultipartupload",
            json!({"id": single["id"], "uploadId": session}),
        )
        .await;
    assert_error(&r, 400);
}

#[tokio::test]
async fn multiuploadlink_and_uploadlink_replace_content_of_an_existing_file() {
    let app = TestApp::spawn().await;
    let f = app
        .upload(json!({"name": "c", "externalId": "c"}), b"v1")
        .await;

    let r = app
        .post(
            "/files/multiuploadlink?parts=1",
            json!({"items": [{"externalId": "c"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let item = &r.body["items"][0];
    assert_eq!(item["id"], f["id"]);
    assert_eq!(
        app.download(json!({"id": f["id"]})).await,
        b"v1",
        "old content until complete"
    );
    app.put(item["uploadUrls"][0].as_str().unwrap(), b"v2".to_vec())
        .await;
    assert_eq!(
        app.download(json!({"id": f["id"]})).await,
        b"v1",
        "parts are not content yet"
    );
    let done = app
        .post(
            "/files/completemultipartupload",
            json!({"id": item["id"], "uploadId": item["uploadId"]}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(app.download(json!({"id": f["id"]})).await, b"v2");

    let r = app
        .post("/files/uploadlink", json!({"items": [{"externalId": "c"}]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["items"][0]["id"], f["id"]);
    app.put(
        r.body["items"][0]["uploadUrl"].as_str().unwrap(),
        b"v3".to_vec(),
    )
    .await;
    assert_eq!(app.download(json!({"id": f["id"]})).await, b"v3");

    let r = app
        .post(
            "/files/uploadlink",
            json!({"items": [{"externalId": "absent"}]}),
        )
        .await;
    assert_eq!(
        assert_error(&r, 400)["missing"],
        json!([{"externalId": "absent"}])
    );
    let r = app
        .post(
            "/files/uploadlink",
            json!({"items": [{"instanceId": {"space": "sp", "externalId": "n"}}]}),
        )
        .await;
    assert_eq!(
        assert_error(&r, 400)["missing"],
        json!([{"instanceId": {"space": "sp", "externalId": "n"}}])
    );
    let r = app
        .post(
            "/files/uploadlink",
            json!({"items": [{"externalId": "c"}, {"id": f["id"]}]}),
        )
        .await;
    assert_error(&r, 400);
    let r = app
        .post(
            "/files/multiuploadlink",
            json!({"items": [{"externalId": "c"}]}),
        )
        .await;
    assert_error(&r, 400);
}

#[tokio::test]
async fn downloadlink_echoes_only_the_identifier_form_sent() {
    if !proxy_transfer_only(
        "multipart::downloadlink_echoes_only_the_identifier_form_sent",
        "it tests cabinet's own content URLs, which direct transfer replaces by S3's",
    ) {
        return;
    }
    let app = TestApp::spawn().await;
    let f = app
        .upload(json!({"name": "d", "externalId": "dx"}), b"data")
        .await;
    let r = app
        .post(
            "/files/downloadlink",
            json!({"items": [{"externalId": "dx"}, {"id": f["id"]}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(
        items[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["downloadUrl", "externalId"]
    );
    assert_eq!(
        items[1].as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["downloadUrl", "id"]
    );
    let url = items[0]["downloadUrl"].as_str().unwrap();
    assert!(url.starts_with("http://"));
    let expires: i64 = url
        .split("expires=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let ttl = expires - cabinet::clock::now_ms();
    assert!((25_000..=30_000).contains(&ttl), "30 s links, got {ttl} ms");

    let r = app
        .post(
            "/files/downloadlink?extendedExpiration=true",
            json!({"items": [{"id": f["id"]}]}),
        )
        .await;
    let url = r.body["items"][0]["downloadUrl"].as_str().unwrap();
    let expires: i64 = url
        .split("expires=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        expires - cabinet::clock::now_ms() > 3_500_000,
        "1 h extended links"
    );

    let pending = app.create(json!({"name": "p", "externalId": "px"})).await;
    let r = app
        .post(
            "/files/downloadlink",
            json!({"items": [{"id": pending["id"]}]}),
        )
        .await;
    assert_error(&r, 400);
    let r = app
        .post("/files/downloadlink", json!({"items": [{"id": 5}]}))
        .await;
    assert_eq!(assert_error(&r, 400)["missing"], json!([{"id": 5}]));
    let many: Vec<_> = (1..=101).map(|i| json!({"id": i})).collect();
    assert_error(
        &app.post("/files/downloadlink", json!({"items": many}))
            .await,
        400,
    );
}
