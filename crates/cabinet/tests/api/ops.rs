//! `/metrics`, `/healthz` and `/readyz` of a real server on loopback.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

const LIST_ROUTE: &str = "/api/v1/projects/{project}/files/list";

impl TestApp {
    async fn scrape(&self) -> String {
        let r = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("GET /metrics");
        assert_eq!(r.status(), StatusCode::OK);
        let kind = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
        r.text().await.unwrap()
    }

    async fn ops_get(&self, path: &str) -> (StatusCode, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("sent");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// The value of the series `name{labels}` (labels exactly as encoded), 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let rest = line.strip_prefix(series)?;
            rest.strip_prefix(' ')?.trim().parse().ok()
        })
        .unwrap_or(0.0)
}

fn requests(route: &str, method: &str, status: u16) -> String {
    format!(
        "cabinet_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}}"
    )
}

/// Scrapes until `check` holds (the accounting of a request ends when its response body is done, which
/// may be a moment after the client has read it), at most 5 s; returns the last scrape.
async fn scrape_until(app: &TestApp, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = app.scrape().await;
        if check(&text) || Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_request_counts_in_its_route_series_only() {
    let app = TestApp::spawn().await;
    let before = app.scrape().await;
    let ok = requests(LIST_ROUTE, "POST", 200);
    let bad = requests(LIST_ROUTE, "POST", 400);
    let count = format!(
        "cabinet_http_request_duration_seconds_count{{route=\"{LIST_ROUTE}\",method=\"POST\"}}"
    );
    assert_eq!(value(&before, &ok), 0.0);

    assert_eq!(
        app.post("/files/list", json!({})).await.status,
        StatusCode::OK
    );
    let after = scrape_until(&app, |t| value(t, &ok) >= 1.0).await;
    assert_eq!(value(&after, &ok), 1.0, "{after}");
    assert_eq!(value(&after, &bad), 0.0, "{after}");
    assert_eq!(
        value(&after, &count),
        value(&before, &count) + 1.0,
        "{after}"
    );
    // The store call behind it is timed.
    let store = "cabinet_metadata_store_duration_seconds_count{operation=\"list\",outcome=\"ok\"}";
    assert!(value(&after, store) >= 1.0, "{after}");

    let r = app.post("/files/list", json!({"limit": "many"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let after = scrape_until(&app, |t| value(t, &bad) >= 1.0).await;
    assert_eq!(value(&after, &ok), 1.0, "{after}");
    assert_eq!(value(&after, &bad), 1.0, "{after}");
    assert_eq!(
        value(&after, &count),
        value(&before, &count) + 2.0,
        "{after}"
    );
    // The project is no label: the template is.
    assert!(!after.contains(&app.project), "{after}");
}

/// The IAM, data-set, label and asset stores are timed into the metadata store's series by method name;
/// an unknown id is the store's answer, not its failure.
#[tokio::test]
async fn the_other_stores_are_timed_too() {
    let app = TestApp::spawn().await;
    for (path, body) in [
        ("/securitycategories", json!({"items": [{"name": "timed"}]})),
        ("/datasets", json!({"items": [{"externalId": "timed-ds"}]})),
        (
            "/labels",
            json!({"items": [{"externalId": "timed-label", "name": "timed"}]}),
        ),
        (
            "/assets",
            json!({"items": [{"externalId": "timed-asset", "name": "timed"}]}),
        ),
    ] {
        let r = app.post(path, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{path}: {r:?}");
    }
    let r = app
        .post(
            "/assets/byids",
            json!({"items": [{"externalId": "absent"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
    let series = |op: &str, outcome: &str| {
        format!("cabinet_metadata_store_duration_seconds_count{{operation=\"{op}\",outcome=\"{outcome}\"}}")
    };
    let text = scrape_until(&app, |t| value(t, &series("assets_by_refs", "ok")) >= 1.0).await;
    for op in [
        "create_security_categories",
        "create_data_sets",
        "create_labels",
        "create_assets",
        "assets_by_refs",
    ] {
        assert!(value(&text, &series(op, "ok")) >= 1.0, "{op}: {text}");
        assert_eq!(value(&text, &series(op, "error")), 0.0, "{op}: {text}");
    }
}

#[tokio::test]
async fn unknown_paths_share_one_series() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .get(format!("{}/no/such/place-0123", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let series = requests("unmatched", "GET", 404);
    let text = scrape_until(&app, |t| value(t, &series) >= 1.0).await;
    assert_eq!(value(&text, &series), 1.0, "{text}");
    assert!(
        !text.contains("place-0123"),
        "a raw path became a label:\n{text}"
    );
}

#[tokio::test]
async fn bytes_in_and_out_grow_by_what_was_transferred() {
    if !proxy_transfer_only(
        "bytes_in_and_out_grow_by_what_was_transferred",
        "content goes to S3, not through cabinet",
    ) {
        return;
    }
    let app = TestApp::spawn().await;
    let size = 300_000u64;
    let data = content(size as usize, 7);
    let before = app.scrape().await;
    let bytes_in = "cabinet_http_request_bytes_total";
    let bytes_out = "cabinet_http_response_bytes_total";
    app.upload(json!({"name": "m.bin", "externalId": "m"}), &data)
        .await;
    let after = scrape_until(&app, |t| {
        value(t, bytes_in) >= value(&before, bytes_in) + size as f64
    })
    .await;
    let grew = value(&after, bytes_in) - value(&before, bytes_in);
    // The upload, plus the create request's small JSON body.
    assert!(
        grew >= size as f64 && grew < size as f64 + 10_000.0,
        "{grew}"
    );
    let put = "cabinet_blob_store_duration_seconds_count{operation=\"put\",outcome=\"ok\"}";
    assert!(value(&after, put) >= 1.0, "{after}");
    let upload_route = "/blob/v1/{project}/files/{file_id}/uploads/{session}";
    assert_eq!(
        value(&after, &requests(upload_route, "PUT", 200)),
        1.0,
        "{after}"
    );

    let got = app.download(json!({"externalId": "m"})).await;
    assert_eq!(got.len() as u64, size);
    let out_before = value(&after, bytes_out);
    let done = scrape_until(&app, |t| value(t, bytes_out) >= out_before + size as f64).await;
    let grew = value(&done, bytes_out) - out_before;
    assert!(
        grew >= size as f64 && grew < size as f64 + 100_000.0,
        "{grew}"
    );
    // Nothing is in flight any more, and the gauge says so.
    assert_eq!(
        value(&done, "cabinet_transfers_in_flight{direction=\"upload\"}"),
        0.0
    );
    assert!(done.contains("cabinet_transfers_in_flight{direction=\"download\"}"));
}

#[tokio::test]
async fn background_work_and_the_disk_are_reported() {
    let app = TestApp::spawn().await;
    app.create(json!({"name": "a.txt"})).await;
    // The janitor (and with it the collector) runs once at start-up.
    let janitor = "cabinet_janitor_runs_total{outcome=\"ok\"}";
    let collector = "cabinet_collector_runs_total{outcome=\"ok\"}";
    let text = scrape_until(&app, |t| {
        value(t, janitor) >= 1.0 && value(t, collector) >= 1.0
    })
    .await;
    assert!(value(&text, janitor) >= 1.0, "{text}");
    assert!(value(&text, collector) >= 1.0, "{text}");
    assert!(value(&text, "cabinet_disk_free_bytes") > 0.0, "{text}");
    let batches = "cabinet_sqlite_commit_batch_size_count";
    if metadata_on_postgres() {
        assert!(!text.contains(batches), "{text}");
    } else {
        assert!(value(&text, batches) >= 1.0, "{text}");
    }
}

#[tokio::test]
async fn healthz_answers_and_readyz_checks_the_stores() {
    let app = TestApp::spawn().await;
    let (status, body) = app.ops_get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok"}));
    let (status, body) = app.ops_get("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"status": "ready", "checks": {"metadata": "ok", "content": "ok", "disk": "ok"}})
    );
}

/// The number of content-store puts the metrics have seen (the readiness probe is one put).
fn blob_puts(text: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with("cabinet_blob_store_duration_seconds_count{"))
        .filter(|l| l.contains("operation=\"put\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn readyz_shares_one_probe_between_callers_within_a_second() {
    let app = TestApp::spawn().await;
    let before = blob_puts(&app.scrape().await);
    // Many callers at once: one probe object is written, and every caller gets its answer.
    let calls: Vec<_> = (0..8).map(|_| app.ops_get("/readyz")).collect();
    for (status, body) in futures_util::future::join_all(calls).await {
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "ready", "{body}");
    }
    assert_eq!(app.ops_get("/readyz").await.0, StatusCode::OK);
    let after = blob_puts(&app.scrape().await);
    assert_eq!(after - before, 1.0, "one probe for nine calls");
    // Once the answer is older than the reuse time, the next call probes again.
    tokio::time::sleep(cabinet::api::ops::READY_CACHE_FOR + Duration::from_millis(100)).await;
    assert_eq!(app.ops_get("/readyz").await.0, StatusCode::OK);
    let again = blob_puts(&app.scrape().await);
    assert_eq!(again - before, 2.0, "a second probe after the reuse time");
}

#[tokio::test]
async fn readyz_is_503_when_the_content_directory_is_unusable() {
    if !content_in_data_dir("readyz_is_503_when_the_content_directory_is_unusable") {
        return;
    }
    let app = TestApp::spawn().await;
    let blobs = app.dir.path().join("blobs");
    let aside = app.dir.path().join("blobs-aside");
    // A file where the content directory was: nothing can be stored (root ignores permission bits, so
    // a chmod would not do).
    std::fs::rename(&blobs, &aside).unwrap();
    std::fs::write(&blobs, b"not a directory").unwrap();
    let (status, body) = app.ops_get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "unready");
    assert_eq!(body["checks"]["content"], "failed", "{body}");
    assert_eq!(body["checks"]["metadata"], "ok", "{body}");
    let text = body.to_string();
    assert!(!text.contains(app.dir.path().to_str().unwrap()), "{text}");

    std::fs::remove_file(&blobs).unwrap();
    std::fs::rename(&aside, &blobs).unwrap();
    // Past the time an answer is reused.
    tokio::time::sleep(cabinet::api::ops::READY_CACHE_FOR + Duration::from_millis(100)).await;
    let (status, body) = app.ops_get("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn readyz_is_503_when_the_disk_is_below_its_watermark() {
    // A watermark no disk meets: uploads would be refused, so the node is not ready.
    let app = TestApp::spawn_with_guards(|g| g.min_free_bytes = Some(u64::MAX / 4)).await;
    let (status, body) = app.ops_get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["checks"]["disk"], "full", "{body}");
    assert_eq!(body["checks"]["metadata"], "ok", "{body}");
}

#[tokio::test]
async fn readyz_is_503_when_the_database_is_gone() {
    if !metadata_on_postgres() {
        eprintln!("readyz_is_503_when_the_database_is_gone: skipped, metadata is in SQLite");
        return;
    }
    let mut url = String::new();
    let app = TestApp::spawn_with(|c| {
        if let cabinet::store::backend::MetadataBackend::Postgres(u) = &c.metadata {
            url = u.clone();
        }
    })
    .await;
    assert_eq!(app.ops_get("/readyz").await.0, StatusCode::OK);
    // This test's database only: the cluster keeps serving the other tests.
    let (base, name) = url.rsplit_once('/').unwrap();
    let (admin, connection) =
        tokio_postgres::connect(&format!("{base}/postgres"), tokio_postgres::NoTls)
            .await
            .unwrap();
    let driver = tokio::spawn(connection);
    admin
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
    drop(admin);
    let _ = driver.await;
    tokio::time::sleep(cabinet::api::ops::READY_CACHE_FOR + Duration::from_millis(100)).await;
    let (status, body) = app.ops_get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["checks"]["metadata"], "failed", "{body}");
    assert!(!body.to_string().contains(name), "{body}");
}

#[tokio::test]
async fn metrics_beyond_loopback_need_a_token_or_metrics_public() {
    let beyond = |c: &mut cabinet::app::ServeConfig| {
        c.listen = "0.0.0.0:0".into();
        c.open = true;
    };
    let closed = TestApp::spawn_with(beyond).await;
    let r = closed
        .client
        .get(format!("{}/metrics", closed.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Health stays open: probes carry no token.
    assert_eq!(closed.ops_get("/healthz").await.0, StatusCode::OK);

    let public = TestApp::spawn_with(|c| {
        beyond(c);
        c.metrics_public = true;
    })
    .await;
    public.scrape().await;

    let tokened = TestApp::spawn_with(|c| {
        c.metrics_token = Some(cabinet::api::ops::MetricsToken("scrape-me".into()));
    })
    .await;
    let url = format!("{}/metrics", tokened.base);
    let r = tokened.client.get(&url).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "a token is required even on loopback"
    );
    let r = tokened
        .client
        .get(&url)
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = tokened
        .client
        .get(&url)
        .bearer_auth("scrape-me")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("cabinet_http_requests_total"));
}
