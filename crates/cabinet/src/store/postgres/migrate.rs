//! Schema migrations embedded in the binary, applied at start under a PostgreSQL advisory lock.
//!
//! Every node runs [`migrate`] when it starts. The session-level advisory lock makes the nodes take turns:
//! the first applies what is missing, each later one finds nothing to do. The lock is taken on a connection
//! of its own, outside the pool, so it is released when that connection closes even if a migration fails
//! half way (each migration is one transaction: it applies whole or not at all).

use tokio_postgres::{Client, NoTls};

use super::{pg_err, BACKEND};
use crate::store::StoreError;

/// The migrations in order: version, name (recorded, and checked on later starts), SQL.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "files", include_str!("migrations/0001_files.sql")),
    (2, "iam", include_str!("migrations/0002_iam.sql")),
    (3, "cluster", include_str!("migrations/0003_cluster.sql")),
    (4, "queries", include_str!("migrations/0004_queries.sql")),
    (
        5,
        "datasets_labels",
        include_str!("migrations/0005_datasets_labels.sql"),
    ),
    (6, "assets", include_str!("migrations/0006_assets.sql")),
    (
        7,
        "file_counts",
        include_str!("migrations/0007_file_counts.sql"),
    ),
    (
        8,
        "file_assets",
        include_str!("migrations/0008_file_assets.sql"),
    ),
];

/// The advisory lock key of the migrations ("cabinet" and 1); locks are per database.
const LOCK_KEY: i64 = 0x6361_6269_6e65_7401;

fn schema_error(message: String) -> StoreError {
    StoreError::internal(BACKEND, std::io::Error::other(message))
}

/// Applies the migrations the database lacks and returns the versions applied (empty when it was up to
/// date). Fails, changing nothing, when the database holds a migration this binary does not know (a newer
/// cabinet migrated it) or one under another name.
pub async fn migrate(config: &tokio_postgres::Config) -> Result<Vec<i32>, StoreError> {
    let (mut client, connection) = config.connect(NoTls).await.map_err(pg_err)?;
    let driver = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "the migration connection to PostgreSQL failed");
        }
    });
    let result = migrate_locked(&mut client).await;
    drop(client);
    let _ = driver.await;
    result
}

async fn migrate_locked(client: &mut Client) -> Result<Vec<i32>, StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(pg_err)?;
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS cabinet_migrations (\
                version INTEGER PRIMARY KEY, \
                name TEXT NOT NULL, \
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await
        .map_err(pg_err)?;
    let applied = client
        .query(
            "SELECT version, name FROM cabinet_migrations ORDER BY version",
            &[],
        )
        .await
        .map_err(pg_err)?;
    let mut done = Vec::with_capacity(applied.len());
    for row in &applied {
        let version: i32 = row.try_get(0).map_err(pg_err)?;
        let name: String = row.try_get(1).map_err(pg_err)?;
        match MIGRATIONS.iter().find(|(v, _, _)| *v == version) {
            Some((_, known, _)) if *known == name => done.push(version),
            Some((_, known, _)) => {
                return Err(schema_error(format!(
                "the database's migration {version} is \"{name}\", this cabinet's is \"{known}\""
            )))
            }
            None => {
                return Err(schema_error(format!(
                "the database has migration {version} (\"{name}\"), which this cabinet does not \
                     know: it was migrated by a newer version"
            )))
            }
        }
    }
    let mut newly = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.batch_execute(sql).await.map_err(pg_err)?;
        tx.execute(
            "INSERT INTO cabinet_migrations (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .await
        .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
        tracing::info!(version, name, "applied a PostgreSQL schema migration");
        newly.push(*version);
    }
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await
        .map_err(pg_err)?;
    Ok(newly)
}
