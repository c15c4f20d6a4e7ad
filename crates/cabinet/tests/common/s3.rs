//! A real S3 server for tests: SeaweedFS (`weed mini`, installed by `scripts/install-seaweedfs` into
//! `<target>/seaweedfs-venv`, or the binary named by `CABINET_TEST_WEED`), one per test process, on
//! loopback ports picked by the kernel, in a fresh directory. It checks request signatures like AWS.
//!
//! It is started by a thread that lives as long as the process and asked to die with that thread
//! (`PR_SET_PDEATHSIG`), so it stops when the test binary exits, however it exits; the directories of
//! earlier runs whose process is gone are removed at the next start.
//!
//! Each caller gets its own prefix in one shared bucket ([`SeaweedFs::location`]), so tests stay apart.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The test credentials the server checks signatures with.
pub const ACCESS_KEY: &str = "cabinet-test-key";
/// The secret of [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "cabinet-test-secret";
/// The bucket every test uses (each under its own prefix).
pub const BUCKET: &str = "cabinet-test";

const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running SeaweedFS.
pub struct SeaweedFs {
    /// `http://127.0.0.1:PORT`, the S3 endpoint.
    pub endpoint: String,
    /// Its data directory.
    pub dir: PathBuf,
    pid: u32,
}

impl SeaweedFs {
    /// The server of this test process, started on first use. Panics, saying how to install it, when
    /// SeaweedFS is not installed.
    pub fn shared() -> &'static SeaweedFs {
        static SERVER: OnceLock<SeaweedFs> = OnceLock::new();
        SERVER.get_or_init(|| match start() {
            Ok(server) => server,
            Err(e) => panic!("cannot start SeaweedFS for the S3 tests: {e}"),
        })
    }

    /// A fresh `s3://BUCKET/PREFIX` location nobody else uses.
    pub fn location(&self) -> String {
        format!("s3://{BUCKET}/{}", fresh_prefix())
    }

    /// The settings of a store on a fresh prefix.
    pub fn settings(&self) -> cabinet::blob::s3::S3Settings {
        cabinet::blob::s3::S3Settings {
            bucket: BUCKET.to_string(),
            prefix: fresh_prefix(),
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".to_string()),
            path_style: true,
            credentials: Some((ACCESS_KEY.to_string(), SECRET_KEY.to_string())),
        }
    }

    /// The variables and flags a `cabinet serve` process needs to use this server.
    pub fn serve_args(&self, location: &str) -> Vec<String> {
        vec![
            "--content".into(),
            location.into(),
            "--s3-endpoint".into(),
            self.endpoint.clone(),
            "--s3-region".into(),
            "us-east-1".into(),
            "--s3-path-style".into(),
        ]
    }

    /// The process id of `weed`.
    pub fn pid(&self) -> u32 {
        self.pid
    }
}

fn fresh_prefix() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "t{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .get(..8)
            .unwrap_or("0")
    )
}

/// `weed`: `CABINET_TEST_WEED`, else the one `scripts/install-seaweedfs` puts under the target directory.
fn weed_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("CABINET_TEST_WEED") {
        return Ok(PathBuf::from(path));
    }
    let target = target_dir();
    let path = target.join("seaweedfs-venv/bin/weed");
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: run scripts/install-seaweedfs (with the same CARGO_TARGET_DIR), or set \
             CABINET_TEST_WEED to a `weed` binary",
            path.display()
        ))
    }
}

fn target_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is <target>/tmp.
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().map(Path::to_path_buf).unwrap_or(tmp)
}

fn free_ports(n: usize) -> Result<Vec<u16>, String> {
    // Held together so the kernel hands out distinct ports; released just before `weed` binds them.
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()).map_err(|e| e.to_string()))
        .collect()
}

fn remove_dirs_of_dead_runs(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name
            .strip_prefix("seaweedfs-")
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn start() -> Result<SeaweedFs, String> {
    let weed = weed_binary()?;
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    remove_dirs_of_dead_runs(&root);
    let dir = root.join(format!("seaweedfs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let p = free_ports(16)?;
    let args: Vec<String> = vec![
        format!("-dir={}", dir.join("data").display()),
        "-ip=127.0.0.1".into(),
        "-ip.bind=127.0.0.1".into(),
        "-master.telemetry=false".into(),
        "-admin.ui=false".into(),
        "-webdav=false".into(),
        format!("-s3.port={}", p[0]),
        format!("-s3.port.grpc={}", p[1]),
        format!("-s3.port.iceberg={}", p[2]),
        format!("-s3.port.lance={}", p[3]),
        format!("-master.port={}", p[4]),
        format!("-master.port.grpc={}", p[5]),
        format!("-volume.port={}", p[6]),
        format!("-volume.port.grpc={}", p[7]),
        format!("-filer.port={}", p[8]),
        format!("-filer.port.grpc={}", p[9]),
        format!("-admin.port={}", p[10]),
        format!("-admin.port.grpc={}", p[11]),
        format!("-debug.port={}", p[12]),
        format!("-s3.debug.port={}", p[13]),
        format!("-webdav.port={}", p[14]),
        format!("-s3.metricsPort={}", p[15]),
    ];
    std::fs::create_dir_all(dir.join("data")).map_err(|e| e.to_string())?;
    let log = std::fs::File::create(dir.join("weed.log")).map_err(|e| e.to_string())?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    let mut command = Command::new(&weed);
    command
        .arg("mini")
        .args(&args)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    // The thread that spawns it never ends, so the death signal comes only when the process ends.
    let (sent, received) = std::sync::mpsc::channel::<Result<Child, String>>();
    std::thread::Builder::new()
        .name("seaweedfs-parent".into())
        .spawn(move || {
            use std::os::unix::process::CommandExt;
            // SAFETY: prctl is async-signal-safe and touches only the child's own state.
            unsafe {
                command.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let _ = sent.send(command.spawn().map_err(|e| e.to_string()));
            loop {
                std::thread::park();
            }
        })
        .map_err(|e| e.to_string())?;
    let child = received
        .recv()
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot run {}: {e}", weed.display()))?;
    let pid = child.id();
    let endpoint = format!("http://127.0.0.1:{}", p[0]);
    let started = Instant::now();
    while http_status(p[0], "GET", "/").is_none() {
        if started.elapsed() > READY_TIMEOUT {
            return Err(format!(
                "SeaweedFS did not answer within {READY_TIMEOUT:?}; see {}",
                dir.join("weed.log").display()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // A bucket is a folder under /buckets of the filer.
    loop {
        match http_status(p[8], "POST", &format!("/buckets/{BUCKET}/")) {
            Some(s) if (200..300).contains(&s) => break,
            _ if started.elapsed() > READY_TIMEOUT => {
                return Err(format!(
                    "cannot create the bucket; see {}",
                    dir.join("weed.log").display()
                ))
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    Ok(SeaweedFs { endpoint, dir, pid })
}

/// The status of a bodiless request on loopback, `None` when nothing answers.
fn http_status(port: u16, method: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}
