//! Fault injection: the admin API (`/_cabinet/faults`), each kind of fault as a real client sees it, rules
//! with `times` and with a seeded `probability`, and who may arm them.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

async fn admin(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Reply {
    admin_as(app, Some("test-token"), method, path, body).await
}

async fn admin_as(
    app: &TestApp,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    let mut req = app
        .client
        .request(method, format!("{}/_cabinet/faults{path}", app.base));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    reply(req.send().await.expect("request sent")).await
}

async fn arm(app: &TestApp, body: Value) -> Vec<Value> {
    let r = admin(app, Method::POST, "", Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r.body["items"].as_array().expect("items").clone()
}

async fn list(app: &TestApp) -> Reply {
    app.post("/files/list", json!({"limit": 10})).await
}

#[tokio::test]
async fn a_429_rule_fires_the_next_n_times_with_retry_after_then_lists_its_counts() {
    let app = TestApp::spawn().await;
    let items = arm(
        &app,
        json!({"items": [{"route": "files/list", "method": "POST", "status": 429, "times": 2}]}),
    )
    .await;
    assert_eq!(items.len(), 1);
    let id = items[0]["id"].as_u64().expect("an id");
    assert_eq!(items[0]["remaining"], json!(2));
    for _ in 0..2 {
        let r = list(&app).await;
        assert_error(&r, 429);
        assert_eq!(r.headers["retry-after"], "1");
        assert_eq!(r.headers["x-cabinet-fault"], id.to_string().as_str());
    }
    // Another route, another method: untouched.
    assert_eq!(app.post("/files/search", json!({})).await.status, 200);
    assert_eq!(app.get("/files").await.status, 200);
    assert_eq!(list(&app).await.status, 200);

    let listed = admin(&app, Method::GET, "", None).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    let rule = &listed.body["items"][0];
    assert_eq!(rule["id"], json!(id));
    assert_eq!(rule["route"], json!("files/list"));
    assert_eq!(rule["method"], json!("POST"));
    assert_eq!(rule["fired"], json!(2));
    assert_eq!(rule["matched"], json!(2));
    assert_eq!(rule["remaining"], json!(0));
    assert_eq!(listed.body["seed"], json!(0));
}

#[tokio::test]
async fn wildcards_projects_503_and_500_and_retry_after_are_honoured() {
    let app = TestApp::spawn().await;
    arm(
        &app,
        json!({"items": [
            {"route": "files/*", "project": app.project, "status": 503, "retryAfter": 7, "times": 1},
            {"route": "files/*", "status": 500, "times": 1},
        ]}),
    )
    .await;
    // The first matching rule fires; once it is used up, the next one does.
    let r = app
        .post("/files/byids", json!({"items": [{"id": 1}]}))
        .await;
    assert_error(&r, 503);
    assert_eq!(r.headers["retry-after"], "7");
    let r = list(&app).await;
    let error = assert_error(&r, 500);
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("Injected fault"));
    assert!(!r.headers.contains_key("retry-after"));
    assert_eq!(list(&app).await.status, 200);

    // A rule for another project leaves this one alone.
    arm(
        &app,
        json!({"items": [{"route": "*", "project": "elsewhere", "status": 500}]}),
    )
    .await;
    assert_eq!(list(&app).await.status, 200);
}

#[tokio::test]
async fn latency_delays_alone_and_before_a_status() {
    let app = TestApp::spawn().await;
    arm(
        &app,
        json!({"items": [
            {"route": "files/list", "latencyMs": 400, "times": 1},
            {"route": "files/list", "latencyMs": 300, "status": 503, "times": 1},
        ]}),
    )
    .await;
    let started = Instant::now();
    assert_eq!(list(&app).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(400));
    let started = Instant::now();
    assert_error(&list(&app).await, 503);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let started = Instant::now();
    assert_eq!(list(&app).await.status, 200);
    assert!(started.elapsed() < Duration::from_millis(300));
}

/// Which of 40 list calls fail under `probability: 0.5` armed with `seed`.
async fn pattern(app: &TestApp, seed: u64) -> Vec<bool> {
    admin(app, Method::POST, "/reset", None).await;
    arm(
        app,
        json!({"seed": seed, "items": [{"route": "files/list", "status": 503, "probability": 0.5}]}),
    )
    .await;
    let mut failed = Vec::new();
    for _ in 0..40 {
        failed.push(list(app).await.status == 503);
    }
    failed
}

#[tokio::test]
async fn probability_is_drawn_from_the_seed_so_runs_repeat() {
    let app = TestApp::spawn().await;
    let first = pattern(&app, 42).await;
    let fired = first.iter().filter(|f| **f).count();
    assert!((5..=35).contains(&fired), "{fired} of 40 at p=0.5");
    assert_eq!(first, pattern(&app, 42).await, "same seed, same failures");
    assert_ne!(
        first,
        pattern(&app, 43).await,
        "another seed, other failures"
    );
    let listed = admin(&app, Method::GET, "", None).await;
    assert_eq!(listed.body["seed"], json!(43));
    assert_eq!(listed.body["items"][0]["matched"], json!(40));
    assert!(listed.body["items"][0].get("remaining").is_none());
}

#[tokio::test]
async fn reset_and_delete_remove_rules_and_bad_rules_are_refused() {
    let app = TestApp::spawn().await;
    let items = arm(
        &app,
        json!({"items": [
            {"route": "files/list", "status": 500},
            {"route": "files/search", "status": 500},
        ]}),
    )
    .await;
    assert_error(&list(&app).await, 500);
    let first = items[0]["id"].as_u64().unwrap();
    let r = admin(&app, Method::DELETE, &format!("/{first}"), None).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(list(&app).await.status, 200);
    assert_error(
        &admin(&app, Method::DELETE, &format!("/{first}"), None).await,
        404,
    );
    assert_error(&admin(&app, Method::DELETE, "/nonsense", None).await, 404);
    assert_error(&app.post("/files/search", json!({})).await, 500);

    let r = admin(&app, Method::POST, "/reset", None).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["removed"], json!(1));
    assert_eq!(app.post("/files/search", json!({})).await.status, 200);
    let listed = admin(&app, Method::GET, "", None).await;
    assert_eq!(listed.body["items"], json!([]));

    for bad in [
        json!({"items": [{"route": "files/list"}]}),
        json!({"items": [{"route": "files/list", "status": 302}]}),
        json!({"items": [{"route": "files/list", "status": 500, "probability": 2}]}),
        json!({"items": [{"route": "files/list", "fault": "explode"}]}),
        json!({"items": [{"route": "files/list", "status": 500, "colour": "red"}]}),
        json!({"rules": []}),
    ] {
        let r = admin(&app, Method::POST, "", Some(bad.clone())).await;
        assert_error(&r, 400);
    }
    assert_eq!(
        admin(&app, Method::GET, "", None).await.body["items"],
        json!([])
    );
}

#[tokio::test]
async fn a_reset_closes_the_connection_without_a_response() {
    let app = TestApp::spawn().await;
    arm(
        &app,
        json!({"items": [{"route": "files/list", "fault": "reset", "times": 1}]}),
    )
    .await;
    let err = app
        .client
        .post(app.url("/files/list"))
        .bearer_auth("t")
        .json(&json!({}))
        .send()
        .await
        .expect_err("no response");
    // hyper's client: the connection closed before a response head arrived.
    let text = format!("{err:?}");
    assert!(err.is_request(), "{text}");
    assert!(
        text.contains("IncompleteMessage") || text.contains("connection closed"),
        "{text}"
    );
    assert_eq!(list(&app).await.status, 200);
}

#[tokio::test]
async fn a_truncated_download_announces_the_full_length_and_stops_half_way() {
    if !proxy_transfer_only(
        "a_truncated_download_announces_the_full_length_and_stops_half_way",
        "download URLs are S3's",
    ) {
        return;
    }
    let app = TestApp::spawn().await;
    let body = content(200_000, 3);
    let file = app.upload(json!({"name": "t.bin"}), &body).await;
    let url = app.download_url(json!({"id": file["id"]})).await;
    arm(
        &app,
        json!({"items": [{"route": "files/download", "fault": "truncate", "times": 1}]}),
    )
    .await;
    let resp = app.client.get(&url).send().await.expect("headers arrive");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.content_length(), Some(200_000));
    let mut resp = resp;
    let mut got = 0usize;
    let failure = loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => got += chunk.len(),
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    assert!(failure.is_some(), "the body must fail, got {got} bytes");
    assert_eq!(got, 100_000);
    // The next download is whole.
    assert_eq!(app.download(json!({"id": file["id"]})).await, body);
}

#[tokio::test]
async fn an_upload_that_fails_mid_body_leaves_the_file_not_uploaded_and_retryable() {
    if !proxy_transfer_only(
        "an_upload_that_fails_mid_body_leaves_the_file_not_uploaded_and_retryable",
        "upload URLs are S3's",
    ) {
        return;
    }
    let app = TestApp::spawn().await;
    let created = app.create(json!({"name": "u.bin"})).await;
    let url = created["uploadUrl"].as_str().unwrap().to_string();
    arm(&app, json!({"items": [{"route": "files/upload", "method": "PUT", "fault": "truncate", "times": 1}]})).await;
    let body = content(300_000, 5);
    let r = reply(
        app.client
            .put(&url)
            .body(body.clone())
            .send()
            .await
            .expect("answered"),
    )
    .await;
    assert_error(&r, 500);
    let file = app.retrieve(json!({"id": created["id"]})).await;
    assert_eq!(file.body["items"][0]["uploaded"], json!(false), "{file:?}");
    // The same URL takes the whole content afterwards.
    assert_eq!(app.put(&url, body.clone()).await, StatusCode::OK);
    let file = app.retrieve(json!({"id": created["id"]})).await;
    assert_eq!(file.body["items"][0]["uploaded"], json!(true), "{file:?}");
    assert_eq!(app.download(json!({"id": created["id"]})).await, body);
}

#[tokio::test]
async fn rules_from_the_configuration_are_armed_at_start() {
    let config = cabinet::config::ConfigFile::parse(
        "[faults]\nseed = 9\nitems = [{ route = \"files/list\", status = 503, times = 1 }]\n",
    )
    .unwrap();
    let faults = config.faults.clone().unwrap().checked().unwrap();
    let app = TestApp::spawn_with(|c| c.faults = faults).await;
    assert_error(&list(&app).await, 503);
    assert_eq!(list(&app).await.status, 200);
    assert_eq!(
        admin(&app, Method::GET, "", None).await.body["seed"],
        json!(9)
    );

    let bad =
        cabinet::config::ConfigFile::parse("[faults]\nitems = [{ route = \"files/list\" }]\n")
            .unwrap()
            .serve_config(Default::default());
    assert!(format!("{:#}", bad.unwrap_err()).contains("faults.items[0]"));
}

#[tokio::test]
async fn with_access_control_only_the_configured_admins_may_arm_faults() {
    let project = unique_project();
    let token = |subject: &str| {
        format!(
            "[[project.service_token]]\nsubject = \"{subject}\"\nsha256 = \"{}\"\ngroups = [\"readers\"]\n",
            cabinet::auth::token_sha256_hex(&format!("{subject}-token"))
        )
    };
    let access_toml = format!(
        "[[project]]\nname = \"{project}\"\n[[project.group]]\nname = \"readers\"\ncapabilities = [{}]\n{}{}",
        capability("filesAcl", &["READ"], "all = {}"),
        token("boss"),
        token("reader"),
    );
    let toml = format!("[faults]\nadmin = [\"boss\"]\n{access_toml}");
    let file = cabinet::config::ConfigFile::parse(&toml).unwrap();
    let (access, faults) = (file.access().unwrap(), file.faults.clone().unwrap());
    let mut app = TestApp::spawn_with(|c| {
        c.access = access;
        c.faults = faults;
    })
    .await;
    app.project = project.clone();

    let rule = json!({"items": [{"route": "files/list", "status": 503, "times": 1}]});
    assert_error(&admin_as(&app, None, Method::GET, "", None).await, 401);
    assert_error(
        &admin_as(&app, Some("nobody"), Method::GET, "", None).await,
        401,
    );
    assert_error(
        &admin_as(
            &app,
            Some("reader-token"),
            Method::POST,
            "",
            Some(rule.clone()),
        )
        .await,
        403,
    );
    assert_error(
        &admin_as(&app, Some("reader-token"), Method::POST, "/reset", None).await,
        403,
    );
    let r = admin_as(&app, Some("boss-token"), Method::POST, "", Some(rule)).await;
    assert_eq!(r.status, 201, "{r:?}");
    let listed = app.post_as("reader-token", "/files/list", json!({})).await;
    assert_error(&listed, 503);

    // No admin configured: nobody.
    let app = TestApp::spawn_with_access(project, &access_toml).await;
    assert_error(
        &admin_as(&app, Some("boss-token"), Method::GET, "", None).await,
        403,
    );
}
