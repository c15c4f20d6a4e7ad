//! `filesAcl` with `datasetScope`: a principal scoped to data set 1 never sees, counts, downloads or
//! changes files of data set 2 or without a data set, on any files route, and works normally inside it.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, Reply, TestApp};

const FORBIDDEN: &str = "Resource not found. This may also be due to insufficient access rights.";
const ADMIN: &str = "admin-token";
const SCOPED: &str = "scoped-token";

/// A project with an admin (READ and WRITE on `all`) and a principal with READ and WRITE on data set 1
/// only (the ids given as a number and as a numeric string, as CDF clients send them).
async fn configured() -> TestApp {
    let project = crate::helpers::unique_project();
    let hash = |t: &str| cabinet::auth::token_sha256_hex(t);
    let toml = format!(
        r#"
[[project]]
name = "{project}"

[[project.group]]
name = "admins"
capabilities = [{{ filesAcl = {{ actions = ["READ", "WRITE"], scope = {{ all = {{}} }} }} }}]

[[project.group]]
name = "set-one"
capabilities = [
  {{ filesAcl = {{ actions = ["READ"], scope = {{ datasetScope = {{ ids = [1] }} }} }} }},
  {{ filesAcl = {{ actions = ["WRITE"], scope = {{ datasetScope = {{ ids = ["1"] }} }} }} }},
]

[[project.service_token]]
subject = "admin"
sha256 = "{}"
groups = ["admins"]

[[project.service_token]]
subject = "scoped"
sha256 = "{}"
groups = ["set-one"]
"#,
        hash(ADMIN),
        hash(SCOPED),
    );
    TestApp::spawn_with_access(project, &toml).await
}

async fn post_as(app: &TestApp, token: &str, path: &str, body: Value) -> Reply {
    app.call_as(token, Method::POST, path, Some(body)).await
}

/// Creates and uploads a file as the admin; returns its id.
async fn admin_file(app: &TestApp, external_id: &str, data_set: Option<i64>) -> i64 {
    let mut body = json!({ "name": format!("{external_id}.txt"), "externalId": external_id });
    if let Some(d) = data_set {
        body["dataSetId"] = json!(d);
    }
    let r = post_as(app, ADMIN, "/files", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let url = r.body["uploadUrl"].as_str().expect("uploadUrl");
    assert_eq!(app.put(url, b"content".to_vec()).await, StatusCode::OK);
    r.body["id"].as_i64().expect("id")
}

fn external_ids(r: &Reply) -> Vec<String> {
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let mut ids: Vec<String> = r.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|f| f["externalId"].as_str().unwrap_or_default().to_string())
        .collect();
    ids.sort();
    ids
}

fn assert_forbidden(r: &Reply, what: &str) {
    let error = assert_error(r, 403);
    assert_eq!(error["message"], json!(FORBIDDEN), "{what}");
    assert!(error.get("missing").is_none(), "{what}: {r:?}");
}

/// Three files: `one` in data set 1, `two` in data set 2, `none` without a data set.
async fn three_files(app: &TestApp) -> (i64, i64, i64) {
    (
        admin_file(app, "one", Some(1)).await,
        admin_file(app, "two", Some(2)).await,
        admin_file(app, "none", None).await,
    )
}

#[tokio::test]
async fn a_scoped_reader_sees_and_counts_only_its_data_set() {
    let app = configured().await;
    let (one, two, none) = three_files(&app).await;
    let only_one = vec!["one".to_string()];

    // Lists, GET and POST, with and without a dataSetIds filter of the caller's own.
    let r = app.call_as(SCOPED, Method::GET, "/files", None).await;
    assert_eq!(external_ids(&r), only_one);
    let r = post_as(&app, SCOPED, "/files/list", json!({})).await;
    assert_eq!(external_ids(&r), only_one);
    let r = post_as(
        &app,
        SCOPED,
        "/files/list",
        json!({"filter": {"dataSetIds": [{"id": 2}]}}),
    )
    .await;
    assert!(
        external_ids(&r).is_empty(),
        "a filter naming another data set matches nothing"
    );
    let r = post_as(
        &app,
        SCOPED,
        "/files/list",
        json!({"filter": {"dataSetIds": [{"id": 1}, {"id": 2}]}}),
    )
    .await;
    assert_eq!(external_ids(&r), only_one);
    let r = app
        .call_as(
            SCOPED,
            Method::GET,
            "/files?dataSetIds=%5B%7B%22id%22%3A2%7D%5D",
            None,
        )
        .await;
    if r.status == StatusCode::OK {
        assert!(external_ids(&r).is_empty(), "{r:?}");
    }

    // The partition walk.
    let mut walked = Vec::new();
    for p in ["1/3", "2/3", "3/3"] {
        let r = post_as(&app, SCOPED, "/files/list", json!({ "partition": p })).await;
        walked.extend(external_ids(&r));
    }
    assert_eq!(walked, only_one);

    // Search, by name and by filter only.
    let r = post_as(
        &app,
        SCOPED,
        "/files/search",
        json!({"search": {"name": "two.txt"}}),
    )
    .await;
    assert!(!external_ids(&r).contains(&"two".to_string()), "{r:?}");
    let r = post_as(&app, SCOPED, "/files/search", json!({"filter": {}})).await;
    assert_eq!(external_ids(&r), only_one);

    // Counts: the admin counts three, the scoped caller one.
    let count = |r: &Reply| r.body["items"][0]["count"].as_i64().expect("count");
    let r = post_as(&app, ADMIN, "/files/aggregate", json!({})).await;
    assert_eq!(count(&r), 3);
    let r = post_as(&app, SCOPED, "/files/aggregate", json!({})).await;
    assert_eq!(count(&r), 1, "{r:?}");
    let r = post_as(
        &app,
        SCOPED,
        "/files/aggregate",
        json!({"filter": {"dataSetIds": [{"id": 2}]}}),
    )
    .await;
    assert_eq!(count(&r), 0, "{r:?}");

    // Single-item reads: inside the scope they work; outside it, and for an unknown id, the same 403.
    let r = post_as(
        &app,
        SCOPED,
        "/files/byids",
        json!({"items": [{"id": one}]}),
    )
    .await;
    assert_eq!(external_ids(&r), only_one);
    let r = app
        .call_as(SCOPED, Method::GET, &format!("/files/{one}"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = post_as(
        &app,
        SCOPED,
        "/files/downloadlink",
        json!({"items": [{"id": one}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let unknown = two.max(none) + 1_000_000;
    for id in [two, none, unknown] {
        let r = post_as(&app, SCOPED, "/files/byids", json!({"items": [{"id": id}]})).await;
        assert_forbidden(&r, "byids");
        let r = post_as(
            &app,
            SCOPED,
            "/files/byids",
            json!({"items": [{"id": one}, {"id": id}]}),
        )
        .await;
        assert_forbidden(&r, "byids with one readable file");
        let r = app
            .call_as(SCOPED, Method::GET, &format!("/files/{id}"), None)
            .await;
        assert_forbidden(&r, "GET /files/{id}");
        let r = post_as(
            &app,
            SCOPED,
            "/files/downloadlink",
            json!({"items": [{"id": id}]}),
        )
        .await;
        assert_forbidden(&r, "downloadlink");
        let r = post_as(
            &app,
            SCOPED,
            "/files/byids",
            json!({"items": [{"id": one}, {"id": id}], "ignoreUnknownIds": true}),
        )
        .await;
        assert_eq!(
            external_ids(&r),
            only_one,
            "an unreadable file is left out like an unknown one"
        );
    }
    let r = post_as(
        &app,
        SCOPED,
        "/files/byids",
        json!({"items": [{"externalId": "two"}]}),
    )
    .await;
    assert_forbidden(&r, "byids by externalId");
    // The admin still gets `missing` for an unknown id.
    let r = post_as(
        &app,
        ADMIN,
        "/files/byids",
        json!({"items": [{"id": unknown}]}),
    )
    .await;
    assert_error(&r, 400);
}

#[tokio::test]
async fn a_scoped_writer_stays_inside_its_data_set() {
    let app = configured().await;
    let (one, two, none) = three_files(&app).await;
    let data_set_of = |r: &Reply| r.body["items"][0]["dataSetId"].clone();

    // Creating: into data set 1 only; not into 2, not without a data set, by POST /files or multipart.
    let r = post_as(
        &app,
        SCOPED,
        "/files",
        json!({"name": "n.txt", "dataSetId": 1}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let created = r.body["id"].as_i64().expect("id");
    for body in [
        json!({"name": "x.txt", "dataSetId": 2}),
        json!({"name": "x.txt"}),
    ] {
        let r = post_as(&app, SCOPED, "/files", body.clone()).await;
        assert_forbidden(&r, "create");
        let r = post_as(&app, SCOPED, "/files/initmultipartupload?parts=2", body).await;
        assert_forbidden(&r, "initmultipartupload");
    }
    let r = post_as(
        &app,
        SCOPED,
        "/files/initmultipartupload?parts=2",
        json!({"name": "m.txt", "dataSetId": 1}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");

    // Overwriting a file of another data set, even into data set 1, is refused and changes nothing.
    let r = post_as(
        &app,
        SCOPED,
        "/files?overwrite=true",
        json!({"name": "two.txt", "externalId": "two", "dataSetId": 1}),
    )
    .await;
    assert_forbidden(&r, "overwrite");
    let r = post_as(&app, ADMIN, "/files/byids", json!({"items": [{"id": two}]})).await;
    assert_eq!(data_set_of(&r), json!(2));
    let r = post_as(
        &app,
        SCOPED,
        "/files?overwrite=true",
        json!({"name": "one-again.txt", "externalId": "one", "dataSetId": 1}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");

    // Updating: inside the scope, yes; moving a file out of it or touching another's, no.
    let r = post_as(
        &app,
        SCOPED,
        "/files/update",
        json!({"items": [{"id": one, "update": {"source": {"set": "s"}}}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = post_as(
        &app,
        SCOPED,
        "/files/update",
        json!({"items": [{"id": one, "update": {"dataSetId": {"set": 2}}}]}),
    )
    .await;
    assert_forbidden(&r, "moving out");
    let r = post_as(
        &app,
        SCOPED,
        "/files/update",
        json!({"items": [{"id": one, "update": {"dataSetId": {"setNull": true}}}]}),
    )
    .await;
    assert_forbidden(&r, "removing the data set");
    let r = post_as(&app, ADMIN, "/files/byids", json!({"items": [{"id": one}]})).await;
    assert_eq!(
        data_set_of(&r),
        json!(1),
        "the refused move changed nothing"
    );
    let unknown = two.max(none) + 1_000_000;
    for id in [two, none, unknown] {
        let r = post_as(
            &app,
            SCOPED,
            "/files/update",
            json!({"items": [{"id": id, "update": {"dataSetId": {"set": 1}}}]}),
        )
        .await;
        assert_forbidden(&r, "moving in");
        let r = post_as(
            &app,
            SCOPED,
            "/files/delete",
            json!({"items": [{"id": id}]}),
        )
        .await;
        assert_forbidden(&r, "delete");
        let r = post_as(
            &app,
            SCOPED,
            "/files/uploadlink",
            json!({"items": [{"id": id}]}),
        )
        .await;
        assert_forbidden(&r, "uploadlink");
        let r = post_as(
            &app,
            SCOPED,
            "/files/multiuploadlink?parts=2",
            json!({"items": [{"id": id}]}),
        )
        .await;
        assert_forbidden(&r, "multiuploadlink");
        let r = post_as(
            &app,
            SCOPED,
            "/files/completemultipartupload",
            json!({"id": id, "uploadId": "u"}),
        )
        .await;
        assert_forbidden(&r, "completemultipartupload");
    }
    // Deleting with ignoreUnknownIds leaves files outside the scope alone, like unknown ones.
    let r = post_as(
        &app,
        SCOPED,
        "/files/delete",
        json!({"items": [{"id": two}], "ignoreUnknownIds": true}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = post_as(&app, ADMIN, "/files/aggregate", json!({})).await;
    assert_eq!(r.body["items"][0]["count"], json!(5), "{r:?}");

    // Inside the scope, the rest works too.
    let r = post_as(
        &app,
        SCOPED,
        "/files/uploadlink",
        json!({"items": [{"id": one}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = post_as(
        &app,
        SCOPED,
        "/files/delete",
        json!({"items": [{"id": created}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");

    // The admin may move a file between any data sets.
    let r = post_as(
        &app,
        ADMIN,
        "/files/update",
        json!({"items": [{"id": none, "update": {"dataSetId": {"set": 1}}}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = post_as(
        &app,
        SCOPED,
        "/files/byids",
        json!({"items": [{"id": none}]}),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "a file moved into the scope becomes visible: {r:?}"
    );
}
