//! Two `cabinet serve` processes on one PostgreSQL database and one SeaweedFS bucket, as two nodes of a
//! deployment behind a load balancer: what one node writes the other serves, URLs and cursors handed out
//! by one are honoured by the other, racing creates of one externalId give one 201 and one 409, and a
//! node killed mid-flight leaves the other serving. No secret is configured: the nodes share the one
//! kept in PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/s3.rs"]
mod s3;

use std::time::Duration;

use common::postgres::fresh_database;
use common::server::Server;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The whole test is bounded: a hung node fails it instead of stalling the run.
const LIMIT: Duration = std::time::Duration::from_secs(120);

async fn two_nodes(root: &std::path::Path) -> (Server, Server) {
    let seaweed = s3::SeaweedFs::shared();
    // Set before either process starts: the nodes read their S3 credentials from the environment.
    std::env::set_var("AWS_ACCESS_KEY_ID", s3::ACCESS_KEY);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", s3::SECRET_KEY);
    let mut args = seaweed.serve_args(&seaweed.location());
    args.extend(["--metadata".to_string(), fresh_database().await]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (a_root, b_root) = (root.join("a"), root.join("b"));
    std::fs::create_dir_all(&a_root).unwrap();
    std::fs::create_dir_all(&b_root).unwrap();
    let a = Server::start_with(&a_root, &args, None).await;
    let b = Server::start_with(&b_root, &args, None).await;
    (a, b)
}

/// `url` (handed out by `from`) pointed at node `to` instead, as a load balancer would route it.
fn on(url: &str, from: &Server, to: &Server) -> String {
    url.replacen(&from.base, &to.base, 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_serve_one_deployment() {
    let root = tempfile::tempdir().unwrap();
    tokio::time::timeout(LIMIT, async {
        let (mut a, b) = two_nodes(root.path()).await;

        // Created and uploaded through A (its upload URL used on B), read, listed and searched on B.
        let created = a.create("pump-report", false).await;
        let upload = on(created["uploadUrl"].as_str().unwrap(), &a, &b);
        assert_eq!(b.put(&upload, b"from a".to_vec()).await, StatusCode::OK);
        let on_b = b.by_external_ids(&["pump-report"]).await;
        assert_eq!(on_b[0]["id"], created["id"]);
        assert_eq!(on_b[0]["uploaded"], json!(true));
        assert_eq!(b.download("pump-report").await, b"from a");
        let signed_by_a = a.download_url("pump-report").await;
        let got = b.client.get(on(&signed_by_a, &a, &b)).send().await.unwrap();
        assert_eq!(
            got.status(),
            StatusCode::OK,
            "a download URL signed by A, on B"
        );
        assert_eq!(got.bytes().await.unwrap().as_ref(), b"from a");
        let (status, found) = b
            .post("/files/search", json!({"search": {"name": "pump"}}))
            .await;
        assert_eq!(status, StatusCode::OK, "{found}");
        assert_eq!(found["items"][0]["externalId"], json!("pump-report"));

        // A cursor from A continued on B.
        for i in 0..4 {
            a.create(&format!("walk-{i}"), false).await;
        }
        let (status, first) = a.post("/files/list", json!({"limit": 2})).await;
        assert_eq!(status, StatusCode::OK, "{first}");
        let cursor = first["nextCursor"].as_str().expect("a cursor").to_string();
        let (status, rest) = b
            .post("/files/list", json!({"limit": 10, "cursor": cursor}))
            .await;
        assert_eq!(status, StatusCode::OK, "{rest}");
        let ids = |page: &Value| -> Vec<Value> {
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["externalId"].clone())
                .collect()
        };
        let mut walked = ids(&first);
        walked.extend(ids(&rest));
        assert_eq!(
            walked,
            ["pump-report", "walk-0", "walk-1", "walk-2", "walk-3"].map(|x| json!(x)),
            "the walk goes on where A left it, every file once"
        );

        // Racing creates of one externalId: one 201 and one 409, every round.
        for round in 0..10 {
            let body = json!({"name": "race.bin", "externalId": format!("race-{round}")});
            let (ra, rb) = tokio::join!(a.post("/files", body.clone()), b.post("/files", body));
            let mut statuses = [ra.0, rb.0];
            statuses.sort();
            assert_eq!(
                statuses,
                [StatusCode::CREATED, StatusCode::CONFLICT],
                "round {round}: {ra:?} {rb:?}"
            );
        }

        // A dies; B keeps serving, and writes there.
        a.kill().await;
        assert_eq!(b.download("pump-report").await, b"from a");
        let after = b.create("after-a", false).await;
        assert_eq!(
            b.put(after["uploadUrl"].as_str().unwrap(), b"b alone".to_vec())
                .await,
            StatusCode::OK
        );
        assert_eq!(b.download("after-a").await, b"b alone");
        b.stop().await;
    })
    .await
    .expect("the test took too long");
}
