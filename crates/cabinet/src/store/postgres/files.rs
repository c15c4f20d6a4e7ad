//! Files on PostgreSQL: rows to [`FileRecord`]s and back, and the first operations of
//! [`MetadataStore`](crate::store::MetadataStore) with its semantics: create (with overwrite and the
//! caller's scope), retrieve and delete, as inherent methods that `metadata.rs` calls.
//!
//! Concurrency across nodes: file ids come from the `files_seq` sequence through the id permutation, so
//! they never collide or repeat on any node; two creates of one externalId meet on the unique index
//! `files_by_external_id`, where the later insert waits for the earlier transaction and then fails, so
//! exactly one succeeds (an overwrite that loses this race retries, and then overwrites the winner's
//! file).

use std::collections::HashMap;

use tokio_postgres::error::SqlState;
use tokio_postgres::types::{Json, ToSql};
use tokio_postgres::Row;

use super::{pg_err, PgStore, BACKEND};
use crate::auth::FileScope;
use crate::domain::{
    ContentRef, FileRecord, FileSpec, GeoLocation, Identifier, Metadata, ProjectName,
};
use crate::store::{DeletedFile, NewSession, StoreError};

/// The columns [`file_from_row`] reads, in its order.
pub(super) const FILE_COLUMNS: &str =
    "id, external_id, name, directory, source, mime_type, metadata, asset_ids, \
    data_set_id, source_created_time, source_modified_time, security_categories, labels, \
    geo_location::text, created_time, last_updated_time, uploaded_time, content_key, content_size";

/// How often an overwrite that lost a race for its externalId starts again.
const OVERWRITE_ATTEMPTS: usize = 3;

pub(super) fn file_from_row(row: &Row) -> Result<FileRecord, StoreError> {
    let metadata: Option<Json<Metadata>> = row.try_get(6).map_err(pg_err)?;
    let geo: Option<String> = row.try_get(13).map_err(pg_err)?;
    let content_key: Option<String> = row.try_get(17).map_err(pg_err)?;
    let content_size: Option<i64> = row.try_get(18).map_err(pg_err)?;
    Ok(FileRecord {
        id: row.try_get(0).map_err(pg_err)?,
        external_id: row.try_get(1).map_err(pg_err)?,
        name: row.try_get(2).map_err(pg_err)?,
        directory: row.try_get(3).map_err(pg_err)?,
        source: row.try_get(4).map_err(pg_err)?,
        mime_type: row.try_get(5).map_err(pg_err)?,
        metadata: metadata.map(|m| m.0).unwrap_or_default(),
        asset_ids: row
            .try_get::<_, Option<Vec<i64>>>(7)
            .map_err(pg_err)?
            .unwrap_or_default(),
        data_set_id: row.try_get(8).map_err(pg_err)?,
        source_created_time: row.try_get(9).map_err(pg_err)?,
        source_modified_time: row.try_get(10).map_err(pg_err)?,
        security_categories: row
            .try_get::<_, Option<Vec<i64>>>(11)
            .map_err(pg_err)?
            .unwrap_or_default(),
        labels: row
            .try_get::<_, Option<Vec<String>>>(12)
            .map_err(pg_err)?
            .unwrap_or_default(),
        geo_location: geo
            .map(GeoLocation::from_stored)
            .transpose()
            .map_err(|e| StoreError::internal("files.geo_location", e))?,
        created_time: row.try_get(14).map_err(pg_err)?,
        last_updated_time: row.try_get(15).map_err(pg_err)?,
        uploaded_time: row.try_get(16).map_err(pg_err)?,
        content: content_key.map(|key| ContentRef {
            key,
            size: content_size.unwrap_or(0).max(0) as u64,
        }),
    })
}

/// The row values of a file, as the `files` columns after `seq` and `project_id` take them: empty lists
/// and maps are NULL, as on SQLite.
struct FileParams<'a> {
    metadata: Option<Json<&'a Metadata>>,
    asset_ids: Option<&'a [i64]>,
    security_categories: Option<&'a [i64]>,
    labels: Option<&'a [String]>,
    geo: Option<&'a str>,
    geo_box: [Option<f64>; 4],
    content_size: Option<i64>,
}

impl<'a> FileParams<'a> {
    fn of(f: &'a FileRecord) -> Self {
        let rect = f
            .geo_location
            .as_ref()
            .and_then(GeoLocation::geometry)
            .and_then(|g| geo::BoundingRect::bounding_rect(&g));
        Self {
            metadata: (!f.metadata.is_empty()).then_some(Json(&f.metadata)),
            asset_ids: (!f.asset_ids.is_empty()).then_some(&f.asset_ids[..]),
            security_categories: (!f.security_categories.is_empty())
                .then_some(&f.security_categories[..]),
            labels: (!f.labels.is_empty()).then_some(&f.labels[..]),
            geo: f.geo_location.as_ref().map(GeoLocation::as_str),
            geo_box: match rect {
                Some(r) => [
                    Some(r.min().x),
                    Some(r.min().y),
                    Some(r.max().x),
                    Some(r.max().y),
                ],
                None => [None; 4],
            },
            content_size: f
                .content
                .as_ref()
                .map(|c| i64::try_from(c.size).unwrap_or(i64::MAX)),
        }
    }
}

/// The insert of a new file: `$1`…`$25` as in [`FILE_VALUES`] (with `$1` the project and `$2` the id),
/// `$26` its seq.
const INSERT_FILE: &str =
    "INSERT INTO files (seq, project_id, id, external_id, name, directory, source, \
    mime_type, metadata, asset_ids, data_set_id, source_created_time, \
    source_modified_time, security_categories, labels, geo_location, geo_box, \
    created_time, last_updated_time, uploaded_time, content_key, content_size, name_words) \
    VALUES ($26, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
    $15::text::json, box(point($16, $17), point($18, $19)), $20, $21, $22, $23, $24, $25)";

/// `$3`…`$25` of the insert and the update: every column of a file after its id (`name_words`: the
/// name's search words, see migration 0003).
const FILE_VALUES: &str =
    "external_id = $3, name = $4, directory = $5, source = $6, mime_type = $7, \
    metadata = $8, asset_ids = $9, data_set_id = $10, source_created_time = $11, \
    source_modified_time = $12, security_categories = $13, labels = $14, \
    geo_location = $15::text::json, geo_box = box(point($16, $17), point($18, $19)), \
    created_time = $20, last_updated_time = $21, uploaded_time = $22, content_key = $23, \
    content_size = $24, name_words = $25";

pub(super) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

pub(super) type Tx<'a> = deadpool_postgres::Transaction<'a>;

pub(super) async fn project_id(tx: &Tx<'_>, name: &str) -> Result<Option<i64>, StoreError> {
    let st = tx
        .prepare_cached("SELECT id FROM projects WHERE name = $1")
        .await
        .map_err(pg_err)?;
    let row = tx.query_opt(&st, &[&name]).await.map_err(pg_err)?;
    row.map(|r| r.try_get(0)).transpose().map_err(pg_err)
}

pub(super) async fn project_id_or_create(tx: &Tx<'_>, name: &str) -> Result<i64, StoreError> {
    // Two nodes may create a project at once: the loser of the insert waits for the winner, inserts
    // nothing, and reads the winner's row.
    if let Some(id) = project_id(tx, name).await? {
        return Ok(id);
    }
    let inserted = tx
        .query_opt(
            "INSERT INTO projects (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id",
            &[&name],
        )
        .await
        .map_err(pg_err)?;
    match inserted {
        Some(row) => row.try_get(0).map_err(pg_err),
        None => project_id(tx, name).await?.ok_or_else(|| {
            StoreError::internal(BACKEND, std::io::Error::other("project vanished"))
        }),
    }
}

/// The files of `idents` in their order (a file named twice comes twice), locked for update when
/// `lock`; unknown ones fail the call all at once unless `ignore_unknown`.
pub(super) async fn resolve_all(
    tx: &Tx<'_>,
    project_id: Option<i64>,
    idents: &[Identifier],
    ignore_unknown: bool,
    lock: bool,
) -> Result<Vec<FileRecord>, StoreError> {
    let mut rows = Vec::new();
    if let Some(pid) = project_id {
        let (ids, xids) = split_identifiers(idents);
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE project_id = $1 \
             AND (id = ANY($2) OR external_id = ANY($3)) ORDER BY seq{}",
            if lock { " FOR UPDATE" } else { "" }
        );
        let st = tx.prepare_cached(&sql).await.map_err(pg_err)?;
        rows = tx.query(&st, &[&pid, &ids, &xids]).await.map_err(pg_err)?;
    }
    match_identifiers(&rows, idents, ignore_unknown)
}

/// The statement of [`read_identified`], written once.
static READ_IDENTIFIED: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {FILE_COLUMNS} FROM files \
         WHERE project_id = (SELECT id FROM projects WHERE name = $1) \
         AND (id = ANY($2) OR external_id = ANY($3))"
    )
});

/// The files `idents` name in `project`, in their order, read by one prepared statement outside any
/// transaction (one round trip, where [`resolve_all`] in a transaction takes six): what a read needs,
/// since one statement sees one snapshot.
pub(super) async fn read_identified(
    client: &deadpool_postgres::Client,
    project: &str,
    idents: &[Identifier],
    ignore_unknown: bool,
) -> Result<Vec<FileRecord>, StoreError> {
    let (ids, xids) = split_identifiers(idents);
    let st = client
        .prepare_cached(&READ_IDENTIFIED)
        .await
        .map_err(pg_err)?;
    let rows = client
        .query(&st, &[&project, &ids, &xids])
        .await
        .map_err(pg_err)?;
    match_identifiers(&rows, idents, ignore_unknown)
}

/// The ids and the externalIds among `idents`.
fn split_identifiers(idents: &[Identifier]) -> (Vec<i64>, Vec<&str>) {
    let ids = idents
        .iter()
        .filter_map(|i| match i {
            Identifier::Id(id) => Some(*id),
            _ => None,
        })
        .collect();
    let xids = idents
        .iter()
        .filter_map(|i| match i {
            Identifier::ExternalId(x) => Some(x.as_str()),
            _ => None,
        })
        .collect();
    (ids, xids)
}

/// The file of each identifier, in their order, from the rows read for them; the identifiers no row
/// answers are [`StoreError::Missing`] unless `ignore_unknown`.
fn match_identifiers(
    rows: &[Row],
    idents: &[Identifier],
    ignore_unknown: bool,
) -> Result<Vec<FileRecord>, StoreError> {
    let mut by_id = HashMap::new();
    let mut by_external_id = HashMap::new();
    for row in rows {
        let file = file_from_row(row)?;
        if let Some(x) = &file.external_id {
            by_external_id.insert(x.clone(), file.clone());
        }
        by_id.insert(file.id, file);
    }
    let mut found = Vec::with_capacity(idents.len());
    let mut missing = Vec::new();
    for ident in idents {
        let file = match ident {
            Identifier::Id(id) => by_id.get(id),
            Identifier::ExternalId(x) => by_external_id.get(x),
            Identifier::InstanceId { .. } => None,
        };
        match file {
            Some(f) => found.push(f.clone()),
            None => missing.push(ident.clone()),
        }
    }
    if !missing.is_empty() && !ignore_unknown {
        return Err(StoreError::Missing(missing));
    }
    Ok(found)
}

pub(super) async fn write_file(
    tx: &Tx<'_>,
    pid: i64,
    f: &FileRecord,
    insert_seq: Option<i64>,
) -> Result<(), tokio_postgres::Error> {
    let p = FileParams::of(f);
    let name_words = crate::store::name_search::words(&f.name);
    let params: [&(dyn ToSql + Sync); 25] = [
        &pid,
        &f.id,
        &f.external_id,
        &f.name,
        &f.directory,
        &f.source,
        &f.mime_type,
        &p.metadata,
        &p.asset_ids,
        &f.data_set_id,
        &f.source_created_time,
        &f.source_modified_time,
        &p.security_categories,
        &p.labels,
        &p.geo,
        &p.geo_box[0],
        &p.geo_box[1],
        &p.geo_box[2],
        &p.geo_box[3],
        &f.created_time,
        &f.last_updated_time,
        &f.uploaded_time,
        &f.content.as_ref().map(|c| c.key.as_str()),
        &p.content_size,
        &name_words,
    ];
    match insert_seq {
        Some(seq) => {
            let mut with_seq: Vec<&(dyn ToSql + Sync)> = params.to_vec();
            with_seq.push(&seq);
            let st = tx.prepare_cached(INSERT_FILE).await?;
            tx.execute(&st, &with_seq).await?;
        }
        None => {
            let st = tx
                .prepare_cached(&format!(
                    "UPDATE files SET {FILE_VALUES} WHERE project_id = $1 AND id = $2"
                ))
                .await?;
            tx.execute(&st, &params).await?;
        }
    }
    Ok(())
}

pub(super) async fn insert_session(
    tx: &Tx<'_>,
    pid: i64,
    file_id: i64,
    s: &NewSession,
    now: i64,
) -> Result<(), StoreError> {
    let parts = s.parts.map(i64::from);
    let st = tx
        .prepare_cached(
            "INSERT INTO upload_sessions (id, project_id, file_id, parts, created_time, expires_time) \
             VALUES ($1, $2, $3, $4::bigint::integer, $5, $6)",
        )
        .await
        .map_err(pg_err)?;
    tx.execute(&st, &[&s.id, &pid, &file_id, &parts, &now, &s.expires_time])
        .await
        .map_err(pg_err)?;
    Ok(())
}

impl PgStore {
    /// [`MetadataStore::create_file_in_scope`](crate::store::MetadataStore::create_file_in_scope) on
    /// PostgreSQL, with the same contract.
    pub async fn create_file_in_scope(
        &self,
        project: &ProjectName,
        spec: FileSpec,
        overwrite: bool,
        session: NewSession,
        now: i64,
        scope: &FileScope,
    ) -> Result<FileRecord, StoreError> {
        if !scope.covers_parts(
            spec.data_set_id,
            spec.security_categories.as_deref().unwrap_or_default(),
        ) {
            return Err(StoreError::OutOfScope);
        }
        for _ in 0..OVERWRITE_ATTEMPTS {
            match self
                .create_once(project, spec.clone(), overwrite, &session, now, scope)
                .await?
            {
                Some(file) => return Ok(file),
                None if overwrite => continue,
                None => {
                    let x = spec.external_id.clone().unwrap_or_default();
                    return Err(StoreError::Duplicated(vec![Identifier::ExternalId(x)]));
                }
            }
        }
        Err(StoreError::internal(
            BACKEND,
            std::io::Error::other("an overwrite kept losing races for its externalId"),
        ))
    }

    /// One attempt of a create: `None` when it lost a race for the externalId (another node inserted it
    /// between this transaction's lookup and its insert), and nothing changed.
    async fn create_once(
        &self,
        project: &ProjectName,
        spec: FileSpec,
        overwrite: bool,
        session: &NewSession,
        now: i64,
        scope: &FileScope,
    ) -> Result<Option<FileRecord>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let pid = project_id_or_create(&tx, project.as_str()).await?;
        let existing = match &spec.external_id {
            Some(x) => resolve_all(
                &tx,
                Some(pid),
                &[Identifier::ExternalId(x.clone())],
                true,
                true,
            )
            .await?
            .pop(),
            None => None,
        };
        let file = match existing {
            Some(_) if !overwrite => {
                let x = spec.external_id.clone().unwrap_or_default();
                return Err(StoreError::Duplicated(vec![Identifier::ExternalId(x)]));
            }
            Some(file) if !scope.covers(&file) => return Err(StoreError::OutOfScope),
            Some(mut file) => {
                file.overwrite_with(spec, now);
                write_file(&tx, pid, &file, None).await.map_err(pg_err)?;
                file
            }
            None => {
                let next = tx
                    .prepare_cached("SELECT nextval('files_seq')")
                    .await
                    .map_err(pg_err)?;
                let seq: i64 = tx
                    .query_one(&next, &[])
                    .await
                    .and_then(|r| r.try_get(0))
                    .map_err(pg_err)?;
                let file = FileRecord::from_spec(self.ids.id_for(seq.max(0) as u64), spec, now);
                match write_file(&tx, pid, &file, Some(seq)).await {
                    Ok(()) => file,
                    Err(e) if is_unique_violation(&e) => return Ok(None),
                    Err(e) => return Err(pg_err(e)),
                }
            }
        };
        insert_session(&tx, pid, file.id, session, now).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(Some(file))
    }

    /// [`MetadataStore::retrieve`](crate::store::MetadataStore::retrieve) on PostgreSQL.
    pub async fn retrieve(
        &self,
        project: &ProjectName,
        ids: &[Identifier],
        ignore_unknown: bool,
    ) -> Result<Vec<FileRecord>, StoreError> {
        let client = self.client().await?;
        read_identified(&client, project.as_str(), ids, ignore_unknown).await
    }

    /// [`MetadataStore::delete_in_scope`](crate::store::MetadataStore::delete_in_scope) on PostgreSQL.
    pub async fn delete_in_scope(
        &self,
        project: &ProjectName,
        ids: &[Identifier],
        ignore_unknown: bool,
        scope: &FileScope,
    ) -> Result<Vec<DeletedFile>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let pid = project_id(&tx, project.as_str()).await?;
        let files = resolve_all(&tx, pid, ids, ignore_unknown, true)
            .await
            .map_err(|e| hide_missing(e, scope))?;
        if !ignore_unknown && files.iter().any(|f| !scope.covers(f)) {
            return Err(StoreError::OutOfScope);
        }
        let mut deleted: Vec<DeletedFile> = Vec::with_capacity(files.len());
        for file in files {
            if deleted.iter().any(|d| d.id == file.id) || !scope.covers(&file) {
                continue;
            }
            let sessions = tx
                .query(
                    "DELETE FROM upload_sessions WHERE file_id = $1 RETURNING id",
                    &[&file.id],
                )
                .await
                .map_err(pg_err)?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<Vec<String>, _>>()
                .map_err(pg_err)?;
            tx.execute("DELETE FROM files WHERE id = $1", &[&file.id])
                .await
                .map_err(pg_err)?;
            deleted.push(DeletedFile {
                id: file.id,
                content: file.content,
                sessions,
            });
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(deleted)
    }
}

/// As on SQLite: for a data-set-scoped caller an unknown file is reported like one outside its scope.
pub(super) fn hide_missing(e: StoreError, scope: &FileScope) -> StoreError {
    match e {
        StoreError::Missing(_) if scope.hides_unknown() => StoreError::OutOfScope,
        e => e,
    }
}
