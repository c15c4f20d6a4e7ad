//! Building and running the server: one code path for `cabinet serve`, the tests and the benchmarks.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::api::{self, cursor::CursorCodec, transfers::TransferSlots, AppState};
use crate::auth::directory::GroupDirectory;
use crate::auth::AccessConfig;
use crate::blob::local::LocalBlobs;
use crate::blob::s3::{S3Blobs, S3Settings};
use crate::blob::BlobStore;
use crate::direct::{ContentTransfer, DirectTransfer};
use crate::disk::DiskGuard;
pub use crate::guards::Guards;
use crate::janitor::Janitor;
use crate::secret::Secret;
use crate::signing::live::{LiveKeys, CHECK_INTERVAL};
use crate::signing::store::{FileKeyRingStore, KeyRingStore};
use crate::signing::{legacy_key, UrlSigner};
use crate::store::backend::MetadataBackend;
use crate::store::datasets::DataSetStore;
use crate::store::labels::LabelStore;
use crate::store::postgres::{PgOptions, PgStore};
use crate::store::sqlite::SqliteStore;
use crate::store::MetadataStore;

/// Where `cabinet serve` listens when not told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8765";

/// How long in-flight requests may run after a shutdown signal before the server stops anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What `cabinet serve` needs to start.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: String,
    /// Holds the database, the content and the secret key; created if missing.
    pub data_dir: PathBuf,
    /// Base of upload and download URLs; without it, `http://` and the request's `Host`, or
    /// `http://<bound address>` when that is missing or not a valid host.
    pub public_url: Option<String>,
    /// How the server protects itself: timeouts, transfer caps, free-space watermarks.
    pub guards: Guards,
    /// Projects, groups and service tokens; `None` for open mode (any bearer token, every project).
    pub access: Option<AccessConfig>,
    /// Allows open mode on an address other than loopback (`--open`).
    pub open: bool,
    /// Where file metadata, projects and IAM objects live (`--metadata`).
    pub metadata: MetadataBackend,
    /// Content in an S3 bucket (`--content s3://…`); `None`: on the local disk under `data_dir`.
    pub content: Option<S3Settings>,
    /// Whether content passes through cabinet or goes straight to S3 (`--content-transfer`).
    pub content_transfer: crate::direct::ContentTransfer,
    /// The root secret every node of a deployment shares (`--secret-file`, `CABINET_SECRET`); `None`:
    /// the data directory's `secret.key` on the embedded store, the one kept in PostgreSQL otherwise.
    pub secret: Option<Secret>,
    /// The bearer token `/metrics` requires (`--metrics-token`, `CABINET_METRICS_TOKEN`); when set, it is
    /// required on every address.
    pub metrics_token: Option<crate::api::ops::MetricsToken>,
    /// Serve `/metrics` without a token on an address other than loopback (`--metrics-public`).
    pub metrics_public: bool,
    /// `[faults]`: the admins of the fault injection API, its seed and the rules armed at start.
    pub faults: crate::faults::FaultsConfig,
}

impl ServeConfig {
    /// The embedded default on `listen` with data under `data_dir`, every guard at its default.
    pub fn new(listen: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: listen.into(),
            data_dir: data_dir.into(),
            public_url: None,
            guards: Guards::default(),
            access: None,
            open: false,
            metadata: MetadataBackend::Embedded,
            content: None,
            content_transfer: crate::direct::ContentTransfer::Proxy,
            secret: None,
            metrics_token: None,
            metrics_public: false,
            faults: crate::faults::FaultsConfig::default(),
        }
    }
}

/// A bound, ready server.
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    public_url: String,
    router: axum::Router,
    state: AppState,
    guards: Guards,
}

impl Application {
    /// Opens the stores under the data directory and binds the listener.
    pub async fn build(config: ServeConfig) -> anyhow::Result<Self> {
        // The access rules are checked first, so a refused start leaves nothing behind.
        let listener = TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let local_addr = listener.local_addr()?;
        check_access_rules(&config, local_addr)?;
        if let Some(access) = &config.access {
            access
                .load_keys(crate::auth::jwks::JwksSettings {
                    refetch_interval: config.guards.jwks_refetch_interval,
                    fetch_timeout: config.guards.jwks_fetch_timeout,
                })
                .await?;
        }
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                config.data_dir.display()
            )
        })?;
        let data_dir_secret = Secret::load_or_create(&config.data_dir.join("secret.key"))
            .context("cannot read or create the secret key")?;
        let pg = match &config.metadata {
            MetadataBackend::Embedded => None,
            MetadataBackend::Postgres(url) => Some(
                PgStore::connect(url, PgOptions::default())
                    .await
                    .with_context(|| {
                        format!("cannot open the metadata store {}", config.metadata)
                    })?,
            ),
        };
        let (secret, ring_store) = shared_keys(&config, &data_dir_secret, pg.as_ref()).await?;
        let public_url = match &config.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => default_public_url(local_addr),
        };
        // Without a configured public URL, URLs follow the Host the client used (a client on another
        // machine reaching a wildcard address gets URLs it can reach), the bound address otherwise.
        let legacy = legacy_key(&secret);
        let now = crate::clock::now_ms();
        // The ring store may block on the network (PostgreSQL): off the async workers.
        let keys = tokio::task::spawn_blocking(move || LiveKeys::open(legacy, ring_store, now))
            .await
            .context("the URL signing keys could not be read")?
            .context("cannot read or create the URL signing keys")?;
        let signer = UrlSigner::with_keys(Arc::new(keys), &public_url);
        let signer = match &config.public_url {
            Some(_) => signer,
            None => signer.from_request_host(),
        };
        // From the data directory's own secret, not a configured one: the ids a data directory hands out
        // must not change when a secret is configured later.
        let id_seed = u64::from_le_bytes(
            data_dir_secret.derive("file-ids")[..8]
                .try_into()
                .unwrap_or([0; 8]),
        );
        // One store serves files, projects and IAM objects: on PostgreSQL every node of a deployment
        // shares it (its migrations ran when it was opened, under the database's advisory lock).
        let mut metrics = crate::metrics::Metrics::new();
        let (meta, iam): (Arc<dyn MetadataStore>, Arc<dyn crate::store::iam::IamStore>);
        let (data_sets, labels): (Arc<dyn DataSetStore>, Arc<dyn LabelStore>);
        let assets: Arc<dyn crate::store::assets::AssetStore>;
        match pg {
            None => {
                let store = SqliteStore::open(&config.data_dir.join("metadata.sqlite3"), id_seed)?;
                metrics.register_batch_sizes(store.commit_batch_sizes());
                (meta, iam) = (Arc::new(store.clone()), Arc::new(store.clone()));
                assets = Arc::new(store.clone());
                (data_sets, labels) = (Arc::new(store.clone()), Arc::new(store));
            }
            Some(store) => {
                tracing::info!(metadata = %config.metadata, "metadata in PostgreSQL");
                (meta, iam) = (Arc::new(store.clone()), Arc::new(store.clone()));
                assets = Arc::new(store.clone());
                (data_sets, labels) = (Arc::new(store.clone()), Arc::new(store));
            }
        };
        let metrics = Arc::new(metrics);
        let meta: Arc<dyn MetadataStore> = Arc::new(crate::store::metered::MeteredMetadata::new(
            meta,
            metrics.clone(),
        ));
        // The other stores are timed into the same series, by their methods' names.
        let iam: Arc<dyn crate::store::iam::IamStore> = Arc::new(
            crate::store::metered_resources::Metered::new(iam, metrics.clone()),
        );
        let data_sets: Arc<dyn DataSetStore> = Arc::new(
            crate::store::metered_resources::Metered::new(data_sets, metrics.clone()),
        );
        let labels: Arc<dyn LabelStore> = Arc::new(crate::store::metered_resources::Metered::new(
            labels,
            metrics.clone(),
        ));
        let assets: Arc<dyn crate::store::assets::AssetStore> = Arc::new(
            crate::store::metered_resources::Metered::new(assets, metrics.clone()),
        );
        let mut direct = None;
        let blobs: Arc<dyn BlobStore> = match &config.content {
            None => Arc::new(
                LocalBlobs::open(&config.data_dir).context("cannot open the content directory")?,
            ),
            Some(s3) => {
                tracing::info!(bucket = %s3.bucket, prefix = %s3.prefix, transfer = %config.content_transfer, "content in S3");
                let store = Arc::new(
                    S3Blobs::open(s3, &config.data_dir.join("s3-spool"))
                        .context("cannot set up the S3 content store")?,
                );
                if config.content_transfer == ContentTransfer::Direct {
                    let deployment = secret.derive("direct-transfer-markers");
                    let deployment: String =
                        deployment[..8].iter().map(|b| format!("{b:02x}")).collect();
                    direct = Some(Arc::new(DirectTransfer::new(store.clone(), deployment)));
                }
                store
            }
        };
        let blobs: Arc<dyn BlobStore> = Arc::new(crate::blob::metered::MeteredBlobs::new(
            blobs,
            metrics.clone(),
        ));
        if config.content_transfer == ContentTransfer::Direct && direct.is_none() {
            anyhow::bail!(
                "--content-transfer direct needs content in S3 (--content s3://BUCKET[/PREFIX])"
            );
        }
        let disk = DiskGuard::open(
            &config.data_dir,
            config.guards.min_free_bytes,
            config.guards.disk_reserve_bytes,
        )
        .context("cannot read the free space of the data directory")?;
        tracing::info!(
            min_free_bytes = disk.min_free(),
            reserve_bytes = disk.reserve_bytes(),
            "uploads are refused while less than min_free_bytes would stay free"
        );
        let access = config.access.clone().map(Arc::new);
        let groups = access.clone().map(|configured| {
            Arc::new(GroupDirectory::new(
                configured,
                iam.clone(),
                crate::auth::directory::SNAPSHOT_MAX_AGE,
            ))
        });
        let state = AppState {
            meta,
            blobs,
            signer,
            cursors: CursorCodec::new(&secret),
            in_flight: Arc::default(),
            disk: Some(Arc::new(disk)),
            transfers: TransferSlots::new(config.guards.max_uploads, config.guards.max_downloads),
            access,
            iam,
            data_sets,
            labels,
            assets,
            groups,
            direct,
            metrics,
            metrics_access: metrics_access(&config, local_addr),
            faults: Arc::new(crate::faults::Faults::new(&config.faults)),
        };
        Ok(Self {
            listener,
            local_addr,
            public_url,
            router: api::router(state.clone()),
            state,
            guards: config.guards.clone(),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The base of the URLs the server hands out to requests without a valid `Host` (all requests, with
    /// a configured public URL).
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight requests finish for at most
    /// [`SHUTDOWN_GRACE`], and returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let janitor = tokio::spawn(
            Janitor {
                meta: self.state.meta.clone(),
                blobs: self.state.blobs.clone(),
                in_flight: self.state.in_flight.clone(),
                disk: self.state.disk.clone(),
                interval: self.guards.janitor_interval,
                orphan_grace: self.guards.orphan_grace,
                metrics: Some(self.state.metrics.clone()),
            }
            .run(),
        );
        let _stop_janitor = AbortOnDrop(janitor);
        // Direct transfer: publishes the objects clients PUT straight into the bucket.
        let _stop_reconciler = self.state.direct.clone().map(|direct| {
            AbortOnDrop(tokio::spawn(
                direct.run(self.state.meta.clone(), self.state.in_flight.clone()),
            ))
        });
        let key_watch = tokio::spawn(self.state.signer.keys().clone().watch(CHECK_INTERVAL));
        let _stop_key_watch = AbortOnDrop(key_watch);
        crate::server::serve(
            self.listener,
            self.router,
            &self.guards,
            shutdown,
            SHUTDOWN_GRACE,
        )
        .await;
        Ok(())
    }
}

/// Who may read `/metrics`: a configured token is always required; without one, anyone on loopback or
/// with `metrics_public`, nobody otherwise (the series describe the deployment's traffic and stores).
fn metrics_access(config: &ServeConfig, local_addr: SocketAddr) -> crate::api::ops::MetricsAccess {
    use crate::api::ops::MetricsAccess;
    match &config.metrics_token {
        Some(token) => MetricsAccess::Token(token.0.clone()),
        None if config.metrics_public || local_addr.ip().is_loopback() => MetricsAccess::Open,
        None => MetricsAccess::Closed,
    }
}

/// The root secret (URL signatures, cursors) and where the URL key ring lives: a configured secret wins;
/// otherwise, on PostgreSQL both are kept in the database, so that every node of a deployment agrees, and
/// on the embedded store both are in the data directory.
async fn shared_keys(
    config: &ServeConfig,
    data_dir_secret: &Secret,
    pg: Option<&PgStore>,
) -> anyhow::Result<(Secret, Arc<dyn KeyRingStore>)> {
    let secret = match (&config.secret, pg) {
        (Some(configured), _) => configured.clone(),
        (None, Some(pg)) => pg
            .shared_secret()
            .await
            .context("cannot read or create the secret kept in PostgreSQL")?,
        (None, None) => data_dir_secret.clone(),
    };
    let ring: Arc<dyn KeyRingStore> = match pg {
        Some(pg) => pg.key_ring_store(tokio::runtime::Handle::current()),
        None => Arc::new(FileKeyRingStore::new(&config.data_dir)),
    };
    Ok((secret, ring))
}

/// Opens the metadata store of a data directory as `cabinet serve` does (the secret key must exist; see
/// [`open_data_dir_metadata`] to create it). Bulk loaders use this to write what a server will then serve.
fn open_metadata(data_dir: &std::path::Path, secret: &Secret) -> anyhow::Result<SqliteStore> {
    let id_seed = u64::from_le_bytes(secret.derive("file-ids")[..8].try_into().unwrap_or([0; 8]));
    Ok(SqliteStore::open(
        &data_dir.join("metadata.sqlite3"),
        id_seed,
    )?)
}

/// The metadata store of `data_dir`, created with its secret key if missing, exactly as `cabinet serve`
/// would open it: for bulk loads and tools that write through the store while no server runs.
pub fn open_data_dir_metadata(data_dir: &std::path::Path) -> anyhow::Result<SqliteStore> {
    std::fs::create_dir_all(data_dir)?;
    let secret = Secret::load_or_create(&data_dir.join("secret.key"))?;
    open_metadata(data_dir, &secret)
}

/// Refuses what must not serve: open mode beyond loopback without `--open` (where anyone who reaches
/// the port could read and write every project).
fn check_access_rules(config: &ServeConfig, addr: SocketAddr) -> anyhow::Result<()> {
    match &config.access {
        None if addr.ip().is_loopback() => {}
        None if config.open => tracing::warn!(
            %addr,
            "open mode on an address other than loopback (--open): any bearer token reads and writes every project"
        ),
        None => anyhow::bail!(
            "refusing to serve {addr} in open mode: on an address other than loopback, configure access \
             (`--config FILE` with [[project]] entries, their groups and [[project.service_token]]s; see \
             the README), or pass --open to accept any bearer token for every project"
        ),
        Some(access) => {
            tracing::info!(
                projects = access.projects.len(),
                oidc_projects = access.oidc_projects().len(),
                "access control on: service tokens and OIDC tokens; security categories on files are not enforced yet"
            );
        }
    }
    Ok(())
}

/// Aborts a background task when the server stops.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn default_public_url(addr: SocketAddr) -> String {
    // A wildcard address is where to listen, not where to connect: hand out loopback URLs instead.
    let host = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
        ip if ip.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        std::net::IpAddr::V4(ip) => ip.to_string(),
    };
    format!("http://{host}:{}", addr.port())
}

/// Completes on SIGTERM or SIGINT. The handlers are installed when this is called, not when the future is
/// first polled: the caller calls it before it prints its ready line, so a SIGTERM sent right after that
/// line (a test that starts and stops a server at once) stops the server cleanly instead of killing it.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let terminate = signal(SignalKind::terminate()).ok();
        let interrupt = signal(SignalKind::interrupt()).ok();
        async move {
            match (terminate, interrupt) {
                (Some(mut terminate), Some(mut interrupt)) => {
                    tokio::select! {
                        _ = terminate.recv() => {},
                        _ = interrupt.recv() => {},
                    }
                }
                (Some(mut terminate), None) => {
                    terminate.recv().await;
                }
                (None, Some(mut interrupt)) => {
                    interrupt.recv().await;
                }
                (None, None) => tokio::signal::ctrl_c().await.unwrap_or(()),
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
