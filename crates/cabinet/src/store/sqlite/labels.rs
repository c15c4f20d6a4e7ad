//! [`LabelStore`] on SQLite: the `labels` table (migration 0013). Writes go through the single writer,
//! each in its own savepoint; reads through the reader pool. Its contract is tested, with the PostgreSQL
//! twin's, in tests/datasets_store_contracts.rs.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};

use super::rows::sql_err;
use super::SqliteStore;
use crate::domain::Identifier;
use crate::store::labels::{Label, LabelStore, NewLabel};
use crate::store::StoreError;

pub(super) const COLUMNS: &str = "seq, external_id, name, description, data_set_id, created_time";

pub(super) fn label(r: &Row<'_>) -> rusqlite::Result<Label> {
    Ok(Label {
        seq: r.get(0)?,
        label: NewLabel {
            external_id: r.get(1)?,
            name: r.get(2)?,
            description: r.get(3)?,
            data_set_id: r.get(4)?,
        },
        created_time: r.get(5)?,
    })
}

#[async_trait]
impl LabelStore for SqliteStore {
    async fn create_labels(
        &self,
        project: &str,
        items: Vec<NewLabel>,
        now: i64,
    ) -> Result<Vec<Label>, StoreError> {
        let project = project.to_string();
        self.writer
            .write_atomic(move |ctx| {
                let mut clashes = Vec::new();
                {
                    let mut exists = ctx
                        .conn
                        .prepare_cached(
                            "SELECT 1 FROM labels WHERE project = ?1 AND external_id = ?2",
                        )
                        .map_err(sql_err)?;
                    for (i, l) in items.iter().enumerate() {
                        let twice = items[..i].iter().any(|o| o.external_id == l.external_id);
                        let id = Identifier::ExternalId(l.external_id.clone());
                        if (twice
                            || exists
                                .exists(params![project, l.external_id])
                                .map_err(sql_err)?)
                            && !clashes.contains(&id)
                        {
                            clashes.push(id);
                        }
                    }
                }
                if !clashes.is_empty() {
                    return Err(StoreError::Duplicated(clashes));
                }
                let mut st = ctx
                    .conn
                    .prepare_cached(
                        "INSERT INTO labels (project, external_id, name, description, data_set_id, \
                         created_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )
                    .map_err(sql_err)?;
                let mut created = Vec::with_capacity(items.len());
                for l in items {
                    st.execute(params![
                        project,
                        l.external_id,
                        l.name,
                        l.description,
                        l.data_set_id,
                        now
                    ])
                    .map_err(sql_err)?;
                    created.push(Label {
                        seq: ctx.conn.last_insert_rowid(),
                        label: l,
                        created_time: now,
                    });
                }
                Ok(created)
            })
            .await
    }

    async fn retrieve_labels(
        &self,
        project: &str,
        external_ids: &[String],
        ignore_unknown: bool,
    ) -> Result<Vec<Label>, StoreError> {
        let project = project.to_string();
        let external_ids = external_ids.to_vec();
        self.readers
            .read(move |conn| {
                let mut st = conn
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM labels WHERE project = ?1 AND external_id = ?2"
                    ))
                    .map_err(sql_err)?;
                let mut found = Vec::with_capacity(external_ids.len());
                let mut missing = Vec::new();
                for x in external_ids {
                    match st
                        .query_row(params![project, x], label)
                        .optional()
                        .map_err(sql_err)?
                    {
                        Some(l) => found.push(l),
                        None => missing.push(Identifier::ExternalId(x)),
                    }
                }
                if !missing.is_empty() && !ignore_unknown {
                    return Err(StoreError::Missing(missing));
                }
                Ok(found)
            })
            .await
    }

    async fn scan_labels(
        &self,
        project: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Label>, StoreError> {
        let project = project.to_string();
        self.readers
            .read(move |conn| {
                let mut st = conn
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM labels WHERE project = ?1 AND seq > ?2 \
                         ORDER BY seq LIMIT ?3"
                    ))
                    .map_err(sql_err)?;
                let rows = st
                    .query_map(
                        params![project, after, i64::try_from(limit).unwrap_or(i64::MAX)],
                        label,
                    )
                    .map_err(sql_err)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(sql_err)?;
                Ok(rows)
            })
            .await
    }

    async fn delete_labels(
        &self,
        project: &str,
        external_ids: &[String],
    ) -> Result<(), StoreError> {
        let project = project.to_string();
        let external_ids = external_ids.to_vec();
        self.writer
            .write_atomic(move |ctx| {
                let mut missing = Vec::new();
                {
                    let mut exists = ctx
                        .conn
                        .prepare_cached(
                            "SELECT 1 FROM labels WHERE project = ?1 AND external_id = ?2",
                        )
                        .map_err(sql_err)?;
                    for x in &external_ids {
                        if !exists.exists(params![project, x]).map_err(sql_err)? {
                            missing.push(Identifier::ExternalId(x.clone()));
                        }
                    }
                }
                if !missing.is_empty() {
                    return Err(StoreError::Missing(missing));
                }
                let mut st = ctx
                    .conn
                    .prepare_cached("DELETE FROM labels WHERE project = ?1 AND external_id = ?2")
                    .map_err(sql_err)?;
                for x in &external_ids {
                    st.execute(params![project, x]).map_err(sql_err)?;
                }
                Ok(())
            })
            .await
    }
}
