//! The embedded metadata store: SQLite in WAL mode with durable commits (`synchronous = FULL`), one writer
//! thread that group-commits (see `writer.rs`) and a pool of readers.

mod assets;
mod datasets;
mod expiry;
pub mod export;
mod file_seq;
pub mod filter_sql;
mod iam;
mod labels;
mod name_index;
pub mod query;
mod readers;
mod rows;
mod search;
mod set_page;
mod update;
mod writer;

use crate::auth::FileScope;
use std::path::Path;

use async_trait::async_trait;
use rusqlite::{params, Connection};

use self::readers::Readers;
use self::rows::*;
use self::writer::Writer;
use super::ids::IdPermutation;
use super::*;
use crate::domain::{
    ContentRef, FileFilter, FileRecord, FileSpec, FileUpdate, Identifier, ProjectName,
};

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_query_indexes.sql"),
    include_str!("migrations/0003_name_search.sql"),
    include_str!("migrations/0004_expiry.sql"),
    include_str!("migrations/0005_project_counts.sql"),
    include_str!("migrations/0006_name_index_queue.sql"),
    include_str!("migrations/0007_sessions_by_file_seq.sql"),
    include_str!("migrations/0008_geo_index_upkeep.sql"),
    include_str!("migrations/0009_index_triggers_without_or_ignore.sql"),
    include_str!("migrations/0010_uploaded_with_time.sql"),
    include_str!("migrations/0011_project_walk_with_directory.sql"),
    include_str!("migrations/0012_iam.sql"),
    include_str!("migrations/0013_datasets_labels.sql"),
    include_str!("migrations/0014_assets.sql"),
    include_str!("migrations/0015_ids_without_index.sql"),
];

/// Retrievals of at most this many ids run as point reads, on the request's own thread
/// ([`Readers::read_point`]).
const POINT_READ_IDS: usize = 8;

/// The SQLite-backed [`MetadataStore`].
#[derive(Clone)]
pub struct SqliteStore {
    writer: Writer,
    readers: Readers,
    tuning: SqliteTuning,
}

/// Knobs of the query planning, for tests and benchmarks; the defaults are what `cabinet serve` uses.
#[derive(Debug, Clone, Copy)]
pub struct SqliteTuning {
    /// See [`query::DEFAULT_PROBE_LIMIT`]: with 1, every filtered list page walks files in id order;
    /// with `i64::MAX`, every one drives from the filter's index.
    pub list_probe_limit: i64,
    /// The same bound for a resolved asset set, see [`query::DEFAULT_SET_PROBE_LIMIT`].
    pub list_set_probe_limit: i64,
}

impl Default for SqliteTuning {
    fn default() -> Self {
        Self {
            list_probe_limit: query::DEFAULT_PROBE_LIMIT,
            list_set_probe_limit: query::DEFAULT_SET_PROBE_LIMIT,
        }
    }
}

pub(crate) fn open_connection(path: &Path, read_only: bool) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(256);
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF; \
         PRAGMA temp_store = MEMORY;",
    )?;
    if read_only {
        // Readers share the OS page cache through a memory map instead of each keeping a large cache.
        conn.execute_batch(
            "PRAGMA query_only = 1; PRAGMA cache_size = -16384; PRAGMA mmap_size = 1073741824;",
        )?;
    } else {
        conn.execute_batch("PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 8192;")?;
    }
    Ok(conn)
}

/// The migration (by number) that empties `file_geo` for [`rows::rebuild_geo_index`] to refill.
const GEO_REBUILD_MIGRATION: usize = 8;

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let applied: usize = conn
        .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map_err(sql_err)? as usize;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction().map_err(sql_err)?;
        tx.execute_batch(sql).map_err(sql_err)?;
        if i + 1 == GEO_REBUILD_MIGRATION {
            rows::rebuild_geo_index(&tx)?;
        }
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
            .map_err(sql_err)?;
        tx.commit().map_err(sql_err)?;
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it. `id_seed` keys the id permutation
    /// and must stay the same for the life of the database.
    pub fn open(path: &Path, id_seed: u64) -> Result<Self, StoreError> {
        Self::open_tuned(path, id_seed, SqliteTuning::default())
    }

    /// [`SqliteStore::open`] with other planning knobs.
    pub fn open_tuned(path: &Path, id_seed: u64, tuning: SqliteTuning) -> Result<Self, StoreError> {
        let mut conn = open_connection(path, false).map_err(sql_err)?;
        migrate(&mut conn)?;
        let ids = IdPermutation::new(id_seed);
        file_seq::register(&conn, &ids).map_err(sql_err)?;
        let writer = Writer::start(conn, ids.clone())?;
        Ok(Self {
            writer,
            readers: Readers::new(path.to_path_buf(), ids),
            tuning,
        })
    }

    /// Jobs per group commit of this store's writer (shared: observations made later show up).
    pub fn commit_batch_sizes(&self) -> prometheus_client::metrics::histogram::Histogram {
        self.writer.batch_sizes.clone()
    }
}

fn insert_session(
    conn: &Connection,
    project_id: i64,
    file_id: i64,
    s: &NewSession,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(&format!(
        "INSERT INTO upload_sessions (id, project_id, file_id, parts, created_time, expires_time, file_seq) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, (SELECT seq FROM files WHERE {}))",
        file_seq::row_of_id("files", "?3")
    ))
    .and_then(|mut st| {
        st.execute(params![
            s.id,
            project_id,
            file_id,
            s.parts,
            now,
            s.expires_time
        ])
    })
    .map_err(sql_err)?;
    Ok(())
}

fn now_ms() -> i64 {
    crate::clock::now_ms()
}

/// For a data-set-scoped caller, an unknown file is reported like one outside its scope, so that the
/// answer does not tell whether a file it may not see exists; callers with `all` keep `missing`
/// ([`FileScope::hides_unknown`]).
pub(super) fn hide_missing(e: StoreError, scope: &FileScope) -> StoreError {
    match e {
        StoreError::Missing(_) if scope.hides_unknown() => StoreError::OutOfScope,
        e => e,
    }
}

#[async_trait]
impl MetadataStore for SqliteStore {
    async fn create_file_in_scope(
        &self,
        project: &ProjectName,
        spec: FileSpec,
        overwrite: bool,
        session: NewSession,
        now: i64,
        scope: &FileScope,
    ) -> Result<FileRecord, StoreError> {
        let project = project.as_str().to_string();
        let scope = scope.clone();
        self.writer
            .write(move |ctx| {
                if !scope.covers_parts(
                    spec.data_set_id,
                    spec.security_categories.as_deref().unwrap_or_default(),
                ) {
                    return Err(StoreError::OutOfScope);
                }
                let pid = project_id_or_create(ctx.conn, &project)?;
                let existing = match &spec.external_id {
                    Some(x) => file_by_external_id(ctx.conn, pid, x)?,
                    None => None,
                };
                let file = match existing {
                    Some(_) if !overwrite => {
                        let x = spec.external_id.clone().unwrap_or_default();
                        return Err(StoreError::Duplicated(vec![Identifier::ExternalId(x)]));
                    }
                    Some(file) if !scope.covers(&file) => {
                        return Err(StoreError::OutOfScope);
                    }
                    Some(mut file) => {
                        file.overwrite_with(spec, now);
                        update_file(ctx.conn, pid, &file)?;
                        rows::reindex_geo_location(ctx.conn, &file)?;
                        file
                    }
                    None => {
                        let (seq, id) = ctx.next_file();
                        let file = FileRecord::from_spec(id, spec, now);
                        insert_file(ctx.conn, pid, Some(seq), &file)?;
                        file
                    }
                };
                insert_session(ctx.conn, pid, file.id, &session, now)?;
                Ok(file)
            })
            .await
    }

    async fn open_session_in_scope(
        &self,
        project: &ProjectName,
        file: &Identifier,
        session: NewSession,
        scope: &FileScope,
    ) -> Result<FileRecord, StoreError> {
        let project = project.as_str().to_string();
        let file = file.clone();
        let scope = scope.clone();
        self.writer
            .write(move |ctx| {
                let pid = project_id(ctx.conn, &project)?;
                let found = resolve_all(ctx.conn, pid, std::slice::from_ref(&file), false)
                    .map_err(|e| hide_missing(e, &scope))?;
                let (Some(pid), Some(record)) = (pid, found.into_iter().next()) else {
                    return Err(hide_missing(StoreError::Missing(vec![file]), &scope));
                };
                if !scope.covers(&record) {
                    return Err(StoreError::OutOfScope);
                }
                insert_session(ctx.conn, pid, record.id, &session, now_ms())?;
                Ok(record)
            })
            .await
    }

    async fn session(
        &self,
        project: &ProjectName,
        file_id: i64,
        session_id: &str,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.readers
            .read_point(|conn| match project_id(conn, project.as_str())? {
                Some(pid) => rows::session(conn, pid, file_id, session_id),
                None => Ok(None),
            })
    }

    async fn publish_content(
        &self,
        project: &ProjectName,
        file_id: i64,
        session_id: &str,
        content: ContentRef,
        now: i64,
    ) -> Result<Published, StoreError> {
        let project = project.as_str().to_string();
        let session_id = session_id.to_string();
        self.writer
            .write(move |ctx| {
                let pid = project_id(ctx.conn, &project)?.ok_or(StoreError::SessionGone)?;
                let session = rows::session(ctx.conn, pid, file_id, &session_id)?
                    .ok_or(StoreError::SessionGone)?;
                if session.completed_time.is_some() {
                    return Ok(Published::AlreadyCompleted);
                }
                if session.expires_time < now {
                    return Err(StoreError::SessionGone);
                }
                let mut file =
                    file_by_id(ctx.conn, pid, file_id)?.ok_or(StoreError::SessionGone)?;
                let current_session = file
                    .content
                    .as_ref()
                    .and_then(|c| crate::domain::content_key_session(&c.key));
                if current_session.is_some_and(|c| crate::domain::is_newer_session(c, &session_id))
                {
                    return Err(StoreError::Superseded);
                }
                let previous = file.content.replace(content);
                file.uploaded_time = Some(now);
                file.last_updated_time = now;
                update_file(ctx.conn, pid, &file)?;
                if session.parts.is_some() {
                    ctx.conn
                        .prepare_cached(
                            "UPDATE upload_sessions SET completed_time = ?1 WHERE id = ?2",
                        )
                        .and_then(|mut st| st.execute(params![now, session_id]))
                        .map_err(sql_err)?;
                }
                Ok(Published::Replaced { previous })
            })
            .await
    }

    async fn retrieve(
        &self,
        project: &ProjectName,
        ids: &[Identifier],
        ignore_unknown: bool,
    ) -> Result<Vec<FileRecord>, StoreError> {
        if ids.len() <= POINT_READ_IDS {
            return self.readers.read_point(|conn| {
                let pid = project_id(conn, project.as_str())?;
                resolve_all(conn, pid, ids, ignore_unknown)
            });
        }
        let project = project.as_str().to_string();
        let ids = ids.to_vec();
        self.readers
            .read(move |conn| {
                let pid = project_id(conn, &project)?;
                resolve_all(conn, pid, &ids, ignore_unknown)
            })
            .await
    }

    async fn list(&self, project: &ProjectName, page: PageRequest) -> Result<Page, StoreError> {
        let project = project.as_str().to_string();
        let tuning = self.tuning;
        self.readers
            .read(move |conn| match project_id(conn, &project)? {
                Some(pid) => query::list_page(conn, pid, &page, tuning),
                None => Ok(Page {
                    items: vec![],
                    next: None,
                }),
            })
            .await
    }

    async fn delete_in_scope(
        &self,
        project: &ProjectName,
        ids: &[Identifier],
        ignore_unknown: bool,
        scope: &FileScope,
    ) -> Result<Vec<DeletedFile>, StoreError> {
        let project = project.as_str().to_string();
        let ids = ids.to_vec();
        let scope = scope.clone();
        self.writer
            .write(move |ctx| {
                let pid = project_id(ctx.conn, &project)?;
                let files = resolve_all(ctx.conn, pid, &ids, ignore_unknown)
                    .map_err(|e| hide_missing(e, &scope))?;
                if !ignore_unknown && files.iter().any(|f| !scope.covers(f)) {
                    return Err(StoreError::OutOfScope);
                }
                let mut deleted: Vec<DeletedFile> = Vec::with_capacity(files.len());
                for file in files {
                    if deleted.iter().any(|d| d.id == file.id) || !scope.covers(&file) {
                        continue;
                    }
                    let sessions = ctx
                        .conn
                        .prepare_cached(&format!(
                            "DELETE FROM upload_sessions \
                             WHERE file_seq = (SELECT seq FROM files WHERE {}) RETURNING id",
                            file_seq::row_of_id("files", "?1")
                        ))
                        .and_then(|mut st| {
                            st.query_map([file.id], |r| r.get::<_, String>(0))?
                                .collect::<rusqlite::Result<Vec<_>>>()
                        })
                        .map_err(sql_err)?;
                    ctx.conn
                        .prepare_cached(&format!(
                            "DELETE FROM files WHERE {}",
                            file_seq::row_of_id("files", "?1")
                        ))
                        .and_then(|mut st| st.execute([file.id]))
                        .map_err(sql_err)?;
                    deleted.push(DeletedFile {
                        id: file.id,
                        content: file.content,
                        sessions,
                    });
                }
                Ok(deleted)
            })
            .await
    }

    async fn count(&self, project: &ProjectName, filter: &FileFilter) -> Result<u64, StoreError> {
        let project = project.as_str().to_string();
        let filter = filter.clone();
        self.readers
            .read(move |conn| match project_id(conn, &project)? {
                Some(pid) => query::count(conn, pid, &filter),
                None => Ok(0),
            })
            .await
    }

    async fn search(
        &self,
        project: &ProjectName,
        filter: &FileFilter,
        name: Option<&str>,
        limit: usize,
    ) -> Result<Vec<FileRecord>, StoreError> {
        let project = project.as_str().to_string();
        let filter = filter.clone();
        let name = name.map(str::to_string);
        self.readers
            .read(move |conn| match project_id(conn, &project)? {
                Some(pid) => search::search_files(conn, pid, &filter, name.as_deref(), limit),
                None => Ok(vec![]),
            })
            .await
    }

    async fn update_in_scope(
        &self,
        project: &ProjectName,
        items: Vec<FileUpdate>,
        now: i64,
        scope: &FileScope,
    ) -> Result<Vec<FileRecord>, StoreError> {
        let project = project.as_str().to_string();
        let scope = scope.clone();
        self.writer
            .write_atomic(move |ctx| update::update_files(ctx, &project, items, now, &scope))
            .await
    }

    async fn content_keys(&self, file_ids: &[i64]) -> Result<Vec<(i64, String)>, StoreError> {
        let file_ids = file_ids.to_vec();
        self.readers
            .read(move |conn| {
                let mut st = conn
                    .prepare_cached(&format!(
                        "SELECT content_key FROM files WHERE {} AND content_key IS NOT NULL",
                        file_seq::row_of_id("files", "?1")
                    ))
                    .map_err(sql_err)?;
                let mut found = Vec::with_capacity(file_ids.len());
                for id in file_ids {
                    let mut rows = st.query([id]).map_err(sql_err)?;
                    if let Some(row) = rows.next().map_err(sql_err)? {
                        found.push((id, row.get::<_, String>(0).map_err(sql_err)?));
                    }
                }
                Ok(found)
            })
            .await
    }

    async fn open_sessions(&self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let ids = ids.to_vec();
        self.readers
            .read(move |conn| {
                let mut st = conn
                    .prepare_cached(
                        "SELECT 1 FROM upload_sessions WHERE id = ?1 AND completed_time IS NULL",
                    )
                    .map_err(sql_err)?;
                let mut found = Vec::new();
                for id in ids {
                    if st.exists([&id]).map_err(sql_err)? {
                        found.push(id);
                    }
                }
                Ok(found)
            })
            .await
    }

    async fn projects_with_files(&self) -> Result<Vec<String>, StoreError> {
        self.readers
            .read(|conn| {
                // One probe of `files_by_project` per project.
                let mut st = conn
                    .prepare_cached(
                        "SELECT p.name FROM projects p \
                         WHERE EXISTS (SELECT 1 FROM files f WHERE f.project_id = p.id) \
                         ORDER BY p.name",
                    )
                    .map_err(sql_err)?;
                let names = st
                    .query_map([], |row| row.get::<_, String>(0))
                    .map_err(sql_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(sql_err)?;
                Ok(names)
            })
            .await
    }

    async fn expire(&self, now: i64) -> Result<Expired, StoreError> {
        self.writer.write(move |ctx| expiry::expire(ctx, now)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Migrating past 0008 recomputes the spatial index from the files: boxes left stale by updates before
    /// it (which did not touch the index) are replaced, and boxes of gone files are dropped.
    #[test]
    fn the_geo_migration_rebuilds_the_spatial_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let mut conn = open_connection(&path, false).unwrap();
        for sql in &MIGRATIONS[..GEO_REBUILD_MIGRATION - 1] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(&format!(
            "PRAGMA user_version = {}",
            GEO_REBUILD_MIGRATION - 1
        ))
        .unwrap();
        let point = r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[3.0,4.0]}}"#;
        conn.execute(
            "INSERT INTO files (seq, id, project_id, name, geo_location, created_time, last_updated_time) \
             VALUES (1, 11, 1, 'moved', ?1, 0, 0), (2, 12, 1, 'plain', NULL, 0, 0)",
            [point],
        )
        .unwrap();
        conn.execute_batch(
            "INSERT INTO file_geo VALUES (1, 50, 50, 50, 50); INSERT INTO file_geo VALUES (9, 0, 1, 0, 1);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let boxes: Vec<(i64, f64, f64, f64, f64)> = conn
            .prepare("SELECT seq, min_x, max_x, min_y, max_y FROM file_geo ORDER BY seq")
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(boxes, [(1, 3.0, 3.0, 4.0, 4.0)]);
        conn.execute("DELETE FROM files WHERE id = 11", []).unwrap();
        let left: i64 = conn
            .query_row("SELECT count(*) FROM file_geo", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            left, 0,
            "a deleted file's box goes with it (0002's delete trigger)"
        );
    }
}
