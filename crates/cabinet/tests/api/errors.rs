use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_request_without_a_token_is_a_401_envelope() {
    let app = TestApp::spawn().await;
    let r = reply(
        app.client
            .post(app.url("/files/list"))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&r, 401);
    let r = reply(
        app.client
            .get(app.url("/files"))
            .header("authorization", "Basic abc")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&r, 401);
}

#[tokio::test]
async fn unknown_routes_and_methods_get_envelopes() {
    let app = TestApp::spawn().await;
    assert_error(&app.post("/nothing-here", json!({})).await, 404);
    assert_error(
        &reply(
            app.client
                .get(format!("{}/elsewhere", app.base))
                .send()
                .await
                .unwrap(),
        )
        .await,
        404,
    );
    assert_error(
        &app.call(reqwest::Method::DELETE, "/files/list", None).await,
        405,
    );
    assert_error(&app.call(reqwest::Method::PUT, "/files", None).await, 405);
}

#[tokio::test]
async fn malformed_json_is_a_400() {
    let app = TestApp::spawn().await;
    for body in ["{", "[1,2]", "", "{\"name\": \"a\"} trailing", "null"] {
        let r = reply(
            app.client
                .post(app.url("/files"))
                .bearer_auth("t")
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_error(&r, 400);
    }
}

#[tokio::test]
async fn gzip_request_bodies_are_inflated() {
    let app = TestApp::spawn().await;
    let body = serde_json::to_vec(&json!({"name": "zipped.txt", "externalId": "gz"})).unwrap();
    let r = reply(
        app.client
            .post(app.url("/files?overwrite=false"))
            .bearer_auth("t")
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(gzip(&body))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(r.body["externalId"], json!("gz"));

    let broken = reply(
        app.client
            .post(app.url("/files"))
            .bearer_auth("t")
            .header("content-encoding", "gzip")
            .body("not gzip at all")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&broken, 400);
}

#[tokio::test]
async fn an_oversized_json_body_is_a_413() {
    let app = TestApp::spawn().await;
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(40 * 1024 * 1024));
    let r = reply(
        app.client
            .post(app.url("/files"))
            .bearer_auth("t")
            .header("content-type", "application/json")
            .body(huge)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&r, 413);
}

#[tokio::test]
async fn every_response_has_a_request_id() {
    let app = TestApp::spawn().await;
    let ok = app.post("/files/list", json!({})).await;
    assert_eq!(ok.status, StatusCode::OK);
    let a = ok.headers["x-request-id"].to_str().unwrap().to_string();
    let b = app.post("/files/list", json!({})).await.headers["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_ne!(a, b);
    let put = app
        .client
        .put(format!(
            "{}/blob/v1/{}/files/1/uploads/x?expires=1&signature=AA",
            app.base, app.project
        ))
        .send()
        .await
        .unwrap();
    assert!(put.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn bad_query_parameters_are_400() {
    let app = TestApp::spawn().await;
    assert_error(
        &app.post("/files?overwrite=maybe", json!({"name": "a"}))
            .await,
        400,
    );
    assert_error(
        &app.post("/files/initmultipartupload?parts=0", json!({"name": "a"}))
            .await,
        400,
    );
    assert_error(
        &app.post("/files/initmultipartupload?parts=251", json!({"name": "a"}))
            .await,
        400,
    );
    assert_error(
        &app.post("/files/initmultipartupload", json!({"name": "a"}))
            .await,
        400,
    );
    assert_error(&app.get("/files/abc").await, 400);
    assert_error(&app.get("/files/0").await, 400);
}
