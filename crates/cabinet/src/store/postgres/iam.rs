//! [`IamStore`] on PostgreSQL: the `iam_groups` and `iam_security_categories` tables (migration 0002).
//!
//! Each write is one transaction that first takes a transaction-level advisory lock on its project, so the
//! writes of one project are serialized across every node: the checks (names taken, per-project limits,
//! unknown ids) and the change they guard see the same rows, and two nodes creating the same category name
//! at once get one success and one [`IamError::NameTaken`]. Reads take no lock.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use serde_json::Value;
use tokio_postgres::Row;

use super::{pg_err, PgStore, BACKEND};
use crate::store::iam::{
    CategoryPage, IamError, IamStore, Members, NewGroup, SecurityCategory, StoredGroup,
    MAX_SECURITY_CATEGORIES,
};
use crate::store::StoreError;

/// Takes the project's IAM write lock until the transaction ends.
const LOCK_PROJECT: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended('cabinet-iam:' || $1::text, 0))";

fn corrupt(column: &'static str) -> impl Fn(serde_json::Error) -> StoreError {
    move |e| StoreError::internal(column, e)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::internal(BACKEND, e))
}

fn decode_group(row: &Row) -> Result<StoredGroup, StoreError> {
    let members: Option<Value> = row.try_get("members").map_err(pg_err)?;
    let members: Option<Members> = members
        .map(serde_json::from_value)
        .transpose()
        .map_err(corrupt("iam_groups.members"))?;
    let capabilities = match row.try_get::<_, Value>("capabilities").map_err(pg_err)? {
        Value::Array(items) => items,
        _ => Vec::new(),
    };
    let metadata: BTreeMap<String, String> =
        serde_json::from_value(row.try_get::<_, Value>("metadata").map_err(pg_err)?)
            .map_err(corrupt("iam_groups.metadata"))?;
    let app_ids: Option<Value> = row.try_get("app_ids").map_err(pg_err)?;
    let app_ids: Option<Vec<String>> = app_ids
        .map(serde_json::from_value)
        .transpose()
        .map_err(corrupt("iam_groups.app_ids"))?;
    Ok(StoredGroup {
        project: row.try_get("project").map_err(pg_err)?,
        id: row.try_get("id").map_err(pg_err)?,
        group: NewGroup {
            name: row.try_get("name").map_err(pg_err)?,
            source_id: row.try_get("source_id").map_err(pg_err)?,
            members,
            capabilities,
            metadata,
            app_ids,
        },
    })
}

/// The ids of `ids` (in their order) that are not rows of `table` in `project`.
async fn unknown_ids(
    tx: &deadpool_postgres::Transaction<'_>,
    table: &str,
    project: &str,
    ids: &[i64],
) -> Result<Vec<i64>, StoreError> {
    let found: HashSet<i64> = tx
        .query(
            &format!("SELECT id FROM {table} WHERE project = $1 AND id = ANY($2)"),
            &[&project, &ids],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()
        .map_err(pg_err)?;
    Ok(ids
        .iter()
        .copied()
        .filter(|id| !found.contains(id))
        .collect())
}

/// Deletes `ids` of `project` from `table`, all or none: unknown ids are [`IamError::UnknownIds`].
async fn delete_ids(
    store: &PgStore,
    table: &str,
    project: &str,
    ids: &[i64],
) -> Result<(), IamError> {
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(pg_err)?;
    tx.execute(LOCK_PROJECT, &[&project])
        .await
        .map_err(pg_err)?;
    let unknown = unknown_ids(&tx, table, project, ids).await?;
    if !unknown.is_empty() {
        return Err(IamError::UnknownIds(unknown));
    }
    tx.execute(
        &format!("DELETE FROM {table} WHERE project = $1 AND id = ANY($2)"),
        &[&project, &ids],
    )
    .await
    .map_err(pg_err)?;
    tx.commit().await.map_err(pg_err)?;
    Ok(())
}

async fn count(
    tx: &deadpool_postgres::Transaction<'_>,
    table: &str,
    project: &str,
) -> Result<usize, StoreError> {
    let row = tx
        .query_one(
            &format!("SELECT COUNT(*) FROM {table} WHERE project = $1"),
            &[&project],
        )
        .await
        .map_err(pg_err)?;
    let n: i64 = row.try_get(0).map_err(pg_err)?;
    Ok(n.max(0) as usize)
}

#[async_trait]
impl IamStore for PgStore {
    async fn all_groups(&self) -> Result<Vec<StoredGroup>, IamError> {
        let client = self.client().await?;
        let st = client
            .prepare_cached(
                "SELECT project, id, name, source_id, members, capabilities, metadata, app_ids \
                 FROM iam_groups ORDER BY project, id",
            )
            .await
            .map_err(pg_err)?;
        let rows = client.query(&st, &[]).await.map_err(pg_err)?;
        Ok(rows.iter().map(decode_group).collect::<Result<_, _>>()?)
    }

    async fn create_groups(
        &self,
        project: &str,
        groups: Vec<NewGroup>,
        max_groups: usize,
    ) -> Result<Vec<StoredGroup>, IamError> {
        let now = crate::clock::now_ms();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.execute(LOCK_PROJECT, &[&project])
            .await
            .map_err(pg_err)?;
        let existing = count(&tx, "iam_groups", project).await?;
        if existing + groups.len() > max_groups {
            return Err(IamError::Limit(format!(
                "A project holds at most {max_groups} groups besides the configured ones; it has {existing}"
            )));
        }
        let insert = tx
            .prepare_cached(
                "INSERT INTO iam_groups (project, name, source_id, members, capabilities, metadata, \
                 app_ids, created_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .await
            .map_err(pg_err)?;
        let mut created = Vec::with_capacity(groups.len());
        for group in groups {
            let members = group.members.as_ref().map(to_json).transpose()?;
            let app_ids = group.app_ids.as_ref().map(to_json).transpose()?;
            let row = tx
                .query_one(
                    &insert,
                    &[
                        &project,
                        &group.name,
                        &group.source_id,
                        &members,
                        &to_json(&group.capabilities)?,
                        &to_json(&group.metadata)?,
                        &app_ids,
                        &now,
                    ],
                )
                .await
                .map_err(pg_err)?;
            created.push(StoredGroup {
                project: project.to_string(),
                id: row.try_get(0).map_err(pg_err)?,
                group,
            });
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(created)
    }

    async fn delete_groups(&self, project: &str, ids: &[i64]) -> Result<(), IamError> {
        delete_ids(self, "iam_groups", project, ids).await
    }

    async fn security_categories(
        &self,
        project: &str,
        page: CategoryPage,
    ) -> Result<Vec<SecurityCategory>, IamError> {
        let sql = if page.descending {
            "SELECT id, name FROM iam_security_categories WHERE project = $1 AND id < $2 \
             ORDER BY id DESC LIMIT $3"
        } else {
            "SELECT id, name FROM iam_security_categories WHERE project = $1 AND id > $2 \
             ORDER BY id ASC LIMIT $3"
        };
        let after = page
            .after
            .unwrap_or(if page.descending { i64::MAX } else { 0 });
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        let client = self.client().await?;
        let st = client.prepare_cached(sql).await.map_err(pg_err)?;
        let rows = client
            .query(&st, &[&project, &after, &limit])
            .await
            .map_err(pg_err)?;
        Ok(rows
            .iter()
            .map(|row| {
                Ok(SecurityCategory {
                    id: row.try_get(0)?,
                    name: row.try_get(1)?,
                })
            })
            .collect::<Result<_, tokio_postgres::Error>>()
            .map_err(pg_err)?)
    }

    async fn create_security_categories(
        &self,
        project: &str,
        names: Vec<String>,
    ) -> Result<Vec<SecurityCategory>, IamError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.execute(LOCK_PROJECT, &[&project])
            .await
            .map_err(pg_err)?;
        let existing: HashSet<String> = tx
            .query(
                "SELECT name FROM iam_security_categories WHERE project = $1 AND name = ANY($2)",
                &[&project, &names],
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(pg_err)?;
        let taken: Vec<String> = names
            .iter()
            .filter(|name| existing.contains(*name))
            .cloned()
            .collect();
        if !taken.is_empty() {
            return Err(IamError::NameTaken(taken));
        }
        let existing = count(&tx, "iam_security_categories", project).await?;
        if existing + names.len() > MAX_SECURITY_CATEGORIES {
            return Err(IamError::Limit(format!(
                "A project holds at most {MAX_SECURITY_CATEGORIES} security categories; it has {existing}"
            )));
        }
        let insert = tx
            .prepare_cached(
                "INSERT INTO iam_security_categories (project, name) VALUES ($1, $2) RETURNING id",
            )
            .await
            .map_err(pg_err)?;
        let mut created = Vec::with_capacity(names.len());
        for name in names {
            let row = tx
                .query_one(&insert, &[&project, &name])
                .await
                .map_err(pg_err)?;
            created.push(SecurityCategory {
                id: row.try_get(0).map_err(pg_err)?,
                name,
            });
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(created)
    }

    async fn delete_security_categories(&self, project: &str, ids: &[i64]) -> Result<(), IamError> {
        delete_ids(self, "iam_security_categories", project, ids).await
    }
}
