//! The `cabinet` command.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use cabinet::app::{shutdown_signal, Application, Guards, ServeConfig, DEFAULT_LISTEN};

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
        #[command(flatten)]
        guards: GuardFlags,
    },
}

/// The connection and transfer guards (see `cabinet::guards::Guards` for what each one bounds).
#[derive(Args)]
struct GuardFlags {
    /// Seconds a connection has to send a complete request header (from accept, or from the first byte of
    /// a request on a kept-alive connection).
    #[arg(long, env = "CABINET_HEADER_READ_TIMEOUT", value_name = "SECS",
          default_value_t = Guards::default().header_read_timeout.as_secs())]
    header_read_timeout: u64,
    /// Seconds a kept-alive connection may stay silent after its last response.
    #[arg(long, env = "CABINET_IDLE_TIMEOUT", value_name = "SECS",
          default_value_t = Guards::default().idle_timeout.as_secs())]
    idle_timeout: u64,
    /// Seconds a response write may make no progress (the client does not read) before the connection
    /// is closed.
    #[arg(long, env = "CABINET_WRITE_STALL_TIMEOUT", value_name = "SECS",
          default_value_t = Guards::default().write_stall_timeout.as_secs())]
    write_stall_timeout: u64,
    /// Seconds a request body may send nothing while the server waits for it.
    #[arg(long, env = "CABINET_BODY_IDLE_TIMEOUT", value_name = "SECS",
          default_value_t = Guards::default().body_idle_timeout.as_secs())]
    body_idle_timeout: u64,
    /// Least rate of a request body in bytes per second, averaged over each body idle timeout; 0 for none.
    #[arg(long, env = "CABINET_MIN_BODY_RATE", value_name = "BYTES",
          default_value_t = Guards::default().min_body_rate)]
    min_body_rate: u64,
    /// Content uploads in progress at once; more are answered 503 with Retry-After.
    #[arg(long, env = "CABINET_MAX_UPLOADS", value_name = "N",
          default_value_t = Guards::default().max_uploads)]
    max_uploads: usize,
    /// Content downloads in progress at once; more are answered 503 with Retry-After.
    #[arg(long, env = "CABINET_MAX_DOWNLOADS", value_name = "N",
          default_value_t = Guards::default().max_downloads)]
    max_downloads: usize,
    /// Refuse uploads (507) while fewer bytes than this would stay free [default: 256 MiB, at most 2 %
    /// of the filesystem].
    #[arg(long, env = "CABINET_MIN_FREE_BYTES", value_name = "BYTES")]
    min_free_bytes: Option<u64>,
    /// Bytes held back in a preallocated file so that deletes work on a full disk [default: 32 MiB, at
    /// most 1 % of the filesystem].
    #[arg(long, env = "CABINET_DISK_RESERVE_BYTES", value_name = "BYTES")]
    disk_reserve_bytes: Option<u64>,
    /// Seconds before content, parts and staged files that nothing refers to are collected.
    #[arg(long, env = "CABINET_ORPHAN_GRACE_SECS", value_name = "SECS",
          default_value_t = Guards::default().orphan_grace.as_secs())]
    orphan_grace_secs: u64,
    /// Seconds between janitor runs (expiry and the orphan collector); it also runs at start-up.
    #[arg(long, env = "CABINET_JANITOR_INTERVAL_SECS", value_name = "SECS",
          default_value_t = Guards::default().janitor_interval.as_secs())]
    janitor_interval_secs: u64,
}

impl GuardFlags {
    /// Sets every guard named by a flag (or its variable); the others keep their defaults.
    fn apply(&self, guards: &mut Guards) {
        guards.header_read_timeout = Duration::from_secs(self.header_read_timeout);
        guards.idle_timeout = Duration::from_secs(self.idle_timeout);
        guards.write_stall_timeout = Duration::from_secs(self.write_stall_timeout);
        guards.body_idle_timeout = Duration::from_secs(self.body_idle_timeout);
        guards.min_body_rate = self.min_body_rate;
        guards.max_uploads = self.max_uploads;
        guards.max_downloads = self.max_downloads;
        guards.min_free_bytes = self.min_free_bytes;
        guards.disk_reserve_bytes = self.disk_reserve_bytes;
        guards.orphan_grace = Duration::from_secs(self.orphan_grace_secs);
        guards.janitor_interval = Duration::from_secs(self.janitor_interval_secs.max(1));
    }
}

/// Raises the soft limit on open descriptors to the hard one: every connection and transfer holds one,
/// and the common default of 1024 is soon reached.
fn raise_open_files_limit() {
    match cabinet::server::rlimit::raise_open_files_limit() {
        Ok((before, after)) if before < after => {
            tracing::info!("open files limit raised from {before} to {after}");
        }
        Ok((_, after)) => tracing::info!("open files limit: {after}"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open files limit"),
    }
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
        guards,
    } = Cli::parse().command;
    raise_open_files_limit();
    let mut config = ServeConfig {
        public_url,
        ..ServeConfig::new(listen, data_dir)
    };
    guards.apply(&mut config.guards);
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
