use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn byids_answers_in_request_order_and_reports_missing_in_the_client_form() {
    let app = TestApp::spawn().await;
    let a = app.create(json!({"name": "a", "externalId": "xa"})).await;
    let b = app.create(json!({"name": "b", "externalId": "xb"})).await;
    let r = app
        .post(
            "/files/byids",
            json!({"items": [{"externalId": "xb"}, {"id": a["id"]}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let names: Vec<_> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("b"), json!("a")]);

    let r = app
        .post("/files/byids", json!({"items": [{"id": 1}, {"externalId": "nope"}, {"id": b["id"]}, {"instanceId": {"space": "s", "externalId": "x"}}]}))
        .await;
    let e = assert_error(&r, 400);
    assert_eq!(
        e["missing"],
        json!([{"id": 1}, {"externalId": "nope"}, {"instanceId": {"space": "s", "externalId": "x"}}])
    );

    let r = app
        .post(
            "/files/byids",
            json!({"items": [{"id": 1}, {"id": b["id"]}], "ignoreUnknownIds": true}),
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["items"][0]["id"], b["id"]);

    let r = app
        .post(
            "/files/byids",
            json!({"items": [{"id": 1}], "ignoreUnknownIds": true}),
        )
        .await;
    assert_eq!(r.body, json!({"items": []}));
}

#[tokio::test]
async fn one_file_named_in_two_forms_comes_back_twice_but_the_same_identifier_twice_is_a_400() {
    let app = TestApp::spawn().await;
    let a = app.create(json!({"name": "a", "externalId": "xa"})).await;
    let r = app
        .post(
            "/files/byids",
            json!({"items": [{"id": a["id"]}, {"externalId": "xa"}]}),
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    let r = app
        .post(
            "/files/byids",
            json!({"items": [{"externalId": "xa"}, {"externalId": "xa"}]}),
        )
        .await;
    assert_eq!(
        assert_error(&r, 400)["duplicated"],
        json!([{"externalId": "xa"}])
    );
}

#[tokio::test]
async fn byids_item_count_and_shape_are_checked() {
    let app = TestApp::spawn().await;
    assert_error(&app.post("/files/byids", json!({"items": []})).await, 400);
    let many: Vec<_> = (1..=1001).map(|i| json!({"id": i})).collect();
    assert_error(&app.post("/files/byids", json!({"items": many})).await, 400);
    let r = app
        .post(
            "/files/byids",
            json!({"items": [{"id": 1, "externalId": "a"}]}),
        )
        .await;
    assert!(assert_error(&r, 400)["message"]
        .as_str()
        .unwrap()
        .contains("items[0]"));
    assert_error(
        &app.post("/files/byids", json!({"items": [{"id": 0}]}))
            .await,
        400,
    );
    assert_error(
        &app.post("/files/byids", json!({"items": [{"externalId": ""}]}))
            .await,
        400,
    );
}

#[tokio::test]
async fn get_by_id_reports_an_unknown_id_as_missing() {
    let app = TestApp::spawn().await;
    let r = app.get("/files/77").await;
    assert_eq!(assert_error(&r, 400)["missing"], json!([{"id": 77}]));
}
