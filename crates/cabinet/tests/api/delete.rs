use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::stored::stored_objects;

#[tokio::test]
async fn delete_removes_metadata_content_and_every_url() {
    if !crate::helpers::content_in_data_dir("delete_removes_metadata_content_and_every_url") {
        return;
    }
    let app = TestApp::spawn().await;
    let f = app
        .upload(json!({"name": "a", "externalId": "gone"}), b"bytes")
        .await;
    let download = app.download_url(json!({"id": f["id"]})).await;
    let pending = app
        .post(
            "/files/uploadlink",
            json!({"items": [{"externalId": "gone"}]}),
        )
        .await
        .body["items"][0]["uploadUrl"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(stored_objects(app.dir.path()).len(), 1);

    let r = app
        .post("/files/delete", json!({"items": [{"id": f["id"]}]}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({}));

    assert_error(&app.retrieve(json!({"id": f["id"]})).await, 400);
    assert_error(
        &reply(app.client.get(&download).send().await.unwrap()).await,
        404,
    );
    assert_error(
        &reply(app.client.put(&pending).body("again").send().await.unwrap()).await,
        404,
    );
    assert!(
        stored_objects(app.dir.path()).is_empty(),
        "content removed from disk"
    );
    // The externalId is free again, and the new file gets a new id.
    let again = app.create(json!({"name": "a", "externalId": "gone"})).await;
    assert_ne!(again["id"], f["id"]);
}

#[tokio::test]
async fn delete_is_all_or_nothing() {
    let app = TestApp::spawn().await;
    let f = app.create(json!({"name": "a", "externalId": "stay"})).await;
    let r = app
        .post(
            "/files/delete",
            json!({"items": [{"id": f["id"]}, {"externalId": "unknown"}, {"id": 3}]}),
        )
        .await;
    assert_eq!(
        assert_error(&r, 400)["missing"],
        json!([{"externalId": "unknown"}, {"id": 3}])
    );
    assert_eq!(
        app.retrieve(json!({"id": f["id"]})).await.status,
        StatusCode::OK,
        "nothing was deleted"
    );

    let r = app
        .post(
            "/files/delete",
            json!({"items": [{"externalId": "stay"}, {"id": 3}], "ignoreUnknownIds": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_error(&app.retrieve(json!({"id": f["id"]})).await, 400);
}

#[tokio::test]
async fn delete_refuses_instance_ids_and_repeats() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/files/delete",
            json!({"items": [{"instanceId": {"space": "s", "externalId": "x"}}]}),
        )
        .await;
    assert_error(&r, 400);
    let r = app
        .post("/files/delete", json!({"items": [{"id": 5}, {"id": 5}]}))
        .await;
    assert_eq!(assert_error(&r, 400)["duplicated"], json!([{"id": 5}]));
}

#[tokio::test]
async fn deleting_during_a_multipart_upload_stops_it() {
    if !proxy_transfer_only(
        "delete::deleting_during_a_multipart_upload_stops_it",
        "it tests cabinet's own content URLs, which direct transfer replaces by S3's",
    ) {
        return;
    }
    let app = TestApp::spawn().await;
    let init = app
        .post("/files/initmultipartupload?parts=1", json!({"name": "m"}))
        .await
        .body;
    let part = init["uploadUrls"][0].as_str().unwrap();
    assert_eq!(app.put(part, b"p".to_vec()).await, StatusCode::OK);
    app.post("/files/delete", json!({"items": [{"id": init["id"]}]}))
        .await;
    assert!(
        crate::stored::files_under(&app.dir.path().join("parts")).is_empty(),
        "staged parts removed"
    );
    assert_error(
        &reply(app.client.put(part).body("p").send().await.unwrap()).await,
        404,
    );
    let r = app
        .post(
            "/files/completemultipartupload",
            json!({"id": init["id"], "uploadId": init["uploadId"]}),
        )
        .await;
    assert_eq!(
        assert_error(&r, 400)["missing"],
        json!([{"id": init["id"]}])
    );
}
