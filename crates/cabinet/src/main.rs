//! The `cabinet` command.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use cabinet::app::{shutdown_signal, Application, ServeConfig, DEFAULT_LISTEN};

#[derive(Parser)]
#[command(
    name = "cabinet",
    version,
    about = "A self-hostable file service that speaks the CDF Files API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API on the embedded default: SQLite metadata and content on the local disk.
    Serve {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, env = "CABINET_LISTEN", default_value = DEFAULT_LISTEN)]
        listen: String,
        /// Directory for the database, the content and the secret key; created if missing.
        #[arg(long, env = "CABINET_DATA_DIR", default_value = "./cabinet-data")]
        data_dir: PathBuf,
        /// Base of the upload and download URLs handed to clients [default: http://<the request's Host>,
        /// or http://<listen address> without a valid Host].
        #[arg(long, env = "CABINET_PUBLIC_URL")]
        public_url: Option<String>,
        /// Refuse uploads (507) while fewer bytes than this would stay free [default: 256 MiB, at most 2 %
        /// of the filesystem].
        #[arg(long, env = "CABINET_MIN_FREE_BYTES")]
        min_free_bytes: Option<u64>,
        /// Bytes held back in a preallocated file so that deletes work on a full disk [default: 32 MiB,
        /// at most 1 % of the filesystem].
        #[arg(long, env = "CABINET_DISK_RESERVE_BYTES")]
        disk_reserve_bytes: Option<u64>,
        /// Seconds before unreferenced content, parts and staged files are collected.
        #[arg(long, env = "CABINET_ORPHAN_GRACE_SECS", default_value_t = 3600)]
        orphan_grace_secs: u64,
        /// Seconds between janitor runs (expiry and the orphan collector); it also runs at start-up.
        #[arg(long, env = "CABINET_JANITOR_INTERVAL_SECS", default_value_t = 3600)]
        janitor_interval_secs: u64,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let Command::Serve {
        listen,
        data_dir,
        public_url,
        min_free_bytes,
        disk_reserve_bytes,
        orphan_grace_secs,
        janitor_interval_secs,
    } = Cli::parse().command;
    let mut config = ServeConfig {
        public_url,
        ..ServeConfig::new(listen, data_dir)
    };
    config.guards.min_free_bytes = min_free_bytes;
    config.guards.disk_reserve_bytes = disk_reserve_bytes;
    config.guards.orphan_grace = Duration::from_secs(orphan_grace_secs);
    config.guards.janitor_interval = Duration::from_secs(janitor_interval_secs.max(1));
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("cabinet: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // The first line on stdout tells scripts and tests where the server is, once it accepts connections.
    println!("cabinet listening on http://{}", app.local_addr());
    let _ = std::io::stdout().flush();
    tracing::info!(public_url = app.public_url(), "serving");
    match app.run_until(shutdown_signal()).await {
        Ok(()) => {
            tracing::info!("stopped");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cabinet: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
