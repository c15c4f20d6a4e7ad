//! Loaders of the assets workload's population ([`super::assets_data`]) straight into cabinet's schemas,
//! as a migration tool would, writing the rows the stores write (store/sqlite/assets.rs,
//! store/postgres/assets.rs, store/sqlite/rows.rs, store/postgres/files.rs):
//!
//! - assets: ids 1..=N from a fresh counter (SQLite `meta.asset_id_counter`, PostgreSQL `assets_id_seq`
//!   moved past them), `project` the project's name, `path` the ancestors' ids root first, metadata `{}`
//!   and labels `[]` as JSON text;
//! - files: `seq` from the counter and `id` its image under the database's id permutation, `asset_ids` the
//!   links (JSON text on SQLite, whose triggers fill `file_assets`; `bigint[]` on PostgreSQL), every file
//!   uploaded with a completed upload session.
//!
//! SQLite: the schema comes from opening the store once; one transaction of prepared inserts (its
//! triggers keep the side tables and the project's file count); the name-search queue those triggers
//! fill is folded into the index by the store's own writer (one empty write through the store), so the
//! server starts on a database exactly as its writer leaves one. PostgreSQL: the files through
//! [`cluster_load::load_files`] (COPY, indexes built afterwards), then the assets with COPY and
//! `VACUUM ANALYZE`.

use std::path::Path;
use std::time::Instant;

use ::cabinet::domain::{FileSpec, Identifier, ProjectName};
use ::cabinet::store::ids::IdPermutation;
use ::cabinet::store::MetadataStore;
use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use futures_util::SinkExt;

use super::assets_data::{self, Forest};
use super::cluster_load::{self, copy_escape, GenFile};
use super::scale::session_id;
use super::scale_data::DAY;
use crate::peers::{cabinet, postgres};

/// What a load did.
pub struct AssetLoad {
    /// Files counted afterwards.
    pub files: u64,
    /// Assets counted afterwards.
    pub assets: u64,
    /// Seconds of the whole load.
    pub secs: f64,
    /// Size of the database afterwards, MiB.
    pub db_mib: f64,
}

/// File `i` of the population: uploaded a second after its creation, 100 KiB of content.
fn gen_file(i: u64, now: i64, assets: u64) -> GenFile {
    let created = now - 10 * DAY + i as i64;
    let spec = FileSpec {
        name: assets_data::file_name(i),
        mime_type: Some("application/pdf".into()),
        asset_ids: Some(assets_data::file_links(i, assets)),
        ..FileSpec::default()
    };
    (spec, created, Some((created + 1000, 100 << 10)))
}

/// The content key the server gives the content of file `id` uploaded through `session`.
fn content_key(id: i64, session: &str) -> String {
    format!(
        "{}/{:03x}/{id}/{session}-bulk",
        cabinet::PROJECT,
        id & 0xfff
    )
}

/// Loads the population into a fresh SQLite data directory `dir` (nothing may run on it).
pub async fn load_sqlite(dir: &Path, forest: Forest, files: u64) -> anyhow::Result<AssetLoad> {
    let t = Instant::now();
    let store =
        ::cabinet::app::open_data_dir_metadata(dir).context("cannot open the metadata store")?;
    drop(store);
    super::scale::wait_for_store_threads().await;
    let secret = ::cabinet::secret::Secret::load_or_create(&dir.join("secret.key"))
        .context("cannot read the data directory's secret")?;
    let mut seed = [0u8; 8];
    seed.copy_from_slice(&secret.derive("file-ids")[..8]);
    let ids_of = IdPermutation::new(u64::from_le_bytes(seed));
    let db = dir.join("metadata.sqlite3");
    let now = ::cabinet::clock::now_ms();
    crate::log(&format!(
        "  SQLite: {} assets and {files} files in one transaction",
        forest.len()
    ));
    let db2 = db.clone();
    tokio::task::spawn_blocking(move || insert_sqlite(&db2, forest, files, now, &ids_of))
        .await
        .map_err(|e| anyhow!("the SQLite load panicked: {e}"))??;
    // One write through the store: its writer folds the name-search queue into the index before it
    // commits, as after any batch of creates.
    let store =
        ::cabinet::app::open_data_dir_metadata(dir).context("cannot open the metadata store")?;
    let project = ProjectName::parse(cabinet::PROJECT).map_err(|e| anyhow!("{e}"))?;
    store
        .delete(&project, &[Identifier::Id(-1)], true)
        .await
        .map_err(|e| anyhow!("the store's write after the load failed: {e}"))?;
    drop(store);
    super::scale::wait_for_store_threads().await;
    let conn = rusqlite::Connection::open(&db)?;
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
    let queued = count("SELECT count(*) FROM name_index_queue")?;
    let (nf, na) = (
        count("SELECT count(*) FROM files")? as u64,
        count("SELECT count(*) FROM assets")? as u64,
    );
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    drop(conn);
    if queued != 0 || nf != files || na != forest.len() {
        bail!("after the SQLite load: {nf} files, {na} assets, {queued} names not indexed");
    }
    let db_mib = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0) as f64 / (1 << 20) as f64;
    Ok(AssetLoad {
        files: nf,
        assets: na,
        secs: t.elapsed().as_secs_f64(),
        db_mib,
    })
}

fn insert_sqlite(
    db: &Path,
    forest: Forest,
    files: u64,
    now: i64,
    ids_of: &IdPermutation,
) -> anyhow::Result<()> {
    let mut conn = rusqlite::Connection::open(db)?;
    // Durability is the load's own business: a load that fails is started again from scratch.
    conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;")?;
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO projects (name) VALUES (?1)",
        [cabinet::PROJECT],
    )?;
    let project = tx.last_insert_rowid();
    {
        let mut st = tx.prepare(
            "INSERT INTO assets (id, project, external_id, name, parent_id, root_id, depth, path, \
             description, data_set_id, source, metadata, labels, created_time, last_updated_time) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, NULL, NULL, '{}', '[]', ?9, ?9)",
        )?;
        for id in 1..=forest.len() {
            let a = forest.asset(id);
            st.execute(rusqlite::params![
                a.id,
                cabinet::PROJECT,
                a.external_id,
                a.name,
                a.parent_id,
                a.root_id,
                a.depth,
                a.path,
                now
            ])?;
        }
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('asset_id_counter', ?1) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [forest.len() as i64],
    )?;
    {
        let mut file = tx.prepare(
            "INSERT OR FAIL INTO files (seq, id, project_id, name, mime_type, asset_ids, created_time, \
             last_updated_time, uploaded_time, content_key, content_size) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10)",
        )?;
        let mut session = tx.prepare(
            "INSERT INTO upload_sessions (id, project_id, file_id, parts, created_time, expires_time, \
             completed_time, file_seq) VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6, ?7)",
        )?;
        for i in 0..files {
            let (spec, created, uploaded) = gen_file(i, now, forest.len());
            let (at, size) = uploaded.unwrap_or((created, 0));
            let id = ids_of.id_for(i);
            let seq = i as i64 + 1;
            let sid = session_id(i);
            let links = serde_json::to_string(&spec.asset_ids.unwrap_or_default())?;
            file.execute(rusqlite::params![
                seq,
                id,
                project,
                spec.name,
                spec.mime_type,
                links,
                created,
                at,
                content_key(id, &sid),
                size as i64
            ])?;
            session.execute(rusqlite::params![
                sid,
                project,
                id,
                created,
                now + 7 * DAY,
                at,
                seq
            ])?;
            if (i + 1).is_multiple_of((files / 5).max(1)) {
                crate::log(&format!("  {} files inserted", i + 1));
            }
        }
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('id_counter', ?1) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [files as i64],
    )?;
    tx.commit()?;
    conn.execute_batch("ANALYZE")?;
    Ok(())
}

/// Loads the population into the empty PostgreSQL database at `url`.
pub async fn load_postgres(url: &str, forest: Forest, files: u64) -> anyhow::Result<AssetLoad> {
    let t = Instant::now();
    let n_assets = forest.len();
    crate::log(&format!(
        "  PostgreSQL: COPY of {files} files, then {n_assets} assets"
    ));
    let (_, now, stats) =
        cluster_load::load_files(url, files, |i, now| gen_file(i, now, n_assets)).await?;
    let client = postgres::connect(url).await?;
    let mut buf = String::with_capacity(16 << 20);
    for id in 1..=n_assets {
        let a = forest.asset(id);
        use std::fmt::Write as _;
        let _ = writeln!(
            buf,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t\\N\t\\N\t\\N\t{{}}\t[]\t{now}\t{now}",
            a.id,
            copy_escape(cabinet::PROJECT),
            copy_escape(&a.external_id),
            copy_escape(&a.name),
            cluster_load::opt(a.parent_id),
            a.root_id,
            a.depth,
            copy_escape(&a.path)
        );
    }
    {
        let sink = client
            .copy_in(
                "COPY assets (id, project, external_id, name, parent_id, root_id, depth, path, \
                 description, data_set_id, source, metadata, labels, created_time, last_updated_time) \
                 FROM STDIN",
            )
            .await?;
        tokio::pin!(sink);
        sink.send(Bytes::from(buf)).await?;
        sink.as_mut().finish().await.context("COPY assets failed")?;
    }
    client
        .execute("SELECT setval('assets_id_seq', $1)", &[&(n_assets as i64)])
        .await?;
    client.batch_execute("VACUUM ANALYZE assets").await?;
    let na: i64 = client
        .query_one("SELECT count(*) FROM assets", &[])
        .await?
        .try_get(0)?;
    let db: i64 = client
        .query_one("SELECT pg_database_size(current_database())", &[])
        .await?
        .try_get(0)?;
    if na as u64 != n_assets {
        bail!("the load wrote {na} assets, not {n_assets}");
    }
    Ok(AssetLoad {
        files: stats.files,
        assets: na as u64,
        secs: t.elapsed().as_secs_f64(),
        db_mib: db as f64 / (1 << 20) as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows both loaders leave behind for the same small population: counts, one asset's place in
    /// the hierarchy, the file→asset index, and the counters moved past the loaded rows.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn both_loaders_write_the_same_population() {
        let dir =
            std::env::temp_dir().join(format!("cabinet-bench-assets-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let forest = Forest { roots: 1 };
        let files = 2000u64;
        let links: i64 = (0..files)
            .map(|i| assets_data::file_links(i, forest.len()).len() as i64)
            .sum();
        let probe = forest.asset(9000);

        let sqlite = dir.join("sqlite");
        let load = tokio::time::timeout(
            std::time::Duration::from_secs(120),
            load_sqlite(&sqlite, forest, files),
        )
        .await
        .expect("the SQLite load took more than 120 s")
        .unwrap();
        assert_eq!((load.files, load.assets), (files, forest.len()));
        let conn = rusqlite::Connection::open(sqlite.join("metadata.sqlite3")).unwrap();
        let one = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(one("SELECT count(*) FROM file_assets"), links);
        assert_eq!(
            one("SELECT value FROM meta WHERE key = 'asset_id_counter'"),
            forest.len() as i64
        );
        assert_eq!(
            one("SELECT value FROM meta WHERE key = 'id_counter'"),
            files as i64
        );
        assert_eq!(one("SELECT file_count FROM projects"), files as i64);
        let (path, root, depth, parent): (String, i64, i64, Option<i64>) = conn
            .query_row(
                "SELECT path, root_id, depth, parent_id FROM assets WHERE id = 9000",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(
            (path, root, depth, parent),
            (
                probe.path.clone(),
                probe.root_id,
                probe.depth,
                probe.parent_id
            )
        );
        drop(conn);

        let pg = tokio::time::timeout(
            std::time::Duration::from_secs(120),
            postgres::start(&dir.join("pg")),
        )
        .await
        .expect("PostgreSQL did not start within 120 s")
        .expect("PostgreSQL did not start (scripts/install-postgres)");
        let result = async {
            let url = pg.create_database("assets").await.unwrap();
            let load = load_postgres(&url, forest, files).await.unwrap();
            assert_eq!((load.files, load.assets), (files, forest.len()));
            let client = postgres::connect(&url).await.unwrap();
            let row = client
                .query_one(
                    "SELECT path, root_id, depth, parent_id, \
                     (SELECT sum(cardinality(asset_ids)) FROM files), nextval('assets_id_seq') \
                     FROM assets WHERE id = 9000",
                    &[],
                )
                .await
                .unwrap();
            assert_eq!(row.get::<_, String>(0), probe.path);
            assert_eq!(row.get::<_, i64>(1), probe.root_id);
            assert_eq!(row.get::<_, i32>(2) as i64, probe.depth);
            assert_eq!(row.get::<_, Option<i64>>(3), probe.parent_id);
            assert_eq!(row.get::<_, i64>(4), links);
            assert_eq!(row.get::<_, i64>(5), forest.len() as i64 + 1);
        };
        let outcome = tokio::time::timeout(std::time::Duration::from_secs(120), result).await;
        let _ = pg.proc.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
        outcome.expect("the PostgreSQL load and its checks took more than 120 s");
    }
}
