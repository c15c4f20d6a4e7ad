//! The `cabinet` command.

use std::io::Write;
use std::path::PathBuf;

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
    } = Cli::parse().command;
    let app = match Application::build(ServeConfig {
        public_url,
        ..ServeConfig::new(listen, data_dir)
    })
    .await
    {
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
