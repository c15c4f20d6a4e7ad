//! The metadata store on PostgreSQL, for deployments of several stateless nodes sharing one database.
//!
//! tokio-postgres with a deadpool pool: an async driver that runs on the tokio workers (no thread per
//! connection), statements prepared once per connection, and nothing generated at build time. The schema
//! is embedded in the binary and applied at start under an advisory lock ([`migrate`]), so any number of
//! nodes may start at once.
//!
//! The whole [`MetadataStore`](crate::store::MetadataStore) (`metadata.rs`): create, retrieve and delete in
//! `files.rs`, the other writes in `writes.rs` (with how concurrent nodes are kept consistent), list,
//! count and search in `query.rs` and `search.rs` (filters translated in `filter_sql.rs`); and [`IamStore`](crate::store::iam::IamStore) in `iam.rs`.

mod assets;
mod cluster;
mod datasets;
mod files;
mod filter_sql;
mod iam;
pub mod import;
mod import_datasets;
mod labels;
mod metadata;
pub mod migrate;
mod projects;
mod query;
mod search;
mod writes;

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

use super::ids::IdPermutation;
use super::StoreError;

/// The name errors carry.
const BACKEND: &str = "postgresql";

/// How the pool behaves; the defaults are what `cabinet serve` uses.
#[derive(Debug, Clone, Copy)]
pub struct PgOptions {
    /// Most connections this node keeps open.
    pub max_connections: usize,
    /// How long a request waits for a free connection (and for a new one to open) before it fails.
    pub wait_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            wait_timeout: Duration::from_secs(10),
        }
    }
}

/// The PostgreSQL-backed metadata store. Cloning shares the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// File ids from the `files_seq` counter, keyed by the database's `file_id_seed`: the same on every
    /// node.
    ids: IdPermutation,
    /// Project ids by name, as read from `projects`: a row is never changed or deleted once written,
    /// so a read of a list, count or search needs no round trip to look its project up again.
    project_ids: std::sync::Arc<std::sync::RwLock<std::collections::HashMap<String, i64>>>,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://USER:PASS@HOST:PORT/DB`), applies the migrations this
    /// binary knows that the database lacks, and opens the pool.
    pub async fn connect(url: &str, options: PgOptions) -> Result<Self, StoreError> {
        let mut config = parse_url(url)?;
        migrate::migrate(&config).await?;
        let session = session_options(config.get_options());
        config.options(&session);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.wait_timeout))
            .create_timeout(Some(options.wait_timeout))
            .build()
            .map_err(|e| StoreError::internal(BACKEND, e))?;
        let seed: i64 = pool
            .get()
            .await
            .map_err(pool_err)?
            .query_one("SELECT value FROM settings WHERE key = 'file_id_seed'", &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(pg_err)?;
        Ok(Self {
            pool,
            ids: IdPermutation::new(seed as u64),
            project_ids: Default::default(),
        })
    }

    /// A pooled connection.
    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(pool_err)
    }
}

/// Parses a `postgres://` or `postgresql://` URL (or a key=value connection string). The error never
/// repeats the URL, which may hold a password.
pub fn parse_url(url: &str) -> Result<tokio_postgres::Config, StoreError> {
    tokio_postgres::Config::from_str(url).map_err(|e| StoreError::internal(BACKEND, e))
}

/// The connection's `options` with JIT compilation turned off, unless the URL already sets `jit`.
///
/// Why: cabinet's statements are short index walks of at most a few thousand rows, but at a million
/// files the planner's cost of a sort or a count passes `jit_above_cost`, and compiling the plan with
/// LLVM then costs tens of milliseconds per statement (Debian's PostgreSQL ships with JIT on), more than
/// the statement itself. A site that wants JIT sets `options=-c jit=on` in the URL.
pub(crate) fn session_options(url_options: Option<&str>) -> String {
    match url_options {
        Some(o) if o.contains("jit") => o.to_string(),
        Some(o) if !o.trim().is_empty() => format!("{o} -c jit=off"),
        _ => "-c jit=off".to_string(),
    }
}

/// A driver error as a [`StoreError`]: a full disk is [`StoreError::NoSpace`], anything else internal.
pub(crate) fn pg_err(e: tokio_postgres::Error) -> StoreError {
    match e.code() {
        Some(code) if *code == SqlState::DISK_FULL || *code == SqlState::OUT_OF_MEMORY => {
            StoreError::NoSpace { backend: BACKEND }
        }
        _ => StoreError::internal(BACKEND, e),
    }
}

fn pool_err(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => pg_err(e),
        other => StoreError::internal(BACKEND, other),
    }
}

#[cfg(test)]
mod tests {
    use super::session_options;

    #[test]
    fn sessions_run_without_jit_unless_the_url_says_otherwise() {
        assert_eq!(session_options(None), "-c jit=off");
        assert_eq!(session_options(Some("")), "-c jit=off");
        assert_eq!(
            session_options(Some("-c statement_timeout=5s")),
            "-c statement_timeout=5s -c jit=off"
        );
        assert_eq!(session_options(Some("-c jit=on")), "-c jit=on");
    }
}
