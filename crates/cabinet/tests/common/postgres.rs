//! A throwaway PostgreSQL cluster for the tests that need the real server: one per test process, created on
//! first use (initdb into a temporary directory, trust authentication, loopback only), with a fresh
//! database per test. `scripts/install-postgres` installs the binaries on a fresh Debian machine.
//!
//! The test harness has no hook that runs when the process ends, so the cluster is stopped and removed by a
//! watchdog: a small shell, in a process group of its own (so Ctrl-C does not kill it first), that waits
//! for its stdin to close, which happens when the test process exits however it exits, then stops the
//! server and deletes the directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio_postgres::NoTls;

/// The running cluster of this test process.
pub struct Cluster {
    /// Data directory; also holds the unix socket and the server log.
    pub dir: PathBuf,
    /// The loopback TCP port it listens on.
    pub port: u16,
    /// Held open for the life of the process; its closing tells the watchdog to clean up.
    _watchdog: Mutex<ChildStdin>,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// The cluster, started on first call. Panics with the reason when PostgreSQL cannot be started.
pub fn cluster() -> &'static Cluster {
    match CLUSTER.get_or_init(start) {
        Ok(cluster) => cluster,
        Err(why) => panic!("cannot start a PostgreSQL test cluster: {why}"),
    }
}

/// A new, empty database on the cluster, as a `postgres://` URL.
pub async fn fresh_database() -> String {
    let cluster = cluster();
    let name = format!(
        "t_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::Relaxed)
    );
    let admin = cluster.url("postgres");
    let (client, connection) = tokio_postgres::connect(&admin, NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {admin}: {e}"));
    let driver = tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
    drop(client);
    let _ = driver.await;
    cluster.url(&name)
}

impl Cluster {
    /// The URL of database `db` on this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The newest installed PostgreSQL's bin directory.
fn bin_dir() -> Result<PathBuf, String> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| {
            format!("/usr/lib/postgresql: {e}; run scripts/install-postgres (as root) first")
        })?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| "no initdb under /usr/lib/postgresql; run scripts/install-postgres".into())
}

/// A command that runs as the `postgres` user when we are root (PostgreSQL refuses to run as root).
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: Command, what: &str) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn start() -> Result<Cluster, String> {
    let bin = bin_dir()?;
    let dir = tempfile::Builder::new()
        .prefix("cabinet-pg-")
        .tempdir()
        .map_err(|e| format!("temporary directory: {e}"))?
        .keep();
    if is_root() {
        run(
            {
                let mut c = Command::new("chown");
                c.arg("postgres:").arg(&dir);
                c
            },
            "chown",
        )?;
    }
    // The watchdog first, so that even a failed start is cleaned up.
    let script = format!(
        "cat >/dev/null; {stop} -D '{dir}' -m immediate -w stop >/dev/null 2>&1; rm -rf '{dir}'",
        stop = if is_root() {
            format!("runuser -u postgres -- '{}'", bin.join("pg_ctl").display())
        } else {
            format!("'{}'", bin.join("pg_ctl").display())
        },
        dir = dir.display(),
    );
    let mut watchdog = {
        use std::os::unix::process::CommandExt;
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("watchdog: {e}"))?
    };
    let stdin = watchdog
        .stdin
        .take()
        .ok_or_else(|| "watchdog has no stdin".to_string())?;

    let mut initdb = as_owner(&bin.join("initdb"));
    initdb.arg("-D").arg(&dir).args([
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
        "--no-sync",
    ]);
    run(initdb, "initdb")?;

    // A port below the ephemeral range (32768 and up), so it never collides with an outgoing connection;
    // another process may hold it, so a few are tried. fsync is off: the cluster dies with the tests.
    let mut last = String::new();
    for _ in 0..8 {
        let port: u16 = 20000 + (rand::random::<u16>() % 12000);
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c full_page_writes=off \
             -c max_connections=300",
            dir.display()
        );
        let mut pg_ctl = as_owner(&bin.join("pg_ctl"));
        pg_ctl
            .arg("-D")
            .arg(&dir)
            .arg("-l")
            .arg(dir.join("log"))
            .args(["-w", "-t", "30", "-o", &options, "start"]);
        match run(pg_ctl, "pg_ctl start") {
            Ok(()) => {
                return Ok(Cluster {
                    dir,
                    port,
                    _watchdog: Mutex::new(stdin),
                })
            }
            Err(e) => {
                last = format!(
                    "{e}\n{}",
                    std::fs::read_to_string(dir.join("log")).unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    Err(last)
}
