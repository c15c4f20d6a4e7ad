//! cabinet itself: built with cargo, started as `cabinet serve` on a loopback port with a fresh data directory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::client::CabinetApi;
use crate::proc::ServerProcess;

/// The project every workload uses.
pub const PROJECT: &str = "bench";

/// Builds `target/release/cabinet` (a no-op when it is up to date) and returns its path, as cargo reports it.
pub async fn build(workspace: &Path) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    crate::log("building the cabinet server (cargo build --release -p cabinet --bin cabinet)");
    let out = tokio::process::Command::new(&cargo)
        .args([
            "build",
            "--release",
            "-p",
            "cabinet",
            "--bin",
            "cabinet",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(workspace)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .with_context(|| format!("cannot run {cargo}"))?;
    if !out.status.success() {
        bail!("building cabinet failed ({})", out.status);
    }
    // Cargo prints one JSON message per line; the artifact of the `cabinet` binary names the executable.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let exe = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "cabinet")
        .filter_map(|m| m["executable"].as_str().map(PathBuf::from))
        .next_back()
        .context("cargo did not report the cabinet executable")?;
    Ok(exe)
}

/// A running `cabinet serve`.
pub struct Cabinet {
    /// The process.
    pub proc: ServerProcess,
    /// The Files API of project [`PROJECT`].
    pub api: CabinetApi,
    /// From spawning the process to its `cabinet listening on` line.
    pub to_listening: Duration,
    /// When the process was spawned.
    pub spawned: Instant,
}

/// Starts `cabinet serve --listen 127.0.0.1:0 --data-dir DIR` and waits for its `listening` line.
/// Logging is set to `warn` so per-request log lines do not cost the server CPU (as nginx runs with
/// `access_log off`).
pub async fn start(
    bin: &Path,
    data_dir: &Path,
    client: &reqwest::Client,
) -> anyhow::Result<Cabinet> {
    start_with(bin, data_dir, client, &[], &[]).await
}

/// [`start`] with more `serve` arguments and environment variables (the cluster's `--metadata`,
/// `--content` and S3 credentials).
pub async fn start_with(
    bin: &Path,
    data_dir: &Path,
    client: &reqwest::Client,
    args: &[String],
    envs: &[(&str, &str)],
) -> anyhow::Result<Cabinet> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let log = data_dir.with_extension("log");
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .envs(envs.iter().copied())
        .env("RUST_LOG", "warn");
    let spawned = Instant::now();
    let mut proc = ServerProcess::spawn("cabinet", &mut cmd, "TERM", &log, true)?;
    let stdout = proc
        .child_mut()
        .and_then(|c| c.stdout.take())
        .context("cabinet's stdout is not piped")?;
    let mut lines = BufReader::new(stdout);
    let mut first = String::new();
    let read = tokio::time::timeout(Duration::from_secs(120), lines.read_line(&mut first)).await;
    let to_listening = spawned.elapsed();
    match read {
        Ok(Ok(n)) if n > 0 => {}
        Ok(_) => {
            proc.check_alive()?;
            bail!(
                "cabinet closed its stdout without a listening line; log:\n{}",
                proc.log_tail()
            )
        }
        Err(_) => bail!(
            "cabinet printed no listening line within 120 s; log:\n{}",
            proc.log_tail()
        ),
    }
    let base = first
        .trim()
        .strip_prefix("cabinet listening on ")
        .with_context(|| format!("unexpected first line from cabinet: {first:?}"))?
        .to_string();
    // Keep reading stdout so the server can never block on a full pipe.
    tokio::spawn(async move {
        let mut sink = Vec::new();
        let _ = lines.read_to_end(&mut sink).await;
    });
    Ok(Cabinet {
        api: CabinetApi::new(client.clone(), &base, PROJECT),
        proc,
        to_listening,
        spawned,
    })
}

/// The version of the server crate and the commit it was built from.
pub async fn version(workspace: &Path) -> String {
    let rev = tokio::process::Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=10"])
        .current_dir(workspace)
        .output()
        .await
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown commit".into());
    format!("cabinet {} (git {rev})", cabinet_version())
}

fn cabinet_version() -> &'static str {
    // The bench is versioned with the workspace; the server crate's own version is in its manifest.
    const MANIFEST: &str = include_str!("../../../cabinet/Cargo.toml");
    MANIFEST
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or("?")
}
