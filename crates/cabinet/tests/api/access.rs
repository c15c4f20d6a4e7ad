//! Access control with a configuration: service tokens, 401 for unknown tokens and other projects, 403 on
//! every files route without the `filesAcl` action it needs, and `token/inspect`.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, reply, TestApp};

const FORBIDDEN: &str = "Resource not found. This may also be due to insufficient access rights.";

/// A server whose project has four service tokens: `admin-token` (READ and WRITE), `reader-token`
/// (READ, through `members`), `writer-token` (WRITE only) and `nothing-token` (a group without filesAcl).
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
name = "readers"
members = ["reader"]
capabilities = [{{ filesAcl = {{ actions = ["READ"], scope = {{ all = {{}} }} }} }}]

[[project.group]]
name = "writers"
capabilities = [{{ filesAcl = {{ actions = ["WRITE"], scope = {{ all = {{}} }} }} }}]

[[project.group]]
name = "iam"
capabilities = [{{ groupsAcl = {{ actions = ["LIST"], scope = {{ all = {{}} }} }} }}]

[[project.service_token]]
subject = "admin"
sha256 = "{}"
groups = ["admins"]

[[project.service_token]]
subject = "reader"
sha256 = "{}"

[[project.service_token]]
subject = "writer"
sha256 = "{}"
groups = ["writers"]

[[project.service_token]]
subject = "nothing"
sha256 = "{}"
groups = ["iam"]
"#,
        hash("admin-token"),
        hash("reader-token"),
        hash("writer-token"),
        hash("nothing-token"),
    );
    TestApp::spawn_with_access(project, &toml).await
}

/// Every files route, with a body it would accept, and the action it needs.
fn routes() -> Vec<(Method, &'static str, Option<Value>, &'static str)> {
    let file = || Some(json!({ "name": "a.txt" }));
    let ids = || Some(json!({ "items": [{ "id": 1 }] }));
    let xid = || Some(json!({ "items": [{ "externalId": "x" }] }));
    vec![
        (Method::POST, "/files", file(), "WRITE"),
        (Method::POST, "/files/", file(), "WRITE"),
        (Method::POST, "/files?overwrite=true", file(), "WRITE"),
        (Method::GET, "/files", None, "READ"),
        (Method::GET, "/files/1", None, "READ"),
        (Method::GET, "/files/icon?id=1", None, "READ"),
        (Method::POST, "/files/byids", ids(), "READ"),
        (Method::POST, "/files/list", Some(json!({})), "READ"),
        (Method::POST, "/files/search", Some(json!({})), "READ"),
        (Method::POST, "/files/aggregate", Some(json!({})), "READ"),
        (Method::POST, "/files/downloadlink", ids(), "READ"),
        (
            Method::POST,
            "/files/update",
            Some(json!({ "items": [{ "id": 1, "update": {} }] })),
            "WRITE",
        ),
        (Method::POST, "/files/delete", ids(), "WRITE"),
        (Method::POST, "/files/uploadlink", xid(), "WRITE"),
        (
            Method::POST,
            "/files/initmultipartupload?parts=2",
            file(),
            "WRITE",
        ),
        (
            Method::POST,
            "/files/multiuploadlink?parts=2",
            xid(),
            "WRITE",
        ),
        (
            Method::POST,
            "/files/completemultipartupload",
            Some(json!({ "id": 1, "uploadId": "u" })),
            "WRITE",
        ),
    ]
}

#[tokio::test]
async fn every_files_route_is_403_without_the_capability() {
    let app = configured().await;
    for (method, path, body, action) in routes() {
        let r = app
            .call_as("nothing-token", method.clone(), path, body.clone())
            .await;
        let error = assert_error(&r, 403);
        assert_eq!(error["message"], json!(FORBIDDEN), "{method} {path}");

        // The reader is refused exactly the writes, the writer exactly the reads.
        let reader = app
            .call_as("reader-token", method.clone(), path, body.clone())
            .await;
        let writer = app
            .call_as("writer-token", method.clone(), path, body)
            .await;
        let (refused, allowed) = if action == "READ" {
            (&writer, &reader)
        } else {
            (&reader, &writer)
        };
        assert_error(refused, 403);
        assert_ne!(
            allowed.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {allowed:?}"
        );
        assert_ne!(
            allowed.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {allowed:?}"
        );
    }
}

#[tokio::test]
async fn unknown_tokens_and_other_projects_are_401() {
    let app = configured().await;
    for token in ["guessed-token", "admin", "admin-tokenx"] {
        let r = app.call_as(token, Method::GET, "/files", None).await;
        assert_error(&r, 401);
    }
    let r = app
        .call_as(
            "guessed-token",
            Method::POST,
            "/files/list",
            Some(json!({})),
        )
        .await;
    assert_error(&r, 401);
    let r = app
        .client
        .get(app.url("/files"))
        .send()
        .await
        .expect("sent");
    assert_error(&reply(r).await, 401);
    // A valid token on a project it is not configured for, and on a project that does not exist.
    let other = format!("{}/api/v1/projects/other-project/files", app.base);
    let r = app
        .client
        .get(other)
        .bearer_auth("admin-token")
        .send()
        .await
        .expect("sent");
    assert_error(&reply(r).await, 401);
    let inspect = format!("{}/api/v1/token/inspect", app.base);
    let r = app
        .client
        .get(&inspect)
        .bearer_auth("guessed-token")
        .send()
        .await
        .expect("sent");
    assert_error(&reply(r).await, 401);
}

#[tokio::test]
async fn a_reader_reads_what_a_writer_wrote_and_writes_nothing() {
    let app = configured().await;
    let created = app
        .call_as(
            "writer-token",
            Method::POST,
            "/files",
            Some(json!({ "name": "w.txt", "externalId": "w" })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let put = app
        .put(
            created.body["uploadUrl"].as_str().expect("uploadUrl"),
            b"written".to_vec(),
        )
        .await;
    assert_eq!(put, StatusCode::OK);
    let updated = app.call_as("writer-token",
        Method::POST,
        "/files/update",
        Some(json!({ "items": [{ "externalId": "w", "update": { "source": { "set": "ci" } } }] })),
    )
    .await;
    assert_eq!(updated.status, StatusCode::OK, "{updated:?}");

    let listed = app
        .call_as("reader-token", Method::POST, "/files/list", Some(json!({})))
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{listed:?}");
    assert_eq!(listed.body["items"][0]["source"], json!("ci"));
    let link = app
        .call_as(
            "reader-token",
            Method::POST,
            "/files/downloadlink",
            Some(json!({ "items": [{ "externalId": "w" }] })),
        )
        .await;
    assert_eq!(link.status, StatusCode::OK, "{link:?}");
    // Signed URLs stay capabilities: no token is needed to fetch the content.
    let content = app
        .client
        .get(
            link.body["items"][0]["downloadUrl"]
                .as_str()
                .expect("downloadUrl"),
        )
        .send()
        .await
        .expect("GET sent");
    assert_eq!(content.status(), StatusCode::OK);
    assert_eq!(content.bytes().await.expect("body").as_ref(), b"written");

    let deleted = app
        .call_as(
            "reader-token",
            Method::POST,
            "/files/delete",
            Some(json!({ "items": [{ "externalId": "w" }] })),
        )
        .await;
    assert_error(&deleted, 403);
    let still = app
        .call_as(
            "admin-token",
            Method::POST,
            "/files/byids",
            Some(json!({ "items": [{ "externalId": "w" }] })),
        )
        .await;
    assert_eq!(
        still.status,
        StatusCode::OK,
        "the refused delete deleted nothing: {still:?}"
    );
    let deleted = app
        .call_as(
            "writer-token",
            Method::POST,
            "/files/delete",
            Some(json!({ "items": [{ "externalId": "w" }] })),
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{deleted:?}");
}

#[tokio::test]
async fn token_inspect_describes_the_caller() {
    let app = configured().await;
    let r = app
        .client
        .get(format!("{}/api/v1/token/inspect", app.base))
        .bearer_auth("reader-token")
        .send()
        .await
        .expect("sent");
    let r = reply(r).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["subject"], json!("reader"));
    let group = cabinet::auth::group_id(&app.project, "readers");
    assert_eq!(
        r.body["projects"],
        json!([{ "projectUrlName": app.project, "groups": [group] }])
    );
    assert_eq!(
        r.body["capabilities"],
        json!([{
            "filesAcl": { "actions": ["READ"], "scope": { "all": {} } },
            "projectScope": { "projects": [app.project] }
        }])
    );
}

#[tokio::test]
async fn open_mode_on_loopback_is_unchanged() {
    let app = TestApp::spawn().await;
    let r = app.post("/files/list", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = app
        .client
        .get(format!("{}/api/v1/token/inspect", app.base))
        .bearer_auth("anything")
        .send()
        .await
        .expect("sent");
    let r = reply(r).await;
    assert_eq!(r.body["subject"], json!("anonymous"), "{r:?}");
}
