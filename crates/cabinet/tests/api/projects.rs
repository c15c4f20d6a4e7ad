//! `GET /api/v1/projects`: in open mode the projects that hold files, with access control the caller's.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, capability, reply, unique_project, TestApp};

async fn list_projects(app: &TestApp, token: Option<&str>) -> crate::helpers::Reply {
    let mut req = app.client.get(format!("{}/api/v1/projects", app.base));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    reply(req.send().await.expect("sent")).await
}

async fn create_in(app: &TestApp, project: &str, name: &str) -> Value {
    let r = app
        .client
        .post(format!("{}/api/v1/projects/{project}/files", app.base))
        .bearer_auth("test-token")
        .json(&json!({ "name": name }))
        .send()
        .await
        .expect("sent");
    let r = reply(r).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r.body
}

#[tokio::test]
async fn open_mode_lists_the_projects_that_hold_files() {
    let app = TestApp::spawn().await;
    let r = list_projects(&app, Some("any")).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body, json!({ "items": [] }));

    // Two projects with files (one of them with content), and one whose only file was deleted.
    let base = unique_project();
    let (a, b, emptied) = (
        format!("{base}-a"),
        format!("{base}-b"),
        format!("{base}-c"),
    );
    create_in(&app, &b, "one.txt").await;
    create_in(&app, &b, "two.txt").await;
    let with_content = TestApp {
        project: a.clone(),
        ..app
    };
    with_content
        .upload(json!({ "name": "a.txt" }), b"hello")
        .await;
    let app = with_content;
    let gone = create_in(&app, &emptied, "gone.txt").await;
    let r = app
        .client
        .post(format!(
            "{}/api/v1/projects/{emptied}/files/delete",
            app.base
        ))
        .bearer_auth("test-token")
        .json(&json!({ "items": [{ "id": gone["id"] }] }))
        .send()
        .await
        .expect("sent");
    assert_eq!(reply(r).await.status, StatusCode::OK);

    let r = list_projects(&app, Some("any")).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(
        r.body,
        json!({ "items": [{ "projectUrlName": a }, { "projectUrlName": b }] })
    );
}

#[tokio::test]
async fn access_mode_lists_only_the_callers_projects() {
    // Three projects: `reader` has a group in the first two, `stranger` only in the third; `drifter`
    // is a token of the first whose group list is empty.
    let base = unique_project();
    let (mine, also_mine, theirs) = (
        format!("{base}-a"),
        format!("{base}-b"),
        format!("{base}-c"),
    );
    let files = capability("filesAcl", &["READ"], "all = {}");
    let hash = |t: &str| cabinet::auth::token_sha256_hex(t);
    let project = |name: &str, subject: &str| {
        format!(
            "[[project]]\nname = \"{name}\"\n\n[[project.group]]\nname = \"g\"\ncapabilities = [{files}]\n\n\
             [[project.service_token]]\nsubject = \"{subject}\"\nsha256 = \"{}\"\ngroups = [\"g\"]\n\n",
            hash(&format!("{subject}-token"))
        )
    };
    let toml = format!(
        "{}{}{}[[project.service_token]]\nsubject = \"drifter\"\nsha256 = \"{}\"\ngroups = []\n",
        project(&mine, "reader"),
        project(&also_mine, "reader"),
        project(&theirs, "stranger"),
        hash("drifter-token"),
    );
    let app = TestApp::spawn_with_access(mine.clone(), &toml).await;

    let r = list_projects(&app, Some("reader-token")).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(
        r.body,
        json!({ "items": [{ "projectUrlName": mine }, { "projectUrlName": also_mine }] })
    );

    let r = list_projects(&app, Some("stranger-token")).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body, json!({ "items": [{ "projectUrlName": theirs }] }));

    // A token without groups and no token at all are not let in, as on every other route.
    assert_error(&list_projects(&app, Some("drifter-token")).await, 401);
    assert_error(&list_projects(&app, None).await, 401);
}
