//! Mapping between `files` rows and [`FileRecord`]s, and the statements every operation shares.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::file_seq::row_of_id;
use crate::domain::{ContentRef, FileRecord, GeoLocation, Identifier};
use crate::store::{SessionRecord, StoreError};

/// The columns [`file_from_row`] reads, in its order.
pub(crate) const FILE_COLUMNS: &str = "id, external_id, name, directory, source, mime_type, metadata, \
    asset_ids, data_set_id, source_created_time, source_modified_time, security_categories, labels, \
    geo_location, created_time, last_updated_time, uploaded_time, content_key, content_size";

pub(crate) fn sql_err(e: rusqlite::Error) -> StoreError {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
        return StoreError::NoSpace { backend: "sqlite" };
    }
    StoreError::internal("sqlite", e)
}

fn json_col<T: serde::de::DeserializeOwned + Default>(
    row: &Row<'_>,
    idx: usize,
) -> rusqlite::Result<T> {
    match row.get::<_, Option<String>>(idx)? {
        None => Ok(T::default()),
        Some(text) => serde_json::from_str(&text).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
        }),
    }
}

fn json_text<T: serde::Serialize>(value: &T, empty: bool) -> Option<String> {
    if empty {
        None
    } else {
        serde_json::to_string(value).ok()
    }
}

pub(crate) fn file_from_row(row: &Row<'_>) -> rusqlite::Result<FileRecord> {
    let content_key: Option<String> = row.get(17)?;
    let content_size: Option<i64> = row.get(18)?;
    Ok(FileRecord {
        id: row.get(0)?,
        external_id: row.get(1)?,
        name: row.get(2)?,
        directory: row.get(3)?,
        source: row.get(4)?,
        mime_type: row.get(5)?,
        metadata: json_col(row, 6)?,
        asset_ids: json_col(row, 7)?,
        data_set_id: row.get(8)?,
        source_created_time: row.get(9)?,
        source_modified_time: row.get(10)?,
        security_categories: json_col(row, 11)?,
        labels: json_col(row, 12)?,
        geo_location: row
            .get::<_, Option<String>>(13)?
            .map(GeoLocation::from_stored)
            .transpose()
            .map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    13,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?,
        created_time: row.get(14)?,
        last_updated_time: row.get(15)?,
        uploaded_time: row.get(16)?,
        content: content_key.map(|key| ContentRef {
            key,
            size: content_size.unwrap_or(0) as u64,
        }),
    })
}

// `OR FAIL` on the writes to `files`: its triggers make each such statement write several tables, and
// with the default `OR ABORT` SQLite then keeps a statement journal (a copy of every page the statement
// touches, about a dozen per file) so that it could undo a statement halfway. A unique violation is found
// before anything of the row is written, so there is nothing to undo, and the writer's jobs already run
// either in their own savepoint or under the rule that they fail before changing anything.

/// Inserts a new file at `seq`, which must be its id counter + 1 (see `file_seq.rs`). With `None` (rows
/// whose id is not the permutation's, as tests write them) the row takes the next rowid and is listed in
/// `file_seq_exceptions`.
pub(crate) fn insert_file(
    conn: &Connection,
    project_id: i64,
    seq: Option<i64>,
    f: &FileRecord,
) -> Result<(), StoreError> {
    let mut params = file_params(project_id, f);
    params.push(Box::new(seq));
    conn.prepare_cached(&format!(
        "INSERT OR FAIL INTO files (project_id, {FILE_COLUMNS}, seq) VALUES \
         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)"
    ))
    .and_then(|mut st| st.execute(rusqlite::params_from_iter(params)))
    .map_err(|e| unique_violation(e, f))?;
    if seq.is_none() {
        conn.prepare_cached(
            "INSERT INTO file_seq_exceptions (id, seq) VALUES (?1, last_insert_rowid())",
        )
        .and_then(|mut st| st.execute([f.id]))
        .map_err(sql_err)?;
    }
    insert_geo_location(conn, f)
}

/// Replaces the file's bounding box in the spatial index, after its geoLocation may have changed.
pub(crate) fn reindex_geo_location(conn: &Connection, f: &FileRecord) -> Result<(), StoreError> {
    conn.prepare_cached(&format!(
        "DELETE FROM file_geo WHERE seq = (SELECT seq FROM files WHERE {})",
        row_of_id("files", "?1")
    ))
    .and_then(|mut st| st.execute([f.id]))
    .map_err(sql_err)?;
    insert_geo_location(conn, f)
}

/// Puts the bounding box of the file's geoLocation, if any, in the `file_geo` R*Tree (the spatial
/// pre-filter), which must not hold one for the file yet.
fn insert_geo_location(conn: &Connection, f: &FileRecord) -> Result<(), StoreError> {
    insert_geo_box(conn, f.id, f.geo_location.as_ref())
}

fn insert_geo_box(
    conn: &Connection,
    file_id: i64,
    geo_location: Option<&GeoLocation>,
) -> Result<(), StoreError> {
    if let Some(r) = geo_box(geo_location) {
        conn.prepare_cached(&format!(
            "INSERT INTO file_geo (seq, min_x, max_x, min_y, max_y) \
             SELECT seq, ?2, ?3, ?4, ?5 FROM files WHERE {}",
            row_of_id("files", "?1")
        ))
        .and_then(|mut st| st.execute(params![file_id, r.min().x, r.max().x, r.min().y, r.max().y]))
        .map_err(sql_err)?;
    }
    Ok(())
}

/// The bounding box of a geoLocation, if it has a geometry.
fn geo_box(geo_location: Option<&GeoLocation>) -> Option<geo::Rect<f64>> {
    geo_location
        .and_then(GeoLocation::geometry)
        .and_then(|g| geo::BoundingRect::bounding_rect(&g))
}

/// Fills an empty `file_geo` from every file's geoLocation.
pub(crate) fn rebuild_geo_index(conn: &Connection) -> Result<(), StoreError> {
    // By seq: this runs in migration 0008, before lookups by id went through `file_seq.rs`.
    let located: Vec<(i64, String)> = conn
        .prepare("SELECT seq, geo_location FROM files WHERE geo_location IS NOT NULL")
        .and_then(|mut st| {
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()
        })
        .map_err(sql_err)?;
    for (seq, geo) in located {
        let geo = GeoLocation::from_stored(geo).ok();
        if let Some(r) = geo_box(geo.as_ref()) {
            conn.prepare_cached(
                "INSERT INTO file_geo (seq, min_x, max_x, min_y, max_y) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut st| st.execute(params![seq, r.min().x, r.max().x, r.min().y, r.max().y]))
            .map_err(sql_err)?;
        }
    }
    Ok(())
}

pub(crate) fn update_file(
    conn: &Connection,
    project_id: i64,
    f: &FileRecord,
) -> Result<(), StoreError> {
    let sets = FILE_COLUMNS
        .split(", ")
        .enumerate()
        .skip(1)
        .map(|(i, c)| format!("{c} = ?{}", i + 2))
        .collect::<Vec<_>>()
        .join(", ");
    conn.prepare_cached(&format!(
        "UPDATE OR FAIL files SET {sets} WHERE project_id = ?1 AND {}",
        row_of_id("files", "?2")
    ))
    .and_then(|mut st| st.execute(rusqlite::params_from_iter(file_params(project_id, f))))
    .map_err(|e| unique_violation(e, f))?;
    Ok(())
}

fn file_params(project_id: i64, f: &FileRecord) -> Vec<Box<dyn rusqlite::ToSql + '_>> {
    let content_key = f.content.as_ref().map(|c| c.key.clone());
    let content_size = f.content.as_ref().map(|c| c.size as i64);
    vec![
        Box::new(project_id),
        Box::new(f.id),
        Box::new(&f.external_id),
        Box::new(&f.name),
        Box::new(&f.directory),
        Box::new(&f.source),
        Box::new(&f.mime_type),
        Box::new(json_text(&f.metadata, f.metadata.is_empty())),
        Box::new(json_text(&f.asset_ids, f.asset_ids.is_empty())),
        Box::new(f.data_set_id),
        Box::new(f.source_created_time),
        Box::new(f.source_modified_time),
        Box::new(json_text(
            &f.security_categories,
            f.security_categories.is_empty(),
        )),
        Box::new(json_text(&f.labels, f.labels.is_empty())),
        Box::new(f.geo_location.as_ref().map(GeoLocation::as_str)),
        Box::new(f.created_time),
        Box::new(f.last_updated_time),
        Box::new(f.uploaded_time),
        Box::new(content_key),
        Box::new(content_size),
    ]
}

fn unique_violation(e: rusqlite::Error, f: &FileRecord) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(err, _)
            if err.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            match &f.external_id {
                Some(x) => StoreError::Duplicated(vec![Identifier::ExternalId(x.clone())]),
                None => sql_err(e),
            }
        }
        _ => sql_err(e),
    }
}

pub(crate) fn file_by_id(
    conn: &Connection,
    project_id: i64,
    id: i64,
) -> Result<Option<FileRecord>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {FILE_COLUMNS} FROM files WHERE project_id = ?1 AND {}",
        row_of_id("files", "?2")
    ))
    .and_then(|mut st| {
        st.query_row(params![project_id, id], file_from_row)
            .optional()
    })
    .map_err(sql_err)
}

pub(crate) fn file_by_external_id(
    conn: &Connection,
    project_id: i64,
    external_id: &str,
) -> Result<Option<FileRecord>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {FILE_COLUMNS} FROM files WHERE project_id = ?1 AND external_id = ?2"
    ))
    .and_then(|mut st| {
        st.query_row(params![project_id, external_id], file_from_row)
            .optional()
    })
    .map_err(sql_err)
}

/// The file an identifier names, if any. Instance ids name data-modeling nodes, which this store does
/// not hold, so they never match.
pub(crate) fn file_by_identifier(
    conn: &Connection,
    project_id: i64,
    ident: &Identifier,
) -> Result<Option<FileRecord>, StoreError> {
    match ident {
        Identifier::Id(id) => file_by_id(conn, project_id, *id),
        Identifier::ExternalId(x) => file_by_external_id(conn, project_id, x),
        Identifier::InstanceId { .. } => Ok(None),
    }
}

/// Resolves every identifier, failing with all unknown ones at once unless `ignore_unknown`.
pub(crate) fn resolve_all(
    conn: &Connection,
    project_id: Option<i64>,
    idents: &[Identifier],
    ignore_unknown: bool,
) -> Result<Vec<FileRecord>, StoreError> {
    let mut found = Vec::with_capacity(idents.len());
    let mut missing = Vec::new();
    for ident in idents {
        let file = match project_id {
            Some(pid) => file_by_identifier(conn, pid, ident)?,
            None => None,
        };
        match file {
            Some(f) => found.push(f),
            None => missing.push(ident.clone()),
        }
    }
    if !missing.is_empty() && !ignore_unknown {
        return Err(StoreError::Missing(missing));
    }
    Ok(found)
}

pub(crate) fn project_id(conn: &Connection, name: &str) -> Result<Option<i64>, StoreError> {
    conn.prepare_cached("SELECT id FROM projects WHERE name = ?1")
        .and_then(|mut st| st.query_row([name], |r| r.get(0)).optional())
        .map_err(sql_err)
}

pub(crate) fn project_id_or_create(conn: &Connection, name: &str) -> Result<i64, StoreError> {
    if let Some(id) = project_id(conn, name)? {
        return Ok(id);
    }
    conn.prepare_cached("INSERT INTO projects (name) VALUES (?1)")
        .and_then(|mut st| st.insert([name]))
        .map_err(sql_err)
}

pub(crate) fn session_from_row(row: &Row<'_>) -> rusqlite::Result<SessionRecord> {
    Ok(SessionRecord {
        id: row.get(0)?,
        file_id: row.get(1)?,
        parts: row.get::<_, Option<i64>>(2)?.map(|p| p as u32),
        expires_time: row.get(3)?,
        completed_time: row.get(4)?,
    })
}

pub(crate) fn session(
    conn: &Connection,
    project_id: i64,
    file_id: i64,
    session_id: &str,
) -> Result<Option<SessionRecord>, StoreError> {
    conn.prepare_cached(
        "SELECT id, file_id, parts, expires_time, completed_time FROM upload_sessions \
         WHERE id = ?1 AND project_id = ?2 AND file_id = ?3",
    )
    .and_then(|mut st| {
        st.query_row(params![session_id, project_id, file_id], session_from_row)
            .optional()
    })
    .map_err(sql_err)
}
