//! `cabinet files`: a client for any CDF Files endpoint (cabinet or CDF itself).
//!
//! The connection options are global, so they may come before or after the subcommand, and each also reads
//! the variable the Cognite tools use (`CDF_BASE_URL`, `CDF_PROJECT`, `CDF_TOKEN`, …).

mod auth;
mod client;
mod download;
mod ls;
mod progress;
mod sync;
mod upload;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

/// `cabinet files …`
#[derive(Args)]
pub struct FilesArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    command: FilesCommand,
}

/// Where the API is and how to authenticate, as the Cognite SDKs name these.
#[derive(Args, Clone)]
pub struct Connection {
    /// The API's base URL, e.g. http://127.0.0.1:8765 or https://westeurope-1.cognitedata.com.
    #[arg(long, env = "CDF_BASE_URL", global = true, value_name = "URL")]
    base_url: Option<String>,
    /// The CDF project.
    #[arg(long, env = "CDF_PROJECT", global = true)]
    project: Option<String>,
    /// A bearer token; alternatively the OAuth client-credentials options below.
    #[arg(long, env = "CDF_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// OAuth client id (client-credentials grant).
    #[arg(long, env = "CDF_CLIENT_ID", global = true)]
    client_id: Option<String>,
    /// OAuth client secret.
    #[arg(long, env = "CDF_CLIENT_SECRET", global = true, hide_env_values = true)]
    client_secret: Option<String>,
    /// OAuth token endpoint.
    #[arg(long, env = "CDF_TOKEN_URL", global = true, value_name = "URL")]
    token_url: Option<String>,
    /// OAuth scopes, separated by spaces or commas.
    #[arg(long, env = "CDF_SCOPES", global = true)]
    scopes: Option<String>,
}

#[derive(Subcommand)]
enum FilesCommand {
    /// Upload files and whole directory trees (resumable: run it again after an interruption).
    Upload(upload::UploadArgs),
    /// Download files by id, externalId or directory prefix (resumable with ranges).
    Download(download::DownloadArgs),
    /// List files.
    Ls(ls::LsArgs),
    /// Show one file's metadata as JSON.
    Stat(ls::StatArgs),
    /// Delete files.
    Rm(ls::RmArgs),
    /// Search files by name.
    Search(ls::SearchArgs),
    /// One-way incremental sync: `sync LOCAL_DIR cdf:DIRECTORY` or `sync cdf:DIRECTORY LOCAL_DIR`.
    Sync(sync::SyncArgs),
}

/// Runs one `cabinet files` command: output on stdout, progress and errors on stderr, exit 1 on failure.
pub async fn run(args: FilesArgs) -> ExitCode {
    let result = async {
        let client = client::Client::connect(&args.connection).await?;
        match &args.command {
            FilesCommand::Upload(a) => upload::run(&client, a).await,
            FilesCommand::Download(a) => download::run(&client, a).await,
            FilesCommand::Ls(a) => ls::ls(&client, a).await,
            FilesCommand::Stat(a) => ls::stat(&client, a).await,
            FilesCommand::Rm(a) => ls::rm(&client, a).await,
            FilesCommand::Search(a) => ls::search(&client, a).await,
            FilesCommand::Sync(a) => sync::run(&client, a).await,
        }
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cabinet files: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The directory for the CLI's resume state: `$CABINET_STATE_DIR`, else `$XDG_CACHE_HOME/cabinet`, else
/// `~/.cache/cabinet`, else `./.cabinet`.
fn state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CABINET_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("cabinet");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".cache").join("cabinet");
    }
    PathBuf::from(".cabinet")
}

/// A test hook: the value of a numeric environment variable, when set. Used to stop a transfer midway
/// (`CABINET_FILES_PAUSE_AFTER_PARTS`, `CABINET_FILES_PAUSE_AFTER_BYTES`) so tests can kill the process
/// at a known point.
fn pause_hook(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}

/// Stops this process's progress forever (the test hook above): says so on stderr, then sleeps until
/// killed.
async fn pause_forever(what: &str) -> ! {
    eprintln!("paused: {what}");
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
}

/// Metadata keys the CLI writes: the content's size (the Files API has no size field) and, with
/// `--checksum`, its SHA-256.
pub const SIZE_KEY: &str = "cabinet:size";
pub const SHA256_KEY: &str = "cabinet:sha256";

/// The size the uploader recorded in a file's metadata, when it did.
fn recorded_size(file: &serde_json::Value) -> Option<u64> {
    file["metadata"][SIZE_KEY].as_str()?.parse().ok()
}
