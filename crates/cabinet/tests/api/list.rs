use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

async fn create_many(app: &TestApp, n: usize) -> HashSet<i64> {
    create_in_order(app, n).await.into_iter().collect()
}

async fn create_in_order(app: &TestApp, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            app.create(json!({"name": format!("f{i}")})).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    ids
}

async fn walk_pages(app: &TestApp, body: Value) -> (Vec<i64>, usize) {
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut body = body;
    loop {
        let r = app.post("/files/list", body.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        pages += 1;
        seen.extend(
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["id"].as_i64().unwrap()),
        );
        match r.body.get("nextCursor") {
            None => break,
            Some(Value::String(c)) => {
                assert!(!c.is_empty(), "nextCursor is never empty");
                body["cursor"] = json!(c);
            }
            Some(other) => panic!("nextCursor {other}"),
        }
    }
    (seen, pages)
}

#[tokio::test]
async fn a_cursor_walk_returns_every_file_once_in_creation_order() {
    let app = TestApp::spawn().await;
    let ids = create_in_order(&app, 25).await;
    let (seen, pages) = walk_pages(&app, json!({"limit": 10, "cursor": null})).await;
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);

    let r = app.post("/files/list", json!({})).await;
    assert_eq!(
        r.body["items"].as_array().unwrap().len(),
        25,
        "default limit 100 covers all"
    );
    assert!(r.body.get("nextCursor").is_none());
}

#[tokio::test]
async fn get_files_pages_with_query_parameters() {
    let app = TestApp::spawn().await;
    create_many(&app, 3).await;
    let first = app.get("/files?limit=2").await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    let cursor = first.body["nextCursor"].as_str().unwrap();
    let second = app.get(&format!("/files?limit=2&cursor={cursor}")).await;
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    assert!(second.body.get("nextCursor").is_none());
}

#[tokio::test]
async fn files_created_and_deleted_during_a_walk_do_not_disturb_the_others() {
    let app = TestApp::spawn().await;
    let ids = create_many(&app, 30).await;
    let mut body = json!({"limit": 7});
    let mut seen = Vec::new();
    let mut deleted = HashSet::new();
    loop {
        let r = app.post("/files/list", body.clone()).await;
        for f in r.body["items"].as_array().unwrap() {
            seen.push(f["id"].as_i64().unwrap());
        }
        // Churn between pages: add a file, delete a file not seen yet.
        app.create(json!({"name": "churn"})).await;
        if let Some(victim) = ids
            .iter()
            .find(|id| !seen.contains(id) && !deleted.contains(*id))
        {
            app.post("/files/delete", json!({"items": [{"id": victim}]}))
                .await;
            deleted.insert(*victim);
        }
        match r.body.get("nextCursor") {
            Some(c) => body["cursor"] = c.clone(),
            None => break,
        }
    }
    let seen_set: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(seen_set.len(), seen.len(), "no file twice");
    for id in ids.difference(&deleted) {
        assert!(
            seen_set.contains(id),
            "file {id} that existed throughout was returned"
        );
    }
}

#[tokio::test]
async fn partitions_are_disjoint_and_cover_everything() {
    let app = TestApp::spawn().await;
    let ids = create_many(&app, 40).await;
    let mut union = Vec::new();
    for m in 1..=3 {
        let (seen, _) = walk_pages(
            &app,
            json!({"limit": 5, "partition": format!("{m}/3"), "filter": {}}),
        )
        .await;
        union.extend(seen);
    }
    assert_eq!(union.len(), 40);
    assert_eq!(union.into_iter().collect::<HashSet<_>>(), ids);
}

#[tokio::test]
async fn bad_limits_cursors_and_partitions_are_400() {
    let app = TestApp::spawn().await;
    create_many(&app, 3).await;
    assert_error(&app.post("/files/list", json!({"limit": 0})).await, 400);
    // Above 1000 is 1000, as CDF documents.
    let r = app.post("/files/list", json!({"limit": 1001})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_error(
        &app.post("/files/list", json!({"cursor": "forged"})).await,
        400,
    );
    assert_error(
        &app.post("/files/list", json!({"partition": "11/11"})).await,
        400,
    );
    assert_error(
        &app.post("/files/list", json!({"partition": "2/1"})).await,
        400,
    );
    assert_error(&app.get("/files?limit=abc").await, 400);
    // A cursor is bound to its partition.
    let r = app
        .post("/files/list", json!({"limit": 1, "partition": "1/1"}))
        .await;
    let cursor = r.body["nextCursor"].clone();
    assert_error(
        &app.post("/files/list", json!({"limit": 1, "cursor": cursor}))
            .await,
        400,
    );
    assert_eq!(
        app.post(
            "/files/list",
            json!({"limit": 1, "partition": "1/1", "cursor": cursor})
        )
        .await
        .status,
        StatusCode::OK
    );
}
