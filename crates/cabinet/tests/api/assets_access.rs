//! `assetsAcl` on the assets routes: READ lists and retrieves, WRITE creates, updates and deletes; a
//! principal without the action (or with only `filesAcl`) gets CDF's 403.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{assert_error, capability, AccessConfig, TestApp};

async fn configured() -> TestApp {
    let all = "all = {}";
    AccessConfig::new()
        .group(
            "assets-rw",
            &[capability("assetsAcl", &["READ", "WRITE"], all)],
        )
        .group("assets-read", &[capability("assetsAcl", &["READ"], all)])
        .group(
            "files-only",
            &[capability("filesAcl", &["READ", "WRITE"], all)],
        )
        .group(
            "assets-ds-7",
            &[capability(
                "assetsAcl",
                &["READ", "WRITE"],
                "datasetScope = { ids = [7] }",
            )],
        )
        .token("ds7", &["assets-ds-7"])
        .token("rw", &["assets-rw"])
        .token("reader", &["assets-read"])
        .token("files", &["files-only"])
        .spawn()
        .await
}

#[tokio::test]
async fn assets_acl_read_and_write_guard_the_assets_routes() {
    let app = configured().await;
    let create = json!({"items": [{"externalId": "r", "name": "root"}]});
    let r = app.post_as("rw-token", "/assets", create.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = app.post_as("reader-token", "/assets", create.clone()).await;
    assert_error(&r, 403);
    for (path, body) in [
        ("/assets/list", json!({})),
        ("/assets/byids", json!({"items": [{"externalId": "r"}]})),
        ("/assets/aggregate", json!({})),
        ("/assets/search", json!({"search": {"name": "root"}})),
    ] {
        let r = app.post_as("reader-token", path, body.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{path} {r:?}");
        let r = app.post_as("files-token", path, body).await;
        assert_error(&r, 403);
    }
    for (path, body) in [
        (
            "/assets/update",
            json!({"items": [{"externalId": "r", "update": {"name": {"set": "x"}}}]}),
        ),
        ("/assets/delete", json!({"items": [{"externalId": "r"}]})),
    ] {
        let r = app.post_as("reader-token", path, body.clone()).await;
        assert_error(&r, 403);
        let r = app.post_as("rw-token", path, body).await;
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
        .post_as(
            "rw-token",
            "/assets",
            json!({"items": [
                {"externalId": "in7", "name": "in", "dataSetId": 7},
                {"externalId": "in8", "name": "other", "dataSetId": 8},
                {"externalId": "none", "name": "none"}
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = app.post_as("ds7-token", "/assets/list", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.external_ids(), vec!["in7"]);
    let r = app
        .post_as("ds7-token", "/assets/aggregate", json!({}))
        .await;
    assert_eq!(r.body["items"][0]["count"], json!(1), "{r:?}");
    let r = app
        .post_as(
            "ds7-token",
            "/assets/byids",
            json!({"items": [{"externalId": "in8"}]}),
        )
        .await;
    assert_error(&r, 403);
    let r = app
        .post_as(
            "ds7-token",
            "/assets",
            json!({"items": [{"name": "x", "dataSetId": 8}]}),
        )
        .await;
    assert_error(&r, 403);
    let r = app
        .post_as(
            "ds7-token",
            "/assets",
            json!({"items": [{"name": "x", "dataSetId": 7}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
}

/// Every asset of the project, as the unscoped writer lists them.
async fn all_assets(app: &TestApp) -> Vec<String> {
    let r = app.post_as("rw-token", "/assets/list", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let mut ids = r.external_ids();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_data_set_scope_updates_only_its_data_sets_and_keeps_them_there() {
    let app = configured().await;
    let r = app
        .post_as(
            "rw-token",
            "/assets",
            json!({"items": [
                {"externalId": "root", "name": "root", "dataSetId": 7},
                {"externalId": "in7", "name": "in", "dataSetId": 7, "parentExternalId": "root"},
                {"externalId": "in8", "name": "other", "dataSetId": 8, "parentExternalId": "root"},
                {"externalId": "none", "name": "none", "parentExternalId": "root"}
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let update = |items: serde_json::Value| json!({ "items": items });
    // Outside the scope: another data set, no data set, or one of several targets outside it.
    for items in [
        json!([{"externalId": "in8", "update": {"name": {"set": "x"}}}]),
        json!([{"externalId": "none", "update": {"name": {"set": "x"}}}]),
        json!([
            {"externalId": "in7", "update": {"name": {"set": "x"}}},
            {"externalId": "in8", "update": {"name": {"set": "x"}}}
        ]),
        // Moving an asset of the scope out of it, or out of every data set.
        json!([{"externalId": "in7", "update": {"dataSetId": {"set": 8}}}]),
        json!([{"externalId": "in7", "update": {"dataSetId": {"setNull": true}}}]),
        // Moving one in from outside.
        json!([{"externalId": "in8", "update": {"dataSetId": {"set": 7}}}]),
    ] {
        let r = app
            .post_as("ds7-token", "/assets/update", update(items.clone()))
            .await;
        assert_error(&r, 403);
    }
    // Nothing of the refused requests was written.
    let r = app
        .post_as(
            "rw-token",
            "/assets/byids",
            json!({"items": [{"externalId": "in7"}, {"externalId": "in8"}]}),
        )
        .await;
    assert_eq!(r.body["items"][0]["name"], json!("in"), "{r:?}");
    assert_eq!(r.body["items"][0]["dataSetId"], json!(7), "{r:?}");
    assert_eq!(r.body["items"][1]["name"], json!("other"), "{r:?}");
    // Inside the scope: a rename, and a move under another parent of the same root.
    let r = app
        .post_as("ds7-token", "/assets/update", update(json!([
                {"externalId": "in7", "update": {"name": {"set": "renamed"}, "dataSetId": {"set": 7}}}
            ])))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["items"][0]["name"], json!("renamed"), "{r:?}");
    let r = app
        .post_as(
            "ds7-token",
            "/assets/update",
            update(json!([
                {"externalId": "in7", "update": {"parentExternalId": {"set": "in8"}}}
            ])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    // An unknown target is still CDF's 400 with `missing`, not a 403.
    let r = app
        .post_as(
            "ds7-token",
            "/assets/update",
            update(json!([
                {"externalId": "nope", "update": {"name": {"set": "x"}}}
            ])),
        )
        .await;
    let e = assert_error(&r, 400);
    assert_eq!(e["missing"], json!([{"externalId": "nope"}]), "{r:?}");
}

#[tokio::test]
async fn a_data_set_scope_deletes_only_subtrees_wholly_in_its_data_sets() {
    let app = configured().await;
    let r = app
        .post_as(
            "rw-token",
            "/assets",
            json!({"items": [
                {"externalId": "a", "name": "a", "dataSetId": 7},
                {"externalId": "a1", "name": "a1", "dataSetId": 7, "parentExternalId": "a"},
                {"externalId": "a2", "name": "a2", "dataSetId": 8, "parentExternalId": "a1"},
                {"externalId": "b", "name": "b", "dataSetId": 7},
                {"externalId": "b1", "name": "b1", "dataSetId": 7, "parentExternalId": "b"},
                {"externalId": "c", "name": "c", "dataSetId": 8},
                {"externalId": "d", "name": "d"}
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let before = all_assets(&app).await;
    for body in [
        // Assets outside the scope, alone or next to one inside it.
        json!({"items": [{"externalId": "c"}]}),
        json!({"items": [{"externalId": "d"}]}),
        json!({"items": [{"externalId": "b1"}, {"externalId": "c"}], "ignoreUnknownIds": true}),
        // A recursive delete whose subtree reaches into another data set: all of it is refused.
        json!({"items": [{"externalId": "a"}], "recursive": true}),
        json!({"items": [{"externalId": "b"}, {"externalId": "a1"}], "recursive": true}),
    ] {
        let r = app.post_as("ds7-token", "/assets/delete", body).await;
        assert_error(&r, 403);
    }
    assert_eq!(all_assets(&app).await, before);
    // Without `recursive`, an asset with children is CDF's 400 before anything else.
    let r = app
        .post_as(
            "ds7-token",
            "/assets/delete",
            json!({"items": [{"externalId": "b"}]}),
        )
        .await;
    assert_error(&r, 400);
    // A subtree wholly in the scope goes, with unknown ones ignored when asked.
    let r = app
        .post_as(
            "ds7-token",
            "/assets/delete",
            json!({
                "items": [{"externalId": "b"}, {"externalId": "gone"}],
                "recursive": true,
                "ignoreUnknownIds": true
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(all_assets(&app).await, vec!["a", "a1", "a2", "c", "d"]);
    // A leaf of the scope below an asset of the scope goes on its own.
    let r = app
        .post_as(
            "rw-token",
            "/assets/delete",
            json!({"items": [{"externalId": "a2"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = app
        .post_as(
            "ds7-token",
            "/assets/delete",
            json!({"items": [{"externalId": "a"}], "recursive": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(all_assets(&app).await, vec!["c", "d"]);
}
