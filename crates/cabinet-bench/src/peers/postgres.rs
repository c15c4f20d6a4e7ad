//! A throwaway PostgreSQL for the cluster workload: `initdb` into a fresh directory under the run's work
//! directory (trust authentication, loopback only), then `postgres` in the foreground, owned by a
//! [`ServerProcess`] like every other server, so it stops with the run and its directory goes with the
//! work directory. The binaries are Debian's (`scripts/install-postgres`), found under
//! `/usr/lib/postgresql/<version>/bin`.
//!
//! Unlike the tests' cluster (crates/cabinet/tests/common/postgres.rs) this one keeps `fsync` on: the
//! benchmark measures durable creates, and SQLite's figures beside them are durable too.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};

use crate::proc::{self, ServerProcess};

/// The superuser and the only role the benchmark uses.
const USER: &str = "postgres";

/// A running PostgreSQL.
pub struct Postgres {
    /// The `postgres` process (through `setpriv` when the benchmark runs as root).
    pub proc: ServerProcess,
    /// Its loopback port.
    pub port: u16,
    /// The server version, e.g. `PostgreSQL 15.14`.
    pub version: String,
}

impl Postgres {
    /// The URL of database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates the empty database `name` and returns its URL.
    pub async fn create_database(&self, name: &str) -> anyhow::Result<String> {
        let client = connect(&self.url("postgres")).await?;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .with_context(|| format!("cannot create the database {name}"))?;
        Ok(self.url(name))
    }
}

/// A connection to `url`, its driver running on a task of its own.
pub async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .with_context(|| format!("cannot connect to {url}"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            crate::log(&format!("PostgreSQL connection ended: {e}"));
        }
    });
    Ok(client)
}

/// The newest installed PostgreSQL's bin directory.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("/usr/lib/postgresql: PostgreSQL is not installed (scripts/install-postgres)")?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!("no initdb under /usr/lib/postgresql (scripts/install-postgres)"),
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1))
                == Some("0")
        })
        .unwrap_or(false)
}

/// `program` run as the `postgres` user when we are root (PostgreSQL refuses to run as root). `setpriv`
/// execs the program in place, so the pid we hold is PostgreSQL's own and our stop signal reaches it
/// (`runuser` would stay in between, and does not pass SIGINT on).
fn as_owner(program: &Path) -> tokio::process::Command {
    if is_root() {
        let mut cmd = tokio::process::Command::new("setpriv");
        cmd.args(["--reuid", USER, "--regid", USER, "--init-groups", "--"])
            .arg(program);
        cmd
    } else {
        tokio::process::Command::new(program)
    }
}

/// Creates a cluster in `dir` (which must not exist yet) and starts it on a free loopback port.
pub async fn start(dir: &Path) -> anyhow::Result<Postgres> {
    let bin = bin_dir()?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if is_root() {
        let mut chown = tokio::process::Command::new("chown");
        chown.arg(format!("{USER}:")).arg(dir);
        run(chown, "chown").await?;
    }
    let mut initdb = as_owner(&bin.join("initdb"));
    initdb.arg("-D").arg(dir).args([
        "-U",
        USER,
        "--auth=trust",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
        "--no-sync",
    ]);
    run(initdb, "initdb").await?;
    let port = proc::free_port()?;
    let mut cmd = as_owner(&bin.join("postgres"));
    cmd.arg("-D").arg(dir).args([
        "-p",
        &port.to_string(),
        "-c",
        "listen_addresses=127.0.0.1",
        "-k",
    ]);
    cmd.arg(dir).args([
        "-c",
        "max_connections=300",
        "-c",
        "shared_buffers=256MB",
        "-c",
        "max_wal_size=4GB",
    ]);
    // SIGINT is PostgreSQL's fast shutdown.
    let mut proc = ServerProcess::spawn(
        "postgres",
        &mut cmd,
        "INT",
        &dir.with_extension("log"),
        false,
    )?;
    proc::wait_for_port(port, &mut proc, Duration::from_secs(60)).await?;
    let mut pg = Postgres {
        proc,
        port,
        version: String::new(),
    };
    // The port is open a moment before the server accepts logins.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let client = loop {
        match connect(&pg.url("postgres")).await {
            Ok(c) => break c,
            Err(e) if std::time::Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    pg.version = client
        .query_one("SHOW server_version", &[])
        .await
        .and_then(|r| r.try_get::<_, String>(0))
        .map(|v| format!("PostgreSQL {v}"))
        .unwrap_or_else(|_| "PostgreSQL (version unknown)".into());
    Ok(pg)
}

async fn run(mut cmd: tokio::process::Command, what: &str) -> anyhow::Result<()> {
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
