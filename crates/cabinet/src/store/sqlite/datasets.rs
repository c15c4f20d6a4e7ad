//! [`DataSetStore`] on SQLite: the `data_sets` table (migration 0013). Writes go through the single
//! writer, each in its own savepoint; reads through the reader pool. Its contract is tested, with the
//! PostgreSQL twin's, in tests/datasets_store_contracts.rs.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::rows::sql_err;
use super::SqliteStore;
use crate::domain::{Identifier, MAX_ID};
use crate::store::datasets::{
    clashing_external_ids, DataSet, DataSetFields, DataSetPatch, DataSetStore,
};
use crate::store::StoreError;

pub(super) const COLUMNS: &str =
    "id, external_id, name, description, metadata, write_protected, created_time, last_updated_time";

fn metadata_json(m: &BTreeMap<String, String>) -> Result<String, StoreError> {
    serde_json::to_string(m).map_err(|e| StoreError::internal("data_sets.metadata", e))
}

pub(super) type RawRow = (
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    bool,
    i64,
    i64,
);

pub(super) fn raw_row(r: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

pub(super) fn decode(
    (
        id,
        external_id,
        name,
        description,
        metadata,
        write_protected,
        created_time,
        last_updated_time,
    ): RawRow,
) -> Result<DataSet, StoreError> {
    Ok(DataSet {
        id,
        fields: DataSetFields {
            external_id,
            name,
            description,
            metadata: serde_json::from_str(&metadata)
                .map_err(|e| StoreError::internal("data_sets.metadata", e))?,
            write_protected,
        },
        created_time,
        last_updated_time,
    })
}

fn find(conn: &Connection, project: &str, id: &Identifier) -> Result<Option<DataSet>, StoreError> {
    let row = match id {
        Identifier::Id(id) => conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM data_sets WHERE project = ?1 AND id = ?2"
            ))
            .map_err(sql_err)?
            .query_row(params![project, id], raw_row)
            .optional(),
        Identifier::ExternalId(x) => conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM data_sets WHERE project = ?1 AND external_id = ?2"
            ))
            .map_err(sql_err)?
            .query_row(params![project, x], raw_row)
            .optional(),
        Identifier::InstanceId { .. } => Ok(None),
    }
    .map_err(sql_err)?;
    row.map(decode).transpose()
}

/// The externalIds of `wanted` held by data sets other than `except`.
fn taken(
    conn: &Connection,
    project: &str,
    wanted: &[&str],
    except: &BTreeSet<i64>,
) -> Result<BTreeSet<String>, StoreError> {
    let mut st = conn
        .prepare_cached("SELECT id FROM data_sets WHERE project = ?1 AND external_id = ?2")
        .map_err(sql_err)?;
    let mut out = BTreeSet::new();
    for x in wanted {
        let holder: Option<i64> = st
            .query_row(params![project, x], |r| r.get(0))
            .optional()
            .map_err(sql_err)?;
        if holder.is_some_and(|id| !except.contains(&id)) {
            out.insert(x.to_string());
        }
    }
    Ok(out)
}

#[async_trait]
impl DataSetStore for SqliteStore {
    async fn create_data_sets(
        &self,
        project: &str,
        items: Vec<DataSetFields>,
        now: i64,
    ) -> Result<Vec<DataSet>, StoreError> {
        let project = project.to_string();
        self.writer
            .write_atomic(move |ctx| {
                let wanted: Vec<&str> = items
                    .iter()
                    .filter_map(|d| d.external_id.as_deref())
                    .collect();
                let taken = taken(ctx.conn, &project, &wanted, &BTreeSet::new())?;
                let clashes =
                    clashing_external_ids(items.iter().map(|d| d.external_id.as_deref()), &taken);
                if !clashes.is_empty() {
                    return Err(StoreError::Duplicated(clashes));
                }
                let mut st = ctx
                    .conn
                    .prepare_cached(
                        "INSERT INTO data_sets (project, external_id, name, description, metadata, \
                         write_protected, created_time, last_updated_time) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                    )
                    .map_err(sql_err)?;
                let mut created = Vec::with_capacity(items.len());
                for fields in items {
                    st.execute(params![
                        project,
                        fields.external_id,
                        fields.name,
                        fields.description,
                        metadata_json(&fields.metadata)?,
                        fields.write_protected,
                        now
                    ])
                    .map_err(sql_err)?;
                    let id = ctx.conn.last_insert_rowid();
                    if id > MAX_ID {
                        return Err(StoreError::internal(
                            "data_sets",
                            std::io::Error::other("data set ids are exhausted"),
                        ));
                    }
                    created.push(DataSet {
                        id,
                        fields,
                        created_time: now,
                        last_updated_time: now,
                    });
                }
                Ok(created)
            })
            .await
    }

    async fn retrieve_data_sets(
        &self,
        project: &str,
        ids: &[Identifier],
        ignore_unknown: bool,
    ) -> Result<Vec<DataSet>, StoreError> {
        let project = project.to_string();
        let ids = ids.to_vec();
        self.readers
            .read(move |conn| {
                let mut found = Vec::with_capacity(ids.len());
                let mut missing = Vec::new();
                for id in ids {
                    match find(conn, &project, &id)? {
                        Some(d) => found.push(d),
                        None => missing.push(id),
                    }
                }
                if !missing.is_empty() && !ignore_unknown {
                    return Err(StoreError::Missing(missing));
                }
                Ok(found)
            })
            .await
    }

    async fn scan_data_sets(
        &self,
        project: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<DataSet>, StoreError> {
        let project = project.to_string();
        self.readers
            .read(move |conn| {
                let mut st = conn
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM data_sets WHERE project = ?1 AND id > ?2 \
                         ORDER BY id LIMIT ?3"
                    ))
                    .map_err(sql_err)?;
                let rows = st
                    .query_map(
                        params![project, after, i64::try_from(limit).unwrap_or(i64::MAX)],
                        raw_row,
                    )
                    .map_err(sql_err)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(sql_err)?;
                rows.into_iter().map(decode).collect()
            })
            .await
    }

    async fn update_data_sets(
        &self,
        project: &str,
        items: Vec<(Identifier, DataSetPatch)>,
        now: i64,
    ) -> Result<Vec<DataSet>, StoreError> {
        let project = project.to_string();
        self.writer
            .write_atomic(move |ctx| {
                let mut targets = Vec::with_capacity(items.len());
                let mut missing = Vec::new();
                for (id, patch) in &items {
                    match find(ctx.conn, &project, id)? {
                        Some(d) => targets.push((d, patch)),
                        None => missing.push(id.clone()),
                    }
                }
                if !missing.is_empty() {
                    return Err(StoreError::Missing(missing));
                }
                let updated: Vec<DataSet> = targets
                    .iter()
                    .map(|(d, patch)| {
                        Ok(DataSet {
                            fields: patch.apply(&d.fields)?,
                            last_updated_time: now,
                            ..d.clone()
                        })
                    })
                    .collect::<Result<_, StoreError>>()?;
                let ids: BTreeSet<i64> = updated.iter().map(|d| d.id).collect();
                let wanted: Vec<&str> = updated
                    .iter()
                    .filter_map(|d| d.fields.external_id.as_deref())
                    .collect();
                let taken = taken(ctx.conn, &project, &wanted, &ids)?;
                let clashes = clashing_external_ids(
                    updated.iter().map(|d| d.fields.external_id.as_deref()),
                    &taken,
                );
                if !clashes.is_empty() {
                    return Err(StoreError::Duplicated(clashes));
                }
                // Clearing first lets two data sets of one request swap their externalIds.
                let mut clear = ctx
                    .conn
                    .prepare_cached(
                        "UPDATE data_sets SET external_id = NULL WHERE project = ?1 AND id = ?2",
                    )
                    .map_err(sql_err)?;
                for d in &updated {
                    clear.execute(params![project, d.id]).map_err(sql_err)?;
                }
                let mut st = ctx
                    .conn
                    .prepare_cached(
                        "UPDATE data_sets SET external_id = ?3, name = ?4, description = ?5, \
                         metadata = ?6, write_protected = ?7, last_updated_time = ?8 \
                         WHERE project = ?1 AND id = ?2",
                    )
                    .map_err(sql_err)?;
                for d in &updated {
                    st.execute(params![
                        project,
                        d.id,
                        d.fields.external_id,
                        d.fields.name,
                        d.fields.description,
                        metadata_json(&d.fields.metadata)?,
                        d.fields.write_protected,
                        now
                    ])
                    .map_err(sql_err)?;
                }
                Ok(updated)
            })
            .await
    }
}
