//! [`IamStore`] on SQLite: the `iam_groups` and `iam_security_categories` tables (migration 0012).
//! Writes go through the single writer, each in its own savepoint; reads through the reader pool.
//! Its contract is tested, with the PostgreSQL twin's, in tests/store_contracts.rs.

use std::collections::BTreeMap;

use async_trait::async_trait;
use rusqlite::{params, Connection, Row};

use super::rows::sql_err;
use super::SqliteStore;
use crate::domain::MAX_ID;
use crate::store::iam::{
    CategoryPage, IamError, IamStore, Members, NewGroup, SecurityCategory, StoredGroup,
    MAX_SECURITY_CATEGORIES,
};
use crate::store::StoreError;

fn corrupt(column: &'static str) -> impl Fn(serde_json::Error) -> StoreError {
    move |e| StoreError::internal(column, e)
}

fn group_from_row(row: &Row<'_>) -> rusqlite::Result<(String, i64, [Option<String>; 6])> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        [
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
            row.get(5)?,
            row.get(6)?,
            row.get(7)?,
        ],
    ))
}

fn decode_group(
    (project, id, [name, source_id, members, capabilities, metadata, app_ids]): (
        String,
        i64,
        [Option<String>; 6],
    ),
) -> Result<StoredGroup, StoreError> {
    let parse = |text: Option<String>,
                 column: &'static str|
     -> Result<Option<serde_json::Value>, StoreError> {
        text.map(|t| serde_json::from_str(&t).map_err(corrupt(column)))
            .transpose()
    };
    let members: Option<Members> = parse(members, "iam_groups.members")?
        .map(serde_json::from_value)
        .transpose()
        .map_err(corrupt("iam_groups.members"))?;
    let capabilities = match parse(capabilities, "iam_groups.capabilities")? {
        Some(serde_json::Value::Array(items)) => items,
        _ => Vec::new(),
    };
    let metadata: BTreeMap<String, String> = parse(metadata, "iam_groups.metadata")?
        .map(serde_json::from_value)
        .transpose()
        .map_err(corrupt("iam_groups.metadata"))?
        .unwrap_or_default();
    let app_ids: Option<Vec<String>> = parse(app_ids, "iam_groups.app_ids")?
        .map(serde_json::from_value)
        .transpose()
        .map_err(corrupt("iam_groups.app_ids"))?;
    Ok(StoredGroup {
        project,
        id,
        group: NewGroup {
            name: name.unwrap_or_default(),
            source_id,
            members,
            capabilities,
            metadata,
            app_ids,
        },
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::internal("iam json", e))
}

fn count(conn: &Connection, table: &str, project: &str) -> Result<usize, StoreError> {
    conn.query_row(
        &format!("SELECT COUNT(*) FROM {table} WHERE project = ?1"),
        [project],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n.max(0) as usize)
    .map_err(sql_err)
}

/// The ids of `ids` that are not rows of `table` in `project`.
fn unknown_ids(
    conn: &Connection,
    table: &str,
    project: &str,
    ids: &[i64],
) -> Result<Vec<i64>, StoreError> {
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT 1 FROM {table} WHERE project = ?1 AND id = ?2"
        ))
        .map_err(sql_err)?;
    let mut unknown = Vec::new();
    for id in ids {
        if !st.exists(params![project, id]).map_err(sql_err)? {
            unknown.push(*id);
        }
    }
    Ok(unknown)
}

fn delete_ids(
    conn: &Connection,
    table: &str,
    project: &str,
    ids: &[i64],
) -> Result<(), StoreError> {
    let mut st = conn
        .prepare_cached(&format!(
            "DELETE FROM {table} WHERE project = ?1 AND id = ?2"
        ))
        .map_err(sql_err)?;
    for id in ids {
        st.execute(params![project, id]).map_err(sql_err)?;
    }
    Ok(())
}

#[async_trait]
impl IamStore for SqliteStore {
    async fn all_groups(&self) -> Result<Vec<StoredGroup>, IamError> {
        let rows = self
            .readers
            .read(|conn| {
                let mut st = conn
                    .prepare_cached(
                        "SELECT project, id, name, source_id, members, capabilities, metadata, app_ids \
                         FROM iam_groups ORDER BY project, id",
                    )
                    .map_err(sql_err)?;
                let rows = st
                    .query_map([], group_from_row)
                    .map_err(sql_err)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(sql_err)?;
                Ok(rows)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(decode_group)
            .collect::<Result<_, _>>()?)
    }

    async fn create_groups(
        &self,
        project: &str,
        groups: Vec<NewGroup>,
        max_groups: usize,
    ) -> Result<Vec<StoredGroup>, IamError> {
        let project = project.to_string();
        let now = crate::clock::now_ms();
        self.writer
            .write_atomic(move |ctx| {
                let existing = count(ctx.conn, "iam_groups", &project)?;
                if existing + groups.len() > max_groups {
                    return Ok(Err(IamError::Limit(format!(
                        "A project holds at most {max_groups} groups besides the configured ones; it has {existing}"
                    ))));
                }
                let mut st = ctx
                    .conn
                    .prepare_cached(
                        "INSERT INTO iam_groups (project, name, source_id, members, capabilities, metadata, \
                         app_ids, created_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    )
                    .map_err(sql_err)?;
                let mut created = Vec::with_capacity(groups.len());
                for group in groups {
                    let members = group.members.as_ref().map(to_json).transpose()?;
                    let app_ids = group.app_ids.as_ref().map(to_json).transpose()?;
                    st.execute(params![
                        project,
                        group.name,
                        group.source_id,
                        members,
                        to_json(&group.capabilities)?,
                        to_json(&group.metadata)?,
                        app_ids,
                        now
                    ])
                    .map_err(sql_err)?;
                    let id = ctx.conn.last_insert_rowid();
                    if id > MAX_ID {
                        return Err(StoreError::internal(
                            "iam_groups",
                            std::io::Error::other("group ids are exhausted"),
                        ));
                    }
                    created.push(StoredGroup {
                        project: project.clone(),
                        id,
                        group,
                    });
                }
                Ok(Ok(created))
            })
            .await?
    }

    async fn delete_groups(&self, project: &str, ids: &[i64]) -> Result<(), IamError> {
        let project = project.to_string();
        let ids = ids.to_vec();
        self.writer
            .write_atomic(move |ctx| {
                let unknown = unknown_ids(ctx.conn, "iam_groups", &project, &ids)?;
                if !unknown.is_empty() {
                    return Ok(Err(IamError::UnknownIds(unknown)));
                }
                delete_ids(ctx.conn, "iam_groups", &project, &ids)?;
                Ok(Ok(()))
            })
            .await?
    }

    async fn security_categories(
        &self,
        project: &str,
        page: CategoryPage,
    ) -> Result<Vec<SecurityCategory>, IamError> {
        let project = project.to_string();
        Ok(self
            .readers
            .read(move |conn| {
                let sql = if page.descending {
                    "SELECT id, name FROM iam_security_categories WHERE project = ?1 AND id < ?2 \
                     ORDER BY id DESC LIMIT ?3"
                } else {
                    "SELECT id, name FROM iam_security_categories WHERE project = ?1 AND id > ?2 \
                     ORDER BY id ASC LIMIT ?3"
                };
                let after = page
                    .after
                    .unwrap_or(if page.descending { i64::MAX } else { 0 });
                let mut st = conn.prepare_cached(sql).map_err(sql_err)?;
                let rows = st
                    .query_map(params![project, after, page.limit as i64], |r| {
                        Ok(SecurityCategory {
                            id: r.get(0)?,
                            name: r.get(1)?,
                        })
                    })
                    .map_err(sql_err)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(sql_err)?;
                Ok(rows)
            })
            .await?)
    }

    async fn create_security_categories(
        &self,
        project: &str,
        names: Vec<String>,
    ) -> Result<Vec<SecurityCategory>, IamError> {
        let project = project.to_string();
        self.writer
            .write_atomic(move |ctx| {
                let mut taken = Vec::new();
                {
                    let mut st = ctx
                        .conn
                        .prepare_cached(
                            "SELECT 1 FROM iam_security_categories WHERE project = ?1 AND name = ?2",
                        )
                        .map_err(sql_err)?;
                    for name in &names {
                        if st.exists(params![project, name]).map_err(sql_err)? {
                            taken.push(name.clone());
                        }
                    }
                }
                if !taken.is_empty() {
                    return Ok(Err(IamError::NameTaken(taken)));
                }
                let existing = count(ctx.conn, "iam_security_categories", &project)?;
                if existing + names.len() > MAX_SECURITY_CATEGORIES {
                    return Ok(Err(IamError::Limit(format!(
                        "A project holds at most {MAX_SECURITY_CATEGORIES} security categories; it has {existing}"
                    ))));
                }
                let mut st = ctx
                    .conn
                    .prepare_cached(
                        "INSERT INTO iam_security_categories (project, name) VALUES (?1, ?2)",
                    )
                    .map_err(sql_err)?;
                let mut created = Vec::with_capacity(names.len());
                for name in names {
                    st.execute(params![project, name]).map_err(sql_err)?;
                    created.push(SecurityCategory {
                        id: ctx.conn.last_insert_rowid(),
                        name,
                    });
                }
                Ok(Ok(created))
            })
            .await?
    }

    async fn delete_security_categories(&self, project: &str, ids: &[i64]) -> Result<(), IamError> {
        let project = project.to_string();
        let ids = ids.to_vec();
        self.writer
            .write_atomic(move |ctx| {
                let unknown = unknown_ids(ctx.conn, "iam_security_categories", &project, &ids)?;
                if !unknown.is_empty() {
                    return Ok(Err(IamError::UnknownIds(unknown)));
                }
                delete_ids(ctx.conn, "iam_security_categories", &project, &ids)?;
                Ok(Ok(()))
            })
            .await?
    }
}
