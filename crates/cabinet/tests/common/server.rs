//! The real `cabinet` binary for the process-level test binaries: started on a loopback port with a
//! fresh log, talked to over HTTP, stopped politely or killed, its memory and descriptors read from /proc.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

/// The project every process test works in.
pub const PROJECT: &str = "proc-test";

/// A running `cabinet serve` on a loopback port. Killed when dropped; if the test is panicking, its log
/// (stderr) is printed.
pub struct Server {
    pub child: Child,
    pub pid: u32,
    pub base: String,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    pub client: reqwest::Client,
    /// Time from spawning the process to reading its "listening" line.
    pub started_in: Duration,
    _stdout: BufReader<ChildStdout>,
}

impl Server {
    /// Starts the server on `root/data`, logging to a fresh `root/server-N.log`.
    pub async fn start(root: &Path) -> Server {
        Self::start_with(root, &[], None).await
    }

    /// [`Server::start`] with extra `cabinet serve` arguments, and under the open-files limits
    /// `(soft, hard)` when given.
    pub async fn start_with(root: &Path, args: &[&str], nofile: Option<(u64, u64)>) -> Server {
        let data_dir = root.join("data");
        let n = std::fs::read_dir(root)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("server-"))
            })
            .count();
        let log = root.join(format!("server-{n}.log"));
        let stderr = std::fs::File::create(&log).unwrap();
        let began = Instant::now();
        let mut command = Command::new(env!("CARGO_BIN_EXE_cabinet"));
        command
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&data_dir)
            .args(args)
            .env_remove("CABINET_LISTEN")
            .env_remove("CABINET_DATA_DIR")
            .env_remove("CABINET_PUBLIC_URL")
            .env_remove("CABINET_CONFIG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true);
        if let Some((soft, hard)) = nofile {
            // SAFETY: the closure runs in the child between fork and exec and only calls setrlimit, which
            // is async-signal-safe, on a struct it owns.
            unsafe {
                command.pre_exec(move || {
                    let limit = libc::rlimit {
                        rlim_cur: soft,
                        rlim_max: hard,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = command.spawn().expect("the cabinet binary starts");
        let pid = child.id().expect("a pid");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(10), stdout.read_line(&mut line)).await;
        let started_in = began.elapsed();
        let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
        match read {
            Ok(Ok(n)) if n > 0 => {}
            Ok(Ok(_)) => panic!(
                "the server closed stdout without a line (exit: {:?}); its log:\n{}",
                child.try_wait(),
                log_text()
            ),
            Ok(Err(e)) => panic!("reading the server's stdout failed: {e}"),
            Err(_) => panic!("no line on stdout within 10 s; the log:\n{}", log_text()),
        }
        let port = line
            .strip_prefix("cabinet listening on http://127.0.0.1:")
            .and_then(|rest| rest.strip_suffix('\n'))
            .and_then(|port| port.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("unexpected first line on stdout: {line:?}"));
        assert_ne!(port, 0, "the server reported port 0");
        Server {
            child,
            pid,
            base: format!("http://127.0.0.1:{port}"),
            data_dir,
            log,
            client: client(),
            started_in,
            _stdout: stdout,
        }
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn staging(&self) -> PathBuf {
        self.data_dir.join("staging")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1/projects/{PROJECT}{path}", self.base)
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let resp = self
            .client
            .post(self.url(path))
            .bearer_auth("process-test-token")
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path} failed: {e}"));
        let status = resp.status();
        let bytes = resp.bytes().await.expect("a response body");
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, body)
    }

    /// Creates (or, with `overwrite`, overwrites) the file with this externalId; returns the response
    /// with its `uploadUrl`.
    pub async fn create(&self, external_id: &str, overwrite: bool) -> Value {
        let path = if overwrite {
            "/files?overwrite=true"
        } else {
            "/files"
        };
        let (status, body) = self
            .post(
                path,
                json!({ "name": format!("{external_id}.bin"), "externalId": external_id }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "POST {path}: {body}");
        assert!(body["id"].is_i64(), "no id in {body}");
        assert!(body["uploadUrl"].is_string(), "no uploadUrl in {body}");
        body
    }

    /// PUTs `content` whole to an upload URL and returns the status.
    pub async fn put(&self, upload_url: &str, content: Vec<u8>) -> StatusCode {
        self.client
            .put(upload_url)
            .body(content)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PUT {upload_url} failed: {e}"))
            .status()
    }

    /// The files with these externalIds, in order.
    pub async fn by_external_ids(&self, external_ids: &[&str]) -> Vec<Value> {
        let items: Vec<Value> = external_ids
            .iter()
            .map(|x| json!({ "externalId": x }))
            .collect();
        let (status, body) = self.post("/files/byids", json!({ "items": items })).await;
        assert_eq!(status, StatusCode::OK, "byids: {body}");
        let files = body["items"].as_array().expect("items").clone();
        assert_eq!(files.len(), external_ids.len(), "byids: {body}");
        for (file, x) in files.iter().zip(external_ids) {
            assert_eq!(file["externalId"], json!(x), "byids order: {body}");
        }
        files
    }

    pub async fn download_url(&self, external_id: &str) -> String {
        let (status, body) = self
            .post(
                "/files/downloadlink",
                json!({ "items": [{ "externalId": external_id }] }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "downloadlink: {body}");
        assert_eq!(body["items"][0]["externalId"], json!(external_id), "{body}");
        body["items"][0]["downloadUrl"]
            .as_str()
            .unwrap_or_else(|| panic!("no downloadUrl in {body}"))
            .to_string()
    }

    /// The whole content of a file, through a download link (fetched without a token).
    pub async fn download(&self, external_id: &str) -> Vec<u8> {
        let url = self.download_url(external_id).await;
        let resp = self.client.get(&url).send().await.expect("GET downloadUrl");
        assert_eq!(resp.status(), StatusCode::OK, "GET {url}");
        resp.bytes().await.expect("the content").to_vec()
    }

    pub fn signal_term(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM {} failed", self.pid);
    }

    /// Waits for the process to exit, failing the test after `limit`.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(status) => status.expect("wait for the server"),
            Err(_) => panic!(
                "the server did not exit within {limit:?}; its log:\n{}",
                self.logs()
            ),
        }
    }

    /// SIGTERM, then asserts a clean exit (code 0) within 15 s.
    pub async fn stop(mut self) {
        self.signal_term();
        let status = self.wait_exit(Duration::from_secs(15)).await;
        assert_eq!(
            status.code(),
            Some(0),
            "exit after SIGTERM: {status}; the log:\n{}",
            self.logs()
        );
    }

    /// SIGKILL, and waits for the process to be gone.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("SIGKILL the server");
    }

    /// The `host:port` the server listens on.
    pub fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// Files in the staging directory now.
    pub fn staged(&self) -> usize {
        std::fs::read_dir(self.staging())
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Descriptors the process has open now.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// A `/proc/PID/status` figure in KiB (`VmHWM:`, `RssAnon:`…).
    pub fn status_kib(&self, field: &str) -> u64 {
        proc_status_kib(self.pid, field)
    }

    /// The peak resident set size (VmHWM) of the process so far, in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        proc_status_kib(self.pid, "VmHWM:")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- log of the cabinet server on {} ({}) ----\n{}",
                self.base,
                self.log.display(),
                self.logs()
            );
        }
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client")
}

pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status:\n{status}"))
}
