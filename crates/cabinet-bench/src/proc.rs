//! Server processes: spawn, find their workers, read their memory from /proc, stop them.
//!
//! Every server the benchmark starts is owned by a [`ServerProcess`]; dropping one stops its process, so
//! an error or Ctrl-C anywhere still leaves nothing running.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// A running server process (for nginx: its master, whose workers are found through /proc).
pub struct ServerProcess {
    name: String,
    child: Option<tokio::process::Child>,
    pid: u32,
    stop_signal: &'static str,
    log_path: PathBuf,
}

impl ServerProcess {
    /// Spawns `cmd` with stderr (and stdout, unless `pipe_stdout`) going to `log_path`. `stop_signal`
    /// (`TERM`, `INT`) is what makes the server stop gracefully.
    pub fn spawn(
        name: &str,
        cmd: &mut tokio::process::Command,
        stop_signal: &'static str,
        log_path: &Path,
        pipe_stdout: bool,
    ) -> anyhow::Result<Self> {
        let log = std::fs::File::create(log_path)
            .with_context(|| format!("cannot create the log {}", log_path.display()))?;
        if pipe_stdout {
            cmd.stdout(std::process::Stdio::piped());
        } else {
            cmd.stdout(log.try_clone().context("cannot share the log file")?);
        }
        cmd.stderr(log)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        let pid = child
            .id()
            .with_context(|| format!("{name} exited at once"))?;
        Ok(Self {
            name: name.to_string(),
            child: Some(child),
            pid,
            stop_signal,
            log_path: log_path.to_path_buf(),
        })
    }

    /// The child, to take its stdout.
    pub fn child_mut(&mut self) -> Option<&mut tokio::process::Child> {
        self.child.as_mut()
    }

    /// Fails with the tail of the server's log when the process has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(child) = self.child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                bail!(
                    "{} exited ({status}); its log ends with:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
        }
        Ok(())
    }

    /// The process and all its descendants (nginx workers).
    pub fn tree_pids(&self) -> Vec<u32> {
        descendants(self.pid)
    }

    /// Sum of the peak resident set (VmHWM) of the process tree, in MiB: over a fresh process's life,
    /// the most memory it ever held.
    pub fn peak_rss_mib(&self) -> anyhow::Result<f64> {
        sum_status_kb(&self.tree_pids(), "VmHWM:").map(|kb| kb as f64 / 1024.0)
    }

    /// Sum of the current resident set (VmRSS) of the process tree, in MiB.
    pub fn rss_mib(&self) -> anyhow::Result<f64> {
        sum_status_kb(&self.tree_pids(), "VmRSS:").map(|kb| kb as f64 / 1024.0)
    }

    /// The last lines of the server's stderr, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Asks the server to stop, waits up to 15 s for it, then kills it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if let Ok(Some(_)) = child.try_wait() {
            return Ok(());
        }
        send_signal(self.pid, self.stop_signal);
        match tokio::time::timeout(Duration::from_secs(15), child.wait()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e).with_context(|| format!("cannot wait for {}", self.name)),
            Err(_) => {
                let _ = child.kill().await;
                bail!(
                    "{} did not stop within 15 s of SIG{}; killed it",
                    self.name,
                    self.stop_signal
                )
            }
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        // A graceful signal first: killing the nginx master outright would orphan its workers.
        send_signal(self.pid, self.stop_signal);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.start_kill();
    }
}

/// Sends `SIG<sig>` to `pid` with kill(1), which keeps this crate free of unsafe code.
pub fn send_signal(pid: u32, sig: &str) {
    let _ = std::process::Command::new("kill")
        .args(["-s", sig, &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// `pid` and every process descending from it, from the parent links in /proc/*/stat.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
                continue;
            };
            // The command name may contain spaces: the fields after the last ')' are fixed.
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
                continue;
            };
            if let Some(ppid) = rest
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse::<u32>().ok())
            {
                children.entry(ppid).or_default().push(p);
            }
        }
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        if let Some(c) = children.get(&out[i]) {
            out.extend(c.iter().copied());
        }
        i += 1;
    }
    out
}

/// Sum of a `/proc/PID/status` field (in kB) over `pids`.
fn sum_status_kb(pids: &[u32], field: &str) -> anyhow::Result<u64> {
    let mut total = 0;
    for pid in pids {
        let path = format!("/proc/{pid}/status");
        let status =
            std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        let kb = status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .with_context(|| format!("no {field} in {path}"))?;
        total += kb;
    }
    Ok(total)
}

/// A port that was free a moment ago (for peers that cannot be told to pick one and report it).
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
    Ok(l.local_addr()?.port())
}

/// Waits until something accepts TCP connections on the loopback port.
pub async fn wait_for_port(
    port: u16,
    server: &mut ServerProcess,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        server.check_alive()?;
        if Instant::now() > deadline {
            bail!(
                "nothing listens on port {port} after {timeout:?}; log:\n{}",
                server.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Runs a command to completion, failing with its output when it fails.
pub async fn run_checked(
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> anyhow::Result<String> {
    let out = tokio::process::Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .with_context(|| format!("cannot run {program}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(10).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "`{program} {}` failed ({}):\n{}",
            args.join(" "),
            out.status,
            tail.join("\n")
        );
    }
    Ok(stdout)
}

/// Where an executable is: a path as given if it exists, else the first match on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let direct = Path::new(name);
    if direct.components().count() > 1 {
        return direct.is_file().then(|| direct.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
