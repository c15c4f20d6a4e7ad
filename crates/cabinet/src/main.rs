//! The `cabinet` command.

use std::io::Write;
use std::path::PathBuf;

use cabinet::logging::LogFormat;
use clap::{Args, Parser, Subcommand};

use cabinet::app::{shutdown_signal, Application, Guards, ServeConfig};
use cabinet::config::{ConfigFile, Overrides};

mod cli;

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
    Serve(Box<ServeArgs>),
    /// Work with configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Work with service tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Work with the keys that sign upload and download URLs.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Copy an embedded data directory (SQLite and local content) into PostgreSQL and an S3 bucket.
    Migrate(Box<MigrateArgs>),
    /// A client for any CDF Files API: upload, download, ls, stat, rm, search, sync.
    Files(Box<cli::files::FilesArgs>),
}

/// `cabinet migrate`: resumable; run it again after an interruption.
#[derive(Args)]
struct MigrateArgs {
    /// The data directory of the embedded server (stopped).
    #[arg(long, value_name = "DATA_DIR")]
    from: PathBuf,
    /// The target database: postgres://USER:PASSWORD@HOST:PORT/DATABASE.
    #[arg(long, env = "CABINET_METADATA", value_name = "URL")]
    metadata: String,
    /// The target bucket: s3://BUCKET[/PREFIX]. Credentials come from AWS_ACCESS_KEY_ID /
    /// AWS_SECRET_ACCESS_KEY.
    #[arg(long, env = "CABINET_CONTENT", value_name = "s3://BUCKET[/PREFIX]")]
    content: String,
    /// The S3 endpoint URL, for a server other than AWS [default: AWS_ENDPOINT_URL].
    #[arg(long, value_name = "URL")]
    s3_endpoint: Option<String>,
    /// The S3 region [default: AWS_REGION, else us-east-1].
    #[arg(long, value_name = "REGION")]
    s3_region: Option<String>,
    /// Path-style S3 requests (ENDPOINT/BUCKET/KEY), which most self-hosted S3 servers need.
    #[arg(long)]
    s3_path_style: bool,
    /// Files copied at once.
    #[arg(long, default_value_t = 8, value_name = "N")]
    concurrency: usize,
}

/// `cabinet migrate`: prints the summary, or why it stopped (exit 1).
async fn migrate(args: &MigrateArgs) -> std::process::ExitCode {
    let options = (|| -> anyhow::Result<cabinet::migrate::MigrateOptions> {
        let backend: cabinet::store::backend::MetadataBackend =
            args.metadata.parse().map_err(anyhow::Error::msg)?;
        let cabinet::store::backend::MetadataBackend::Postgres(metadata) = backend else {
            anyhow::bail!("--metadata must be a postgres:// URL");
        };
        let mut content = cabinet::blob::s3::S3Settings::parse_location(&args.content)
            .unwrap_or_else(|| Err("--content must be s3://BUCKET[/PREFIX]".to_string()))
            .map_err(anyhow::Error::msg)?;
        content.endpoint = args.s3_endpoint.clone();
        content.region = args.s3_region.clone();
        content.path_style = args.s3_path_style;
        Ok(cabinet::migrate::MigrateOptions {
            from: args.from.clone(),
            metadata,
            content,
            concurrency: args.concurrency,
        })
    })();
    let done = match options {
        Ok(options) => cabinet::migrate::run(&options).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(summary) => {
            println!("{summary}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cabinet: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `cabinet serve`: each flag (or its variable) wins over the configuration file, which wins over the
/// default.
#[derive(Args)]
struct ServeArgs {
    /// A TOML configuration file: listen, public_url, data_dir and the projects with their groups and
    /// service tokens (see the README). Without projects, the server runs in open mode.
    #[arg(long, env = "CABINET_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port [default: 127.0.0.1:8765].
    #[arg(long, env = "CABINET_LISTEN")]
    listen: Option<String>,
    /// Directory for the database, the content and the secret key; created if missing [default:
    /// ./cabinet-data].
    #[arg(long, env = "CABINET_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Base of the upload and download URLs handed to clients [default: http://<the request's Host>,
    /// or http://<listen address> without a valid Host].
    #[arg(long, env = "CABINET_PUBLIC_URL")]
    public_url: Option<String>,
    /// Where metadata lives: postgres://USER:PASSWORD@HOST:PORT/DATABASE for a database shared by several
    /// nodes [default: SQLite in the data directory]. Not complete yet: the server refuses to start with it.
    #[arg(long, env = "CABINET_METADATA", value_name = "URL")]
    metadata: Option<String>,
    /// Keep content in an S3-compatible bucket instead of the data directory: s3://BUCKET[/PREFIX].
    /// Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
    #[arg(long, env = "CABINET_CONTENT", value_name = "s3://BUCKET[/PREFIX]")]
    content: Option<String>,
    /// How content reaches the bucket: `proxy` streams it through cabinet; `direct` hands out presigned
    /// S3 URLs, so clients upload to and download from the bucket itself. `direct` needs --content s3://…
    /// [default: proxy].
    #[arg(long, env = "CABINET_CONTENT_TRANSFER", value_name = "proxy|direct")]
    content_transfer: Option<String>,
    /// The S3 endpoint URL, for a server other than AWS [default: AWS_ENDPOINT_URL].
    #[arg(long, env = "CABINET_S3_ENDPOINT", value_name = "URL")]
    s3_endpoint: Option<String>,
    /// The S3 region [default: AWS_REGION, else us-east-1].
    #[arg(long, env = "CABINET_S3_REGION", value_name = "REGION")]
    s3_region: Option<String>,
    /// Path-style S3 requests (ENDPOINT/BUCKET/KEY), which most self-hosted S3 servers need;
    /// `--s3-path-style=false` turns off a `true` of the configuration file.
    #[arg(long, env = "CABINET_S3_PATH_STYLE", num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
        value_name = "BOOL")]
    s3_path_style: Option<bool>,
    /// A file holding the root secret that every node of a deployment must share (text of at least 32
    /// characters, e.g. from `openssl rand -hex 32`); the variable CABINET_SECRET may hold it instead
    /// [default: the data directory's secret.key; with --metadata postgres://, one kept in the database].
    #[arg(long, env = "CABINET_SECRET_FILE", value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// Serve in open mode (any bearer token, every project) on an address other than loopback, where it
    /// is otherwise refused. Anyone who reaches the port can then read and write everything.
    /// `--open=false` turns off a `true` of the configuration file.
    #[arg(long, env = "CABINET_OPEN", num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
        value_name = "BOOL")]
    open: Option<bool>,
    /// Log lines on stderr as text or as one JSON object per line [default: text].
    #[arg(long, env = "CABINET_LOG_FORMAT", value_name = "text|json")]
    log_format: Option<String>,
    /// The bearer token GET /metrics requires, on every address. Without it, /metrics is open on
    /// loopback and refused elsewhere unless --metrics-public.
    #[arg(
        long,
        env = "CABINET_METRICS_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    metrics_token: Option<String>,
    /// Serve GET /metrics without a token on an address other than loopback;
    /// `--metrics-public=false` turns off a `true` of the configuration file.
    #[arg(long, env = "CABINET_METRICS_PUBLIC", num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
        value_name = "BOOL")]
    metrics_public: Option<bool>,
    #[command(flatten)]
    guards: GuardFlags,
}

impl ServeArgs {
    /// The server's configuration: the file (if any) under the flags and variables given.
    fn serve_config(&self) -> anyhow::Result<ServeConfig> {
        let file = match &self.config {
            Some(path) => ConfigFile::load(path)?,
            None => ConfigFile::default(),
        };
        let mut config = file.serve_config(Overrides {
            listen: self.listen.clone(),
            data_dir: self.data_dir.clone(),
            public_url: self.public_url.clone(),
            metadata: self.metadata.clone(),
            content: self.content.clone(),
            content_transfer: self.content_transfer.clone(),
        })?;
        // A boolean given as a flag or variable wins over the file either way (`--open=false`).
        config.open = self.open.unwrap_or(config.open);
        config.metrics_public = self.metrics_public.unwrap_or(config.metrics_public);
        if let Some(token) = &self.metrics_token {
            if token.trim().is_empty() {
                anyhow::bail!("--metrics-token must not be empty");
            }
            config.metrics_token = Some(cabinet::api::ops::MetricsToken(token.trim().into()));
        }
        config.secret = configured_secret(
            self.secret_file.as_deref().or(file.secret_file.as_deref()),
            std::env::var_os("CABINET_SECRET"),
        )?;
        if let Some(s3) = &mut config.content {
            if let Some(endpoint) = &self.s3_endpoint {
                s3.endpoint = Some(endpoint.clone());
            }
            if let Some(region) = &self.s3_region {
                s3.region = Some(region.clone());
            }
            s3.path_style = self.s3_path_style.unwrap_or(s3.path_style);
        }
        self.guards.apply(&mut config.guards);
        Ok(config)
    }

    /// `--log-format` (or `CABINET_LOG_FORMAT`), else the configuration file's `log_format`, else text.
    fn log_format(&self) -> anyhow::Result<LogFormat> {
        if let Some(format) = &self.log_format {
            return format
                .parse()
                .map_err(|e: String| anyhow::anyhow!("--log-format: {e}"));
        }
        match &self.config {
            Some(path) => ConfigFile::load(path)?.log_format(),
            None => Ok(LogFormat::default()),
        }
    }
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file and print what it says: projects, identity providers, groups and
    /// their capabilities, service tokens' subjects.
    Check {
        /// The TOML file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Read a token on stdin and print its SHA-256 (hex), for a `[[project.service_token]]` entry.
    /// Surrounding whitespace is not part of the token.
    Hash,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new current URL signing key. Running servers use it for new URLs within seconds; URLs
    /// signed with earlier keys keep working until they expire, and keys whose URLs have all expired
    /// are pruned.
    Rotate(DataDirArgs),
    /// Print the URL signing keys: ids, creation times, which is current (never the keys themselves).
    List(DataDirArgs),
}

/// The data directory of `cabinet keys`, found as `cabinet serve` finds it.
#[derive(Args)]
struct DataDirArgs {
    /// The configuration file the server runs with (for its `data_dir`).
    #[arg(long, env = "CABINET_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The server's data directory [default: the configuration's data_dir, or ./cabinet-data].
    #[arg(long, env = "CABINET_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The deployment's PostgreSQL (postgres://…), whose key ring every node shares; instead of a data
    /// directory.
    #[arg(long, env = "CABINET_METADATA", value_name = "URL")]
    metadata: Option<String>,
}

/// Where a deployment's URL key ring lives.
enum RingPlace {
    /// In this data directory (the embedded store).
    DataDir(PathBuf),
    /// In the PostgreSQL database at this URL, shared by every node.
    Cluster(String),
}

impl DataDirArgs {
    /// The ring `cabinet serve` with the same flags and configuration would use.
    fn ring(&self) -> anyhow::Result<RingPlace> {
        let file = match &self.config {
            Some(path) => ConfigFile::load(path)?,
            None => ConfigFile::default(),
        };
        if let Some(url) = self.metadata.clone().or_else(|| file.metadata.clone()) {
            return Ok(RingPlace::Cluster(url));
        }
        let config = file.serve_config(Overrides {
            listen: None,
            data_dir: self.data_dir.clone(),
            public_url: None,
            metadata: None,
            content: None,
            content_transfer: None,
        })?;
        Ok(RingPlace::DataDir(config.data_dir))
    }
}

/// Runs `act` on the key ring kept in the PostgreSQL database at `url`, on a blocking thread (the ring
/// store blocks on the database).
async fn on_cluster_ring(
    url: &str,
    act: impl FnOnce(&dyn cabinet::signing::store::KeyRingStore) -> anyhow::Result<String>
        + Send
        + 'static,
) -> anyhow::Result<String> {
    use cabinet::store::postgres::{PgOptions, PgStore};
    let store = PgStore::connect(url, PgOptions::default())
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the metadata store: {e}"))?;
    let ring = store.key_ring_store(tokio::runtime::Handle::current());
    tokio::task::spawn_blocking(move || act(ring.as_ref())).await?
}

/// The root secret from `--secret-file` (or the configuration's `secret_file`) or `CABINET_SECRET`; not a
/// flag of its own, so that it never shows in the process list. Both at once is refused as ambiguous.
fn configured_secret(
    file: Option<&std::path::Path>,
    variable: Option<std::ffi::OsString>,
) -> anyhow::Result<Option<cabinet::secret::Secret>> {
    use anyhow::Context;
    let value = match (file, variable) {
        (Some(_), Some(_)) => {
            anyhow::bail!("give the secret once: --secret-file (or secret_file) or CABINET_SECRET")
        }
        (Some(path), None) => std::fs::read(path)
            .with_context(|| format!("cannot read the secret file {}", path.display()))?,
        (None, Some(text)) => text.into_encoded_bytes(),
        (None, None) => return Ok(None),
    };
    cabinet::secret::Secret::from_configured(&value)
        .map(Some)
        .map_err(|why| anyhow::anyhow!("the configured secret: {why}"))
}

/// `cabinet keys rotate|list`: prints what it did or found, or why it could not (exit 1).
async fn keys(command: &KeysCommand) -> std::process::ExitCode {
    let (KeysCommand::Rotate(args) | KeysCommand::List(args)) = command;
    let rotate = matches!(command, KeysCommand::Rotate(_));
    let done = match args.ring() {
        Err(e) => Err(e),
        Ok(RingPlace::Cluster(url)) => {
            on_cluster_ring(&url, move |ring| {
                if rotate {
                    cabinet::signing::admin::rotate_in(ring, "PostgreSQL", cabinet::clock::now_ms())
                } else {
                    cabinet::signing::admin::list_in(ring, "PostgreSQL")
                }
            })
            .await
        }
        Ok(RingPlace::DataDir(dir)) if rotate => {
            cabinet::signing::admin::rotate(&dir, cabinet::clock::now_ms())
        }
        Ok(RingPlace::DataDir(dir)) => cabinet::signing::admin::list(&dir),
    };
    match done {
        Ok(text) => {
            print!("{text}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cabinet: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The connection and transfer guards (see `cabinet::guards::Guards` for what each one bounds).
#[derive(Args)]
struct GuardFlags {
    /// Seconds a connection has to send a complete request header (from accept, or from the first byte of
    /// a request on a kept-alive connection) [default: 30].
    #[arg(long, env = "CABINET_HEADER_READ_TIMEOUT", value_name = "SECS")]
    header_read_timeout: Option<u64>,
    /// Seconds a kept-alive connection may stay silent after its last response [default: 60].
    #[arg(long, env = "CABINET_IDLE_TIMEOUT", value_name = "SECS")]
    idle_timeout: Option<u64>,
    /// Seconds a response write may make no progress (the client does not read) before the connection
    /// is closed [default: 60].
    #[arg(long, env = "CABINET_WRITE_STALL_TIMEOUT", value_name = "SECS")]
    write_stall_timeout: Option<u64>,
    /// Seconds a request body may send nothing while the server waits for it [default: 30].
    #[arg(long, env = "CABINET_BODY_IDLE_TIMEOUT", value_name = "SECS")]
    body_idle_timeout: Option<u64>,
    /// Least rate of a request body in bytes per second, averaged over each body idle timeout; 0 for none [default: 1024].
    #[arg(long, env = "CABINET_MIN_BODY_RATE", value_name = "BYTES")]
    min_body_rate: Option<u64>,
    /// Content uploads in progress at once; more are answered 503 with Retry-After [default: 256].
    #[arg(long, env = "CABINET_MAX_UPLOADS", value_name = "N")]
    max_uploads: Option<usize>,
    /// Content downloads in progress at once; more are answered 503 with Retry-After [default: 256].
    #[arg(long, env = "CABINET_MAX_DOWNLOADS", value_name = "N")]
    max_downloads: Option<usize>,
    /// Refuse uploads (507) while fewer bytes than this would stay free [default: 256 MiB, at most 2 %
    /// of the filesystem].
    #[arg(long, env = "CABINET_MIN_FREE_BYTES", value_name = "BYTES")]
    min_free_bytes: Option<u64>,
    /// Bytes held back in a preallocated file so that deletes work on a full disk [default: 32 MiB, at
    /// most 1 % of the filesystem].
    #[arg(long, env = "CABINET_DISK_RESERVE_BYTES", value_name = "BYTES")]
    disk_reserve_bytes: Option<u64>,
    /// Seconds before content, parts and staged files that nothing refers to are collected [default: 3600].
    #[arg(long, env = "CABINET_ORPHAN_GRACE_SECS", value_name = "SECS")]
    orphan_grace_secs: Option<u64>,
    /// Seconds between janitor runs (expiry and the orphan collector); it also runs at start-up [default: 3600].
    #[arg(long, env = "CABINET_JANITOR_INTERVAL_SECS", value_name = "SECS")]
    janitor_interval_secs: Option<u64>,
}

impl GuardFlags {
    /// Sets every guard named by a flag (or its variable); the others keep what the configuration file
    /// or the defaults gave.
    fn apply(&self, guards: &mut Guards) {
        let file = ConfigFile {
            header_read_timeout: self.header_read_timeout,
            idle_timeout: self.idle_timeout,
            write_stall_timeout: self.write_stall_timeout,
            body_idle_timeout: self.body_idle_timeout,
            min_body_rate: self.min_body_rate,
            max_uploads: self.max_uploads,
            max_downloads: self.max_downloads,
            min_free_bytes: self.min_free_bytes,
            disk_reserve_bytes: self.disk_reserve_bytes,
            orphan_grace_secs: self.orphan_grace_secs,
            janitor_interval_secs: self.janitor_interval_secs,
            ..ConfigFile::default()
        };
        file.apply_guards(guards);
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

/// `cabinet config check FILE`: prints what the file configures, or why it is refused (exit 1).
fn check_config(path: &std::path::Path) -> std::process::ExitCode {
    let checked = ConfigFile::load(path).and_then(|file| {
        // Every key the server reads, checked as `cabinet serve` checks it (the access rules included).
        file.serve_config(Overrides::default())?;
        let access = file.access()?;
        Ok(cabinet::config::describe(&file, access.as_ref()))
    });
    match checked {
        Ok(text) => {
            println!("{}: valid", path.display());
            print!("{text}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cabinet: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `cabinet token hash`: the SHA-256 of the token on stdin, as a service-token entry holds it.
fn hash_token() -> std::process::ExitCode {
    let mut token = String::new();
    if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut token) {
        eprintln!("cabinet: cannot read the token from stdin: {e}");
        return std::process::ExitCode::FAILURE;
    }
    if token.trim().is_empty() {
        eprintln!("cabinet: no token on stdin (try: printf %s \"$TOKEN\" | cabinet token hash)");
        return std::process::ExitCode::FAILURE;
    }
    println!("{}", cabinet::auth::token_sha256_hex(&token));
    std::process::ExitCode::SUCCESS
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let log_format = match &cli.command {
        Command::Serve(args) => match args.log_format() {
            Ok(format) => format,
            Err(e) => {
                eprintln!("cabinet: {e:#}");
                return std::process::ExitCode::FAILURE;
            }
        },
        _ => LogFormat::default(),
    };
    cabinet::logging::init(log_format);
    let args = match cli.command {
        Command::Serve(args) => args,
        Command::Config(ConfigCommand::Check { file }) => return check_config(&file),
        Command::Token(TokenCommand::Hash) => return hash_token(),
        Command::Keys(command) => return keys(&command).await,
        Command::Migrate(args) => return migrate(&args).await,
        Command::Files(args) => return cli::files::run(*args).await,
    };
    let config = match args.serve_config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("cabinet: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    raise_open_files_limit();
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("cabinet: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // Before the ready line: whoever reads it may send SIGTERM at once.
    let shutdown = shutdown_signal();
    // The first line on stdout tells scripts and tests where the server is, once it accepts connections.
    println!("cabinet listening on http://{}", app.local_addr());
    let _ = std::io::stdout().flush();
    tracing::info!(public_url = app.public_url(), "serving");
    match app.run_until(shutdown).await {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use cabinet::store::backend::MetadataBackend;

    /// Held by tests that read or set `CABINET_*` variables, which are process-wide.
    static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn serve_args(args: &[&str]) -> ServeArgs {
        let mut argv = vec!["cabinet", "serve"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv).expect("parses").command {
            Command::Serve(args) => *args,
            _ => panic!("not serve"),
        }
    }

    #[test]
    fn the_secret_comes_from_one_place_and_is_long_enough() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        let text = "a-secret-of-more-than-thirty-two-characters";
        std::fs::write(&file, format!("{text}\n")).unwrap();
        let from_file = configured_secret(Some(&file), None).unwrap().unwrap();
        let from_env = configured_secret(None, Some(text.into())).unwrap().unwrap();
        assert_eq!(from_file.derive("x"), from_env.derive("x"));
        assert!(configured_secret(None, None).unwrap().is_none());
        let both = configured_secret(Some(&file), Some(text.into())).unwrap_err();
        assert!(both.to_string().contains("once"), "{both}");
        let short = configured_secret(None, Some("short".into())).unwrap_err();
        assert!(short.to_string().contains("32 characters"), "{short}");
        let missing = configured_secret(Some(&dir.path().join("none")), None).unwrap_err();
        assert!(missing.to_string().contains("cannot read"), "{missing}");
        let toml = dir.path().join("cabinet.toml");
        std::fs::write(
            &toml,
            format!("secret_file = {:?}\n", file.to_str().unwrap()),
        )
        .unwrap();
        let config = serve_args(&["--config", toml.to_str().unwrap()])
            .serve_config()
            .unwrap();
        let configured = config.secret.expect("the file's secret_file is read");
        assert_eq!(configured.derive("x"), from_file.derive("x"));
    }

    /// Flags and variables win over the file; values they do not give come from the file. One test,
    /// since it sets process-wide variables.
    #[test]
    fn flags_and_variables_override_the_file() {
        let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cabinet.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:7001\"\ndata_dir = \"/from/file\"\npublic_url = \"http://file\"\n",
        )
        .unwrap();
        let path = path.to_str().unwrap();
        for var in [
            "CABINET_LISTEN",
            "CABINET_DATA_DIR",
            "CABINET_PUBLIC_URL",
            "CABINET_CONFIG",
        ] {
            std::env::remove_var(var);
        }
        let file_only = serve_args(&["--config", path]).serve_config().unwrap();
        assert_eq!(file_only.listen, "127.0.0.1:7001");
        assert_eq!(file_only.data_dir, PathBuf::from("/from/file"));

        let flagged = serve_args(&["--config", path, "--listen", "127.0.0.1:7002"])
            .serve_config()
            .unwrap();
        assert_eq!(flagged.listen, "127.0.0.1:7002");
        assert_eq!(flagged.data_dir, PathBuf::from("/from/file"));
        assert_eq!(flagged.public_url.as_deref(), Some("http://file"));

        std::env::set_var("CABINET_CONFIG", path);
        std::env::set_var("CABINET_DATA_DIR", "/from/env");
        let from_env = serve_args(&[]).serve_config();
        std::env::remove_var("CABINET_CONFIG");
        std::env::remove_var("CABINET_DATA_DIR");
        let from_env = from_env.unwrap();
        assert_eq!(
            from_env.listen, "127.0.0.1:7001",
            "CABINET_CONFIG names the file"
        );
        assert_eq!(from_env.data_dir, PathBuf::from("/from/env"));
    }

    /// A guard, the S3 settings, `open` and the metrics keys from the file; a flag wins over the file.
    #[test]
    fn guards_and_operational_keys_come_from_the_file_under_the_flags() {
        let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
        for var in [
            "CABINET_CONFIG",
            "CABINET_MAX_UPLOADS",
            "CABINET_IDLE_TIMEOUT",
            "CABINET_METRICS_TOKEN",
            "CABINET_METRICS_PUBLIC",
            "CABINET_OPEN",
            "CABINET_S3_REGION",
            "CABINET_LOG_FORMAT",
        ] {
            std::env::remove_var(var);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cabinet.toml");
        std::fs::write(
            &path,
            "max_uploads = 3\nidle_timeout = 7\nopen = true\nmetrics_public = true\n\
             metrics_token = \"t0ken\"\ncontent = \"s3://b/p\"\ns3_region = \"eu-north-1\"\n\
             s3_path_style = true\nlog_format = \"json\"\n",
        )
        .unwrap();
        let path = path.to_str().unwrap();
        let args = serve_args(&["--config", path]);
        assert_eq!(args.log_format().unwrap(), LogFormat::Json);
        let config = args.serve_config().unwrap();
        assert_eq!(config.guards.max_uploads, 3);
        assert_eq!(
            config.guards.idle_timeout,
            std::time::Duration::from_secs(7)
        );
        assert_eq!(config.guards.max_downloads, Guards::default().max_downloads);
        assert!(config.open && config.metrics_public);
        assert_eq!(
            config.metrics_token.map(|t| t.0.to_string()),
            Some("t0ken".into())
        );
        let s3 = config.content.unwrap();
        assert_eq!(s3.region.as_deref(), Some("eu-north-1"));
        assert!(s3.path_style);

        let args = serve_args(&[
            "--config",
            path,
            "--max-uploads",
            "9",
            "--s3-region",
            "us-west-2",
            "--log-format",
            "text",
        ]);
        assert_eq!(args.log_format().unwrap(), LogFormat::Text);
        let config = args.serve_config().unwrap();
        assert_eq!(config.guards.max_uploads, 9);
        assert_eq!(
            config.guards.idle_timeout,
            std::time::Duration::from_secs(7)
        );
        assert_eq!(config.content.unwrap().region.as_deref(), Some("us-west-2"));
        assert!(serve_args(&["--log-format", "xml"]).log_format().is_err());
    }

    /// The file's `true` can be turned off by `--flag=false` or `CABINET_FLAG=false`; a bare flag still
    /// means true, and a flag wins over the variable.
    #[test]
    fn a_boolean_of_the_file_can_be_turned_off_by_a_flag_or_a_variable() {
        let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
        for var in [
            "CABINET_CONFIG",
            "CABINET_OPEN",
            "CABINET_METRICS_PUBLIC",
            "CABINET_S3_PATH_STYLE",
        ] {
            std::env::remove_var(var);
        }
        let dir = tempfile::tempdir().unwrap();
        let on = dir.path().join("on.toml");
        std::fs::write(
            &on,
            "open = true\nmetrics_public = true\ncontent = \"s3://b/p\"\ns3_path_style = true\n",
        )
        .unwrap();
        let off = dir.path().join("off.toml");
        std::fs::write(&off, "content = \"s3://b/p\"\n").unwrap();
        let (on, off) = (on.to_str().unwrap(), off.to_str().unwrap());
        let flags = |c: &ServeConfig| {
            (
                c.open,
                c.metrics_public,
                c.content.as_ref().is_some_and(|s3| s3.path_style),
            )
        };

        let config = serve_args(&["--config", on]).serve_config().unwrap();
        assert_eq!(flags(&config), (true, true, true));
        let config = serve_args(&[
            "--config",
            on,
            "--open=false",
            "--metrics-public=false",
            "--s3-path-style=false",
        ])
        .serve_config()
        .unwrap();
        assert_eq!(flags(&config), (false, false, false));
        let config = serve_args(&["--config", off, "--open", "--metrics-public=true"])
            .serve_config()
            .unwrap();
        assert_eq!(flags(&config), (true, true, false));

        std::env::set_var("CABINET_OPEN", "false");
        std::env::set_var("CABINET_S3_PATH_STYLE", "0");
        let from_env = serve_args(&["--config", on]).serve_config();
        let over_env = serve_args(&["--config", on, "--open"]).serve_config();
        std::env::remove_var("CABINET_OPEN");
        std::env::remove_var("CABINET_S3_PATH_STYLE");
        assert_eq!(flags(&from_env.unwrap()), (false, true, false));
        assert!(over_env.unwrap().open, "the flag wins over the variable");
        assert!(Cli::try_parse_from(["cabinet", "serve", "--open=maybe"]).is_err());
    }

    /// The guard flags state their defaults in words (a clap default would win over the file): they must
    /// be the real ones.
    #[test]
    fn the_guard_defaults_in_the_help_are_the_real_ones() {
        use clap::CommandFactory;
        let mut cli = Cli::command();
        let help = cli
            .find_subcommand_mut("serve")
            .expect("serve")
            .render_long_help()
            .to_string();
        let d = Guards::default();
        for (flag, value) in [
            ("--header-read-timeout", d.header_read_timeout.as_secs()),
            ("--idle-timeout", d.idle_timeout.as_secs()),
            ("--write-stall-timeout", d.write_stall_timeout.as_secs()),
            ("--body-idle-timeout", d.body_idle_timeout.as_secs()),
            ("--min-body-rate", d.min_body_rate),
            ("--max-uploads", d.max_uploads as u64),
            ("--max-downloads", d.max_downloads as u64),
            ("--orphan-grace-secs", d.orphan_grace.as_secs()),
            ("--janitor-interval-secs", d.janitor_interval.as_secs()),
        ] {
            let text = help
                .split(&format!("      {flag} <"))
                .nth(1)
                .and_then(|rest| rest.split("\n      --").next())
                .unwrap_or_else(|| panic!("{flag} not in the help"));
            assert!(
                text.contains(&format!("[default: {value}]")),
                "{flag}: {text}"
            );
        }
    }

    #[test]
    fn without_a_file_the_defaults_hold() {
        let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
        for var in ["CABINET_LISTEN", "CABINET_CONFIG"] {
            std::env::remove_var(var);
        }
        let config = serve_args(&["--data-dir", "/d"]).serve_config().unwrap();
        assert_eq!(config.listen, cabinet::app::DEFAULT_LISTEN);
        assert!(config.access.is_none());
        assert!(!config.open);
        assert_eq!(config.metadata, MetadataBackend::Embedded);
    }

    /// `--metadata` wins over `CABINET_METADATA`, which wins over the file's `metadata`; a value that is
    /// no PostgreSQL URL is refused.
    #[test]
    fn the_metadata_backend_comes_from_the_flag_the_variable_or_the_file() {
        let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
        for var in ["CABINET_METADATA", "CABINET_CONFIG"] {
            std::env::remove_var(var);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cabinet.toml");
        std::fs::write(&path, "metadata = \"postgres://file@db/cabinet\"\n").unwrap();
        let path = path.to_str().unwrap();
        let pg = |url: &str| MetadataBackend::Postgres(url.to_string());

        let from_file = serve_args(&["--config", path]).serve_config().unwrap();
        assert_eq!(from_file.metadata, pg("postgres://file@db/cabinet"));
        std::env::set_var("CABINET_METADATA", "postgres://env@db/cabinet");
        let from_env = serve_args(&["--config", path]).serve_config();
        let from_flag = serve_args(&[
            "--config",
            path,
            "--metadata",
            "postgresql://flag@db/cabinet",
        ])
        .serve_config();
        std::env::remove_var("CABINET_METADATA");
        assert_eq!(from_env.unwrap().metadata, pg("postgres://env@db/cabinet"));
        assert_eq!(
            from_flag.unwrap().metadata,
            pg("postgresql://flag@db/cabinet")
        );
        let refused = serve_args(&["--metadata", "/var/lib/cabinet.sqlite3"]).serve_config();
        assert!(refused.is_err());
    }
}
