//! s3s-fs, the S3-compatible peer: installed with `cargo install` if missing, addressed with SigV4
//! presigned URLs (path style).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};

use crate::client;
use crate::proc::{self, ServerProcess};
use crate::sigv4::Presigner;

/// The version the platform notes were checked with (0.17 needs a newer rustc).
pub const VERSION: &str = "0.14.1";
const ACCESS_KEY: &str = "benchaccesskey";
const SECRET_KEY: &str = "benchsecretkey0123456789";
/// The one bucket every workload uses.
pub const BUCKET: &str = "bench";

/// An installed s3s-fs.
#[derive(Debug, Clone)]
pub struct S3sInstall {
    /// The executable.
    pub bin: PathBuf,
    /// The installed version, from `cargo install --list`.
    pub version: String,
}

fn find() -> Option<PathBuf> {
    proc::which("s3s-fs").or_else(|| {
        let home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
        let p = home.join("bin/s3s-fs");
        p.is_file().then_some(p)
    })
}

/// Finds s3s-fs, installing it with `cargo install s3s-fs@0.14.1 --locked --features binary` if allowed.
pub async fn ensure_installed(install: bool) -> anyhow::Result<S3sInstall> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    if find().is_none() {
        if !install {
            bail!("s3s-fs is not installed (cargo install s3s-fs@{VERSION} --locked --features binary)");
        }
        crate::log(&format!(
            "installing s3s-fs {VERSION} with cargo install (a few minutes)"
        ));
        let status = tokio::process::Command::new(&cargo)
            .args([
                "install",
                &format!("s3s-fs@{VERSION}"),
                "--locked",
                "--features",
                "binary",
            ])
            .stdin(std::process::Stdio::null())
            .status()
            .await
            .with_context(|| format!("cannot run {cargo} install"))?;
        if !status.success() {
            bail!("cargo install s3s-fs@{VERSION} failed ({status})");
        }
    }
    let bin = find().context("s3s-fs is not on PATH nor in ~/.cargo/bin after installing it")?;
    let listed = proc::run_checked(&cargo, &["install", "--list"], &[])
        .await
        .unwrap_or_default();
    let version = listed
        .lines()
        .find_map(|l| l.strip_prefix("s3s-fs v"))
        .map(|v| format!("s3s-fs {}", v.trim_end_matches(':')))
        .unwrap_or_else(|| format!("s3s-fs (version unknown, {})", bin.display()));
    Ok(S3sInstall { bin, version })
}

/// A running s3s-fs with its bucket.
pub struct S3s {
    /// The process.
    pub proc: ServerProcess,
    /// Signs the URLs of every request.
    pub presigner: Presigner,
}

impl S3s {
    /// The presigned URL of `method` on object `key` of the bucket, with extra query parameters.
    pub fn url(&self, method: &str, key: &str, query: &[(&str, &str)]) -> anyhow::Result<String> {
        self.presigner
            .presign(method, &format!("/{BUCKET}/{key}"), query, 3600)
    }
}

/// Starts `s3s-fs --host 127.0.0.1 --port P --access-key AK --secret-key SK ROOT` and creates the bucket.
pub async fn start(inst: &S3sInstall, root: &Path, http: &reqwest::Client) -> anyhow::Result<S3s> {
    std::fs::create_dir_all(root).with_context(|| format!("cannot create {}", root.display()))?;
    let port = proc::free_port()?;
    let mut cmd = tokio::process::Command::new(&inst.bin);
    cmd.args([
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--access-key",
        ACCESS_KEY,
        "--secret-key",
        SECRET_KEY,
    ])
    .arg(root);
    let mut proc = ServerProcess::spawn(
        "s3s-fs",
        &mut cmd,
        "INT",
        &root.with_extension("log"),
        false,
    )?;
    proc::wait_for_port(port, &mut proc, Duration::from_secs(20)).await?;
    let presigner = Presigner::new(port, ACCESS_KEY, SECRET_KEY);
    let s3 = S3s { proc, presigner };
    if !root.join(BUCKET).is_dir() {
        let url = s3
            .presigner
            .presign("PUT", &format!("/{BUCKET}"), &[], 3600)?;
        let resp = http
            .put(&url)
            .send()
            .await
            .context("creating the s3s-fs bucket")?;
        client::ok_or_body(resp, "PUT", &url)
            .await
            .context("creating the s3s-fs bucket")?;
    }
    Ok(s3)
}
