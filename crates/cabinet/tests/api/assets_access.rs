//! `assetsAcl` on the assets routes: READ lists and retrieves, WRITE creates, updates and deletes; a
//! principal without the action (or with only `filesAcl`) gets CDF's 403.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{assert_error, TestApp};

async fn configured() -> TestApp {
    let project = crate::helpers::unique_project();
    let hash = |t: &str| cabinet::auth::token_sha256_hex(t);
    let toml = format!(
        r#"
[[project]]
name = "{project}"

[[project.group]]
name = "assets-rw"
capabilities = [{{ assetsAcl = {{ actions = ["READ", "WRITE"], scope = {{ all = {{}} }} }} }}]

[[project.group]]
name = "assets-read"
capabilities = [{{ assetsAcl = {{ actions = ["READ"], scope = {{ all = {{}} }} }} }}]

[[project.group]]
name = "files-only"
capabilities = [{{ filesAcl = {{ actions = ["READ", "WRITE"], scope = {{ all = {{}} }} }} }}]

[[project.group]]
name = "assets-ds-7"
capabilities = [{{ assetsAcl = {{ actions = ["READ", "WRITE"], scope = {{ datasetScope = {{ ids = [7] }} }} }} }}]

[[project.service_token]]
subject = "ds7"
sha256 = "{}"
groups = ["assets-ds-7"]

[[project.service_token]]
subject = "rw"
sha256 = "{}"
groups = ["assets-rw"]

[[project.service_token]]
subject = "reader"
sha256 = "{}"
groups = ["assets-read"]

[[project.service_token]]
subject = "files"
sha256 = "{}"
groups = ["files-only"]
"#,
        hash("ds7-token"),
        hash("rw-token"),
        hash("reader-token"),
        hash("files-token"),
    );
    TestApp::spawn_with_access(project, &toml).await
}

#[tokio::test]
async fn assets_acl_read_and_write_guard_the_assets_routes() {
    let app = configured().await;
    let create = json!({"items": [{"externalId": "r", "name": "root"}]});
    let r = app
        .call_as("rw-token", Method::POST, "/assets", Some(create.clone()))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = app
        .call_as(
            "reader-token",
            Method::POST,
            "/assets",
            Some(create.clone()),
        )
        .await;
    assert_error(&r, 403);
    for (path, body) in [
        ("/assets/list", json!({})),
        ("/assets/byids", json!({"items": [{"externalId": "r"}]})),
        ("/assets/aggregate", json!({})),
        ("/assets/search", json!({"search": {"name": "root"}})),
    ] {
        let r = app
            .call_as("reader-token", Method::POST, path, Some(body.clone()))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{path} {r:?}");
        let r = app
            .call_as("files-token", Method::POST, path, Some(body))
            .await;
        assert_error(&r, 403);
    }
    for (path, body) in [
        (
            "/assets/update",
            json!({"items": [{"externalId": "r", "update": {"name": {"set": "x"}}}]}),
        ),
        ("/assets/delete", json!({"items": [{"externalId": "r"}]})),
    ] {
        let r = app
            .call_as("reader-token", Method::POST, path, Some(body.clone()))
            .await;
        assert_error(&r, 403);
        let r = app
            .call_as("rw-token", Method::POST, path, Some(body))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{path} {r:?}");
    }
    let r = app
        .call_as("files-token", Method::GET, "/assets", None)
        .await;
    assert_error(&r, 403);
}

#[tokio::test]
async fn a_data_set_scope_reads_and_creates_only_its_data_sets() {
    let app = configured().await;
    let r = app
        .call_as(
            "rw-token",
            Method::POST,
            "/assets",
            Some(json!({"items": [
                {"externalId": "in7", "name": "in", "dataSetId": 7},
                {"externalId": "in8", "name": "other", "dataSetId": 8},
                {"externalId": "none", "name": "none"}
            ]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = app
        .call_as("ds7-token", Method::POST, "/assets/list", Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let listed: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["externalId"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec!["in7"]);
    let r = app
        .call_as(
            "ds7-token",
            Method::POST,
            "/assets/aggregate",
            Some(json!({})),
        )
        .await;
    assert_eq!(r.body["items"][0]["count"], json!(1), "{r:?}");
    let r = app
        .call_as(
            "ds7-token",
            Method::POST,
            "/assets/byids",
            Some(json!({"items": [{"externalId": "in8"}]})),
        )
        .await;
    assert_error(&r, 403);
    let r = app
        .call_as(
            "ds7-token",
            Method::POST,
            "/assets",
            Some(json!({"items": [{"name": "x", "dataSetId": 8}]})),
        )
        .await;
    assert_error(&r, 403);
    let r = app
        .call_as(
            "ds7-token",
            Method::POST,
            "/assets",
            Some(json!({"items": [{"name": "x", "dataSetId": 7}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
}
