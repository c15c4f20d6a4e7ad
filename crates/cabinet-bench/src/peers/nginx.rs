//! nginx, the speed peer: WebDAV PUT for uploads, static GET for downloads and the request-rate ceiling.
//! Debian's package, installed with apt-get if missing, run from a temporary prefix with our own config.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};

use crate::proc::{self, ServerProcess};

/// An installed nginx.
#[derive(Debug, Clone)]
pub struct NginxInstall {
    /// The executable.
    pub bin: PathBuf,
    /// `nginx/1.22.1` and the WebDAV extension package, as installed.
    pub version: String,
}

/// The 64-byte file served for the request-rate ceiling.
pub const TINY_PATH: &str = "/tiny.bin";

fn find() -> Option<PathBuf> {
    proc::which("nginx").or_else(|| {
        let p = PathBuf::from("/usr/sbin/nginx");
        p.is_file().then_some(p)
    })
}

/// Finds nginx, installing `nginx` and `libnginx-mod-http-dav-ext` with apt-get when `install` allows.
pub async fn ensure_installed(install: bool) -> anyhow::Result<NginxInstall> {
    let dav_ext = Path::new("/usr/lib/nginx/modules/ngx_http_dav_ext_module.so");
    if find().is_none() || !dav_ext.exists() {
        if !install {
            bail!("nginx is not installed (apt-get install -y nginx libnginx-mod-http-dav-ext)");
        }
        if !is_root() {
            bail!("nginx is missing and installing it needs root: sudo apt-get install -y nginx libnginx-mod-http-dav-ext");
        }
        crate::log("installing nginx with apt-get");
        apt_install(&["nginx", "libnginx-mod-http-dav-ext"]).await?;
    }
    let bin = find().context("nginx is still not on PATH after installing it")?;
    let out = tokio::process::Command::new(&bin)
        .arg("-v")
        .output()
        .await
        .with_context(|| format!("cannot run {}", bin.display()))?;
    let v = String::from_utf8_lossy(&out.stderr);
    let mut version = v.trim().trim_start_matches("nginx version: ").to_string();
    if let Ok(pkg) = proc::run_checked(
        "dpkg-query",
        &[
            "-W",
            "-f",
            "${Package} ${Version}\n",
            "nginx",
            "libnginx-mod-http-dav-ext",
        ],
        &[],
    )
    .await
    {
        let pkgs: Vec<&str> = pkg.lines().filter(|l| !l.trim().is_empty()).collect();
        version = format!("{version} (Debian packages: {})", pkgs.join(", "));
    }
    Ok(NginxInstall { bin, version })
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|u| u.split_whitespace().next().map(|x| x == "0"))
        })
        .unwrap_or(false)
}

/// `apt-get install -y`, after `apt-get update` if the first attempt fails (stale or missing lists).
/// A temporary `policy-rc.d` keeps the package from starting the system nginx on port 80.
async fn apt_install(pkgs: &[&str]) -> anyhow::Result<()> {
    let policy = Path::new("/usr/sbin/policy-rc.d");
    let own_policy = !policy.exists() && std::fs::write(policy, "#!/bin/sh\nexit 101\n").is_ok();
    if own_policy {
        let _ = proc::run_checked("chmod", &["755", "/usr/sbin/policy-rc.d"], &[]).await;
    }
    let env = [("DEBIAN_FRONTEND", "noninteractive")];
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend_from_slice(pkgs);
    let mut result = proc::run_checked("apt-get", &args, &env).await;
    if result.is_err() {
        crate::log("apt-get install failed; running apt-get update and retrying");
        result = match proc::run_checked("apt-get", &["update"], &env).await {
            Ok(_) => proc::run_checked("apt-get", &args, &env).await,
            Err(e) => Err(e),
        };
    }
    if own_policy {
        let _ = std::fs::remove_file(policy);
    }
    result.map(|_| ())
}

/// A running nginx.
pub struct Nginx {
    /// The master process (its workers are its children).
    pub proc: ServerProcess,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

/// Writes a config under `prefix` and starts nginx in the foreground: WebDAV PUT/DELETE under `/dav/`
/// (stored in `prefix/www/dav`, also served by static GET), and a static root with a 64-byte file.
/// Settings are those of a production static server (sendfile, no access log, long keep-alive).
pub async fn start(inst: &NginxInstall, prefix: &Path) -> anyhow::Result<Nginx> {
    for d in [
        "conf",
        "logs",
        "tmp/body",
        "tmp/proxy",
        "tmp/fastcgi",
        "tmp/uwsgi",
        "tmp/scgi",
        "www/dav",
    ] {
        std::fs::create_dir_all(prefix.join(d))
            .with_context(|| format!("cannot create {}", prefix.join(d).display()))?;
    }
    std::fs::write(
        prefix.join("www").join(TINY_PATH.trim_start_matches('/')),
        [b'x'; 64],
    )
    .context("cannot write the 64-byte static file")?;
    let port = proc::free_port()?;
    let p = prefix.display();
    let conf = format!(
        r#"daemon off;
master_process on;
user root;
worker_processes auto;
pid {p}/logs/nginx.pid;
error_log {p}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 600s;
    keepalive_requests 1000000;
    types {{ application/octet-stream bin; }}
    default_type application/octet-stream;
    client_body_temp_path {p}/tmp/body;
    proxy_temp_path {p}/tmp/proxy;
    fastcgi_temp_path {p}/tmp/fastcgi;
    uwsgi_temp_path {p}/tmp/uwsgi;
    scgi_temp_path {p}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {p}/www;
        location /dav/ {{
            dav_methods PUT DELETE;
            create_full_put_path on;
            client_max_body_size 0;
            client_body_buffer_size 1m;
        }}
        location / {{
        }}
    }}
}}
"#
    );
    let conf_path = prefix.join("conf/nginx.conf");
    std::fs::write(&conf_path, conf)
        .with_context(|| format!("cannot write {}", conf_path.display()))?;
    let mut cmd = tokio::process::Command::new(&inst.bin);
    cmd.arg("-p")
        .arg(prefix)
        .arg("-c")
        .arg(&conf_path)
        .arg("-e")
        .arg(prefix.join("logs/error.log"));
    let mut proc = ServerProcess::spawn(
        "nginx",
        &mut cmd,
        "TERM",
        &prefix.join("logs/stderr.log"),
        false,
    )?;
    proc::wait_for_port(port, &mut proc, Duration::from_secs(20))
        .await
        .with_context(|| {
            let log = std::fs::read_to_string(prefix.join("logs/error.log")).unwrap_or_default();
            format!("nginx did not start; error.log:\n{log}")
        })?;
    // The workers appear shortly after the listening socket; wait for them so RSS covers them too.
    for _ in 0..200 {
        if proc.tree_pids().len() > 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(Nginx {
        proc,
        base: format!("http://127.0.0.1:{port}"),
    })
}
