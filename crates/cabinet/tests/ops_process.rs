//! The operational surface of the real `cabinet` binary: JSON logs and the access log, and settings that
//! come from the configuration file, `CABINET_*` variables and flags.
//!
//! The tests run one at a time ([`SERIAL`]): one of them sets `CABINET_*` variables, which the servers the
//! others start would inherit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

mod common;
use common::server::{Server, PROJECT};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A configuration with the process tests' project, a service token `process-test` with full files
/// access, and `extra` keys.
fn write_config(root: &Path, extra: &str) -> PathBuf {
    common::config::write_service_token_config(
        root,
        PROJECT,
        "process-test",
        "process-test-token",
        extra,
    )
}

/// The access-log entries of a JSON log, once `count` of them are there (at most 5 s). Every line of the
/// log must be a JSON object.
async fn access_lines(server: &Server, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let logs = server.logs();
        let lines: Vec<Value> = logs
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l)
                    .unwrap_or_else(|e| panic!("a log line is no JSON ({e}): {l}"))
            })
            .collect();
        let access: Vec<Value> = lines
            .into_iter()
            .filter(|l| l["target"] == "cabinet::access")
            .collect();
        if access.len() >= count || Instant::now() > deadline {
            return access;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn json_access_lines_carry_the_request_id_principal_and_project() {
    let _serial = SERIAL.lock().await;
    let root = tempfile::tempdir().unwrap();
    let config = write_config(root.path(), "log_format = \"json\"");
    let server =
        Server::start_with(root.path(), &["--config", config.to_str().unwrap()], None).await;
    let r = server
        .client
        .post(server.url("/files/list"))
        .bearer_auth("process-test-token")
        .header("x-request-id", "ops-test-1")
        .json(&json!({"limit": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-request-id"], "ops-test-1");
    let r = server
        .client
        .post(server.url("/files/list"))
        .bearer_auth("not-a-token")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let generated = r.headers()["x-request-id"].to_str().unwrap().to_string();

    let access = access_lines(&server, 2).await;
    let find = |id: &str| {
        access
            .iter()
            .find(|l| l["fields"]["request_id"] == id)
            .unwrap_or_else(|| panic!("no access line for {id} in {access:?}"))
            .clone()
    };
    let ok = find("ops-test-1");
    let fields = &ok["fields"];
    assert_eq!(ok["level"], "INFO");
    assert_eq!(fields["principal"], "process-test", "{ok}");
    assert_eq!(fields["project"], PROJECT, "{ok}");
    assert_eq!(fields["route"], "/api/v1/projects/{project}/files/list");
    assert_eq!(fields["method"], "POST");
    assert_eq!(fields["status"], 200);
    assert_eq!(fields["bytes_in"], 11, "{ok}"); // {"limit":5}
    assert!(fields["bytes_out"].as_u64().unwrap() > 0, "{ok}");
    assert!(fields["duration_ms"].as_f64().unwrap() >= 0.0, "{ok}");

    let refused = find(&generated);
    assert_eq!(refused["fields"]["status"], 401, "{refused}");
    assert_eq!(refused["fields"]["principal"], "-", "{refused}");
    server.stop().await;
}

#[tokio::test]
async fn settings_come_from_the_file_the_variables_and_the_flags() {
    let _serial = SERIAL.lock().await;
    let root = tempfile::tempdir().unwrap();
    // From the file: JSON logs and no upload slot at all (every content upload is turned away).
    let config = write_config(root.path(), "log_format = \"json\"\nmax_uploads = 0");
    let config = config.to_str().unwrap();
    let server = Server::start_with(root.path(), &["--config", config], None).await;
    let created = server.create("refused", false).await;
    let status = server
        .put(created["uploadUrl"].as_str().unwrap(), b"x".to_vec())
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "max_uploads = 0");
    assert!(!access_lines(&server, 2).await.is_empty());
    server.stop().await;

    // A flag wins over the file: text logs, a slot for the upload.
    let server = Server::start_with(
        root.path(),
        &[
            "--config",
            config,
            "--log-format",
            "text",
            "--max-uploads",
            "2",
        ],
        None,
    )
    .await;
    let created = server.create("taken", false).await;
    let status = server
        .put(created["uploadUrl"].as_str().unwrap(), b"x".to_vec())
        .await;
    assert_eq!(status, StatusCode::OK);
    let logs = server.logs();
    assert!(
        logs.lines()
            .all(|l| serde_json::from_str::<Value>(l).is_err()),
        "{logs}"
    );
    server.stop().await;

    // Variables: JSON logs and a metrics token, with no file.
    std::env::set_var("CABINET_LOG_FORMAT", "json");
    std::env::set_var("CABINET_METRICS_TOKEN", "from-the-environment");
    let server = Server::start_with(root.path(), &[], None).await;
    std::env::remove_var("CABINET_LOG_FORMAT");
    std::env::remove_var("CABINET_METRICS_TOKEN");
    let metrics = format!("{}/metrics", server.base);
    let r = server.client.get(&metrics).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = server
        .client
        .get(&metrics)
        .bearer_auth("from-the-environment")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!access_lines(&server, 2).await.is_empty());
    server.stop().await;
}

/// `cabinet` with `args`, without any `CABINET_*` variable of the environment the tests run in.
fn cabinet_command(args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cabinet"));
    command.args(args).env("NO_COLOR", "1");
    for (name, _) in std::env::vars() {
        if name.starts_with("CABINET_") {
            command.env_remove(name);
        }
    }
    command
}

#[tokio::test]
async fn config_check_validates_the_operational_keys() {
    let _serial = SERIAL.lock().await;
    let root = tempfile::tempdir().unwrap();
    let good = write_config(
        root.path(),
        "log_format = \"json\"\nmetrics_token = \"very-secret-scrape\"\nmetrics_public = false\n\
         max_uploads = 8\njanitor_interval_secs = 60\ns3_path_style = true",
    );
    let output = cabinet_command(&["config", "check", good.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for needle in [
        "log_format: json",
        "metrics_token: (set)",
        "metrics_public: false",
        "max_uploads: 8",
        "janitor_interval_secs: 60 s",
        "s3_path_style: true",
    ] {
        assert!(stdout.contains(needle), "no {needle:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("very-secret-scrape"), "{stdout}");

    for (text, fault) in [
        ("log_format = \"xml\"", "log_format"),
        ("max_uploads = \"many\"", "max_uploads"),
        ("metrics_token = \" \"", "metrics_token"),
        ("metrics_tokn = \"x\"", "unknown field `metrics_tokn`"),
    ] {
        let bad = root.path().join("bad.toml");
        std::fs::write(&bad, text).unwrap();
        let output = cabinet_command(&["config", "check", bad.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{text} was accepted");
        assert!(stderr.contains(fault), "{text}: {stderr}");
    }
}
