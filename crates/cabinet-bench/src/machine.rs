//! The machine and software versions a run measured, for the report's header.

use std::path::Path;

use serde::Serialize;

use crate::peers::{cabinet, nginx::NginxInstall, s3s::S3sInstall, seaweedfs::WeedInstall};

/// Where and with what a run measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Machine {
    /// When the run started (UTC).
    pub date_utc: String,
    /// CPU model name.
    pub cpu: String,
    /// Logical cores available.
    pub cores: usize,
    /// Total memory in GiB.
    pub memory_gib: f64,
    /// Operating system.
    pub os: String,
    /// Kernel release.
    pub kernel: String,
    /// Load average when the run started (the machine may be shared).
    pub loadavg_at_start: String,
    /// rustc version the server was built with.
    pub rustc: String,
    /// cabinet version and commit.
    pub cabinet: String,
    /// nginx version, or why it is missing.
    pub nginx: String,
    /// s3s-fs version, or why it is missing.
    pub s3s: String,
    /// SeaweedFS version (the durable peer and the cluster's S3 server), or why it is missing.
    pub seaweedfs: String,
    /// The load generator.
    pub client: String,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Describes this machine and the software under test.
pub async fn describe(
    workspace: &Path,
    nginx: &anyhow::Result<NginxInstall>,
    s3s: &anyhow::Result<S3sInstall>,
    weed: &Result<WeedInstall, String>,
) -> Machine {
    let cpuinfo = read("/proc/cpuinfo");
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mem_kb = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    let os = read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "unknown".into());
    let rustc =
        tokio::process::Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
            .arg("-V")
            .output()
            .await
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "unknown".into());
    Machine {
        date_utc: now_utc(),
        cpu,
        cores,
        memory_gib: mem_kb / (1024.0 * 1024.0),
        os,
        kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
        loadavg_at_start: read("/proc/loadavg").split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        rustc,
        cabinet: cabinet::version(workspace).await,
        nginx: match nginx {
            Ok(n) => n.version.clone(),
            Err(e) => format!("unavailable: {e:#}"),
        },
        s3s: match s3s {
            Ok(s) => s.version.clone(),
            Err(e) => format!("unavailable: {e:#}"),
        },
        seaweedfs: match weed {
            Ok(w) => w.version.clone(),
            Err(e) => format!("unavailable: {e}"),
        },
        client: format!(
            "reqwest 0.12 (hyper 1) on one tokio runtime with {cores} worker threads, on the same machine"
        ),
    }
}

fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) = crate::sigv4::civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        s / 3600,
        s / 60 % 60
    )
}
