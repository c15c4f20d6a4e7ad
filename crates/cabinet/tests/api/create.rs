use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn create_returns_the_file_and_an_absolute_upload_url() {
    if !proxy_transfer_only(
        "create::create_returns_the_file_and_an_absolute_upload_url",
        "it tests cabinet's own content URLs, which direct transfer replaces by S3's",
    ) {
        return;
    }
    let app = TestApp::spawn().await;
    let body = json!({
        "name": "pump.pdf", "externalId": "doc-1", "mimeType": "application/pdf", "directory": "/docs",
        "source": "sap", "metadata": {"a": "1"}, "assetIds": [42, 7], "dataSetId": 9,
        "sourceCreatedTime": 1, "sourceModifiedTime": 2, "securityCategories": [3],
        "labels": [{"externalId": "L1"}],
        "geoLocation": {"type": "Feature", "geometry": {"type": "Point", "coordinates": [10.0, 59.0]}, "properties": {}}
    });
    let f = app.create(body.clone()).await;
    for key in [
        "name",
        "externalId",
        "mimeType",
        "directory",
        "source",
        "metadata",
        "assetIds",
        "dataSetId",
        "sourceCreatedTime",
        "sourceModifiedTime",
        "securityCategories",
        "labels",
        "geoLocation",
    ] {
        assert_eq!(f[key], body[key], "{key}");
    }
    assert_eq!(f["uploaded"], json!(false));
    assert!(f.get("uploadedTime").is_none());
    assert_eq!(f["createdTime"], f["lastUpdatedTime"]);
    let id = f["id"].as_i64().unwrap();
    assert!((1..=9_007_199_254_740_991).contains(&id));
    assert!(f["uploadUrl"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/", app.base)));
    assert!(!f["uploadUrl"].as_str().unwrap().contains("gcs_proxy"));

    let got = app.get(&format!("/files/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["externalId"], json!("doc-1"));
    assert!(got.body.get("uploadUrl").is_none());
}

#[tokio::test]
async fn the_js_sdk_path_with_a_trailing_slash_creates_too() {
    let app = TestApp::spawn().await;
    let r = app
        .post("/files/?overwrite=false", json!({"name": "a"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
}

#[tokio::test]
async fn ids_are_distinct_and_look_random() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            app.create(json!({"name": format!("f{i}")})).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len());
    assert_ne!(sorted, ids, "ids should not simply count up");
}

#[tokio::test]
async fn an_external_id_in_use_is_a_409_with_duplicated() {
    let app = TestApp::spawn().await;
    app.create(json!({"name": "a", "externalId": "same"})).await;
    let r = app
        .post(
            "/files?overwrite=false",
            json!({"name": "b", "externalId": "same"}),
        )
        .await;
    let e = assert_error(&r, 409);
    assert_eq!(e["duplicated"], json!([{"externalId": "same"}]));
}

#[tokio::test]
async fn overwrite_replaces_fields_keeps_identity_and_serves_old_content_until_new_upload() {
    let app = TestApp::spawn().await;
    let first = app
        .upload(json!({"name": "a.txt", "externalId": "ow", "source": "s1", "metadata": {"k": "1", "x": "2"}, "assetIds": [5]}), b"old")
        .await;
    let r = app
        .post(
            "/files?overwrite=true",
            json!({"name": "b.txt", "externalId": "ow", "metadata": {"k": "2"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let second = r.body;
    assert_eq!(second["id"], first["id"]);
    assert_eq!(second["createdTime"], first["createdTime"]);
    assert_eq!(second["name"], json!("b.txt"));
    assert_eq!(
        second["metadata"],
        json!({"k": "2"}),
        "metadata is replaced whole"
    );
    assert_eq!(
        second["assetIds"],
        json!([5]),
        "assetIds are kept when absent"
    );
    assert_eq!(second["source"], json!("s1"), "absent fields are kept");
    assert_eq!(
        second["uploaded"],
        json!(true),
        "the old content is still there"
    );

    assert_eq!(app.download(json!({"externalId": "ow"})).await, b"old");
    let before = app.retrieve(json!({"externalId": "ow"})).await.body["items"][0].clone();
    assert_eq!(
        app.put(
            second["uploadUrl"].as_str().unwrap(),
            b"new content".to_vec()
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        app.download(json!({"externalId": "ow"})).await,
        b"new content"
    );
    let after = app.retrieve(json!({"externalId": "ow"})).await.body["items"][0].clone();
    assert!(after["uploadedTime"].as_i64() >= before["uploadedTime"].as_i64());
}

#[tokio::test]
async fn overwrite_without_a_match_creates() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/files?overwrite=true",
            json!({"name": "n", "externalId": "fresh"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["uploaded"], json!(false));
}

#[tokio::test]
async fn every_limit_is_a_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let long = |n: usize| "x".repeat(n);
    let cases = vec![
        (json!({}), "name"),
        (json!({"name": long(257)}), "name"),
        (json!({"name": "a", "externalId": long(256)}), "externalId"),
        (json!({"name": "a", "directory": "relative"}), "directory"),
        (
            json!({"name": "a", "directory": format!("/{}", long(512))}),
            "directory",
        ),
        (json!({"name": "a", "source": long(129)}), "source"),
        (json!({"name": "a", "mimeType": long(257)}), "mimeType"),
        (
            json!({"name": "a", "metadata": {long(129): "v"}}),
            "metadata",
        ),
        (
            json!({"name": "a", "metadata": {"k": long(10_241)}}),
            "metadata",
        ),
        (
            json!({"name": "a", "metadata": (0..257).map(|i| (i.to_string(), "v".to_string())).collect::<std::collections::BTreeMap<_, _>>()}),
            "metadata",
        ),
        (
            json!({"name": "a", "metadata": {"a": long(6000), "b": long(6000)}}),
            "metadata",
        ),
        (json!({"name": "a", "assetIds": []}), "assetIds"),
        (json!({"name": "a", "assetIds": vec![1; 1001]}), "assetIds"),
        (json!({"name": "a", "assetIds": [0]}), "assetIds[0]"),
        (
            json!({"name": "a", "dataSetId": 9_007_199_254_740_992_i64}),
            "dataSetId",
        ),
        (
            json!({"name": "a", "sourceCreatedTime": -1}),
            "sourceCreatedTime",
        ),
        (
            json!({"name": "a", "sourceModifiedTime": -1}),
            "sourceModifiedTime",
        ),
        (
            json!({"name": "a", "securityCategories": vec![1; 101]}),
            "securityCategories",
        ),
        (
            json!({"name": "a", "labels": (0..11).map(|i| json!({"externalId": i.to_string()})).collect::<Vec<_>>()}),
            "labels",
        ),
        (
            json!({"name": "a", "labels": [{"externalId": "a"}, {"externalId": "a"}]}),
            "labels[1]",
        ),
        (
            json!({"name": "a", "geoLocation": {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1]}}}),
            "geoLocation.geometry.coordinates",
        ),
        (
            json!({"name": "a", "geoLocation": {"type": "Point", "coordinates": [1, 2]}}),
            "geoLocation",
        ),
        (json!({"name": "a", "unknownField": 1}), "unknownField"),
        (json!({"name": 5}), "name"),
    ];
    for (body, field) in cases {
        let r = app.post("/files", body.clone()).await;
        let e = assert_error(&r, 400);
        let message = e["message"].as_str().unwrap();
        assert!(
            message.contains(field),
            "message {message:?} should name {field} for {body}"
        );
    }
}

#[tokio::test]
async fn limits_themselves_are_accepted() {
    let app = TestApp::spawn().await;
    let r = app
        .post("/files", json!({
            "name": "n".repeat(256), "externalId": "x".repeat(255), "directory": format!("/{}", "d".repeat(511)),
            "source": "s".repeat(128), "mimeType": "m".repeat(256),
            "metadata": {"k".repeat(128): "v".repeat(10_240 - 128)},
            "assetIds": vec![9_007_199_254_740_991_i64; 1000], "securityCategories": vec![1; 100],
            "labels": (0..10).map(|i| json!({"externalId": i.to_string()})).collect::<Vec<_>>(),
            "id": 5, "uploaded": true, "createdTime": 1, "lastUpdatedTime": 1
        }))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_ne!(
        r.body["id"],
        json!(5),
        "read-only fields in a create body are ignored"
    );
    assert_eq!(r.body["uploaded"], json!(false));
}

#[tokio::test]
async fn projects_are_isolated() {
    let app = TestApp::spawn().await;
    let f = app
        .upload(json!({"name": "a", "externalId": "shared-x"}), b"1")
        .await;
    let mut other = TestApp {
        project: unique_project(),
        ..app
    };
    let r = other.retrieve(json!({"id": f["id"]})).await;
    assert_eq!(assert_error(&r, 400)["missing"], json!([{"id": f["id"]}]));
    let list = other.post("/files/list", json!({})).await;
    assert_eq!(list.body["items"], json!([]));
    // The same externalId is free in another project.
    other
        .create(json!({"name": "b", "externalId": "shared-x"}))
        .await;
    other.project = "bad_project!".into();
    assert_error(&other.get("/files").await, 400);
}
