//! [`DataSetStore`] on PostgreSQL: the `data_sets` table (migration 0005).
//!
//! Each write is one transaction that first takes a transaction-level advisory lock on its project, so
//! the externalId checks and the change they guard see the same rows on every node: two nodes creating
//! the same externalId at once get one success and one [`StoreError::Duplicated`]. Reads take no lock.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use tokio_postgres::Row;

use super::{pg_err, PgStore};
use crate::domain::{Identifier, MAX_ID};
use crate::store::datasets::{
    clashing_external_ids, DataSet, DataSetFields, DataSetPatch, DataSetStore,
};
use crate::store::StoreError;

/// Takes the project's data-set write lock until the transaction ends.
const LOCK_PROJECT: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended('cabinet-datasets:' || $1::text, 0))";

const COLUMNS: &str =
    "id, external_id, name, description, metadata, write_protected, created_time, last_updated_time";

fn metadata_json(m: &BTreeMap<String, String>) -> Result<String, StoreError> {
    serde_json::to_string(m).map_err(|e| StoreError::internal("data_sets.metadata", e))
}

fn decode(row: &Row) -> Result<DataSet, StoreError> {
    let metadata: String = row.try_get(4).map_err(pg_err)?;
    Ok(DataSet {
        id: row.try_get(0).map_err(pg_err)?,
        fields: DataSetFields {
            external_id: row.try_get(1).map_err(pg_err)?,
            name: row.try_get(2).map_err(pg_err)?,
            description: row.try_get(3).map_err(pg_err)?,
            metadata: serde_json::from_str(&metadata)
                .map_err(|e| StoreError::internal("data_sets.metadata", e))?,
            write_protected: row.try_get(5).map_err(pg_err)?,
        },
        created_time: row.try_get(6).map_err(pg_err)?,
        last_updated_time: row.try_get(7).map_err(pg_err)?,
    })
}

async fn find(
    client: &impl deadpool_postgres::GenericClient,
    project: &str,
    id: &Identifier,
) -> Result<Option<DataSet>, StoreError> {
    let row = match id {
        Identifier::Id(id) => client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM data_sets WHERE project = $1 AND id = $2"),
                &[&project, id],
            )
            .await
            .map_err(pg_err)?,
        Identifier::ExternalId(x) => client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM data_sets WHERE project = $1 AND external_id = $2"),
                &[&project, x],
            )
            .await
            .map_err(pg_err)?,
        Identifier::InstanceId { .. } => None,
    };
    row.as_ref().map(decode).transpose()
}

/// The externalIds of `wanted` held by data sets other than `except`.
async fn taken(
    tx: &deadpool_postgres::Transaction<'_>,
    project: &str,
    wanted: Vec<String>,
    except: &BTreeSet<i64>,
) -> Result<BTreeSet<String>, StoreError> {
    let rows = tx
        .query(
            "SELECT id, external_id FROM data_sets WHERE project = $1 AND external_id = ANY($2)",
            &[&project, &wanted],
        )
        .await
        .map_err(pg_err)?;
    let mut out = BTreeSet::new();
    for row in rows {
        let id: i64 = row.try_get(0).map_err(pg_err)?;
        if !except.contains(&id) {
            out.insert(row.try_get(1).map_err(pg_err)?);
        }
    }
    Ok(out)
}

#[async_trait]
impl DataSetStore for PgStore {
    async fn create_data_sets(
        &self,
        project: &str,
        items: Vec<DataSetFields>,
        now: i64,
    ) -> Result<Vec<DataSet>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.execute(LOCK_PROJECT, &[&project])
            .await
            .map_err(pg_err)?;
        let wanted = items.iter().filter_map(|d| d.external_id.clone()).collect();
        let taken = taken(&tx, project, wanted, &BTreeSet::new()).await?;
        let clashes = clashing_external_ids(items.iter().map(|d| d.external_id.as_deref()), &taken);
        if !clashes.is_empty() {
            return Err(StoreError::Duplicated(clashes));
        }
        let insert = tx
            .prepare_cached(
                "INSERT INTO data_sets (project, external_id, name, description, metadata, \
                 write_protected, created_time, last_updated_time) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
            )
            .await
            .map_err(pg_err)?;
        let mut created = Vec::with_capacity(items.len());
        for fields in items {
            let row = tx
                .query_one(
                    &insert,
                    &[
                        &project,
                        &fields.external_id,
                        &fields.name,
                        &fields.description,
                        &metadata_json(&fields.metadata)?,
                        &fields.write_protected,
                        &now,
                    ],
                )
                .await
                .map_err(pg_err)?;
            let id: i64 = row.try_get(0).map_err(pg_err)?;
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
        tx.commit().await.map_err(pg_err)?;
        Ok(created)
    }

    async fn retrieve_data_sets(
        &self,
        project: &str,
        ids: &[Identifier],
        ignore_unknown: bool,
    ) -> Result<Vec<DataSet>, StoreError> {
        let client = self.client().await?;
        let mut found = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in ids {
            match find(&client, project, id).await? {
                Some(d) => found.push(d),
                None => missing.push(id.clone()),
            }
        }
        if !missing.is_empty() && !ignore_unknown {
            return Err(StoreError::Missing(missing));
        }
        Ok(found)
    }

    async fn scan_data_sets(
        &self,
        project: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<DataSet>, StoreError> {
        let client = self.client().await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM data_sets WHERE project = $1 AND id > $2 \
                     ORDER BY id LIMIT $3"
                ),
                &[&project, &after, &limit],
            )
            .await
            .map_err(pg_err)?;
        rows.iter().map(decode).collect()
    }

    async fn update_data_sets(
        &self,
        project: &str,
        items: Vec<(Identifier, DataSetPatch)>,
        now: i64,
    ) -> Result<Vec<DataSet>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.execute(LOCK_PROJECT, &[&project])
            .await
            .map_err(pg_err)?;
        let mut updated = Vec::with_capacity(items.len());
        let mut missing = Vec::new();
        for (id, patch) in &items {
            match find(&tx, project, id).await? {
                Some(d) => updated.push(DataSet {
                    fields: patch.apply(&d.fields)?,
                    last_updated_time: now,
                    ..d
                }),
                None => missing.push(id.clone()),
            }
        }
        if !missing.is_empty() {
            return Err(StoreError::Missing(missing));
        }
        let ids: BTreeSet<i64> = updated.iter().map(|d| d.id).collect();
        let wanted = updated
            .iter()
            .filter_map(|d| d.fields.external_id.clone())
            .collect();
        let taken = taken(&tx, project, wanted, &ids).await?;
        let clashes = clashing_external_ids(
            updated.iter().map(|d| d.fields.external_id.as_deref()),
            &taken,
        );
        if !clashes.is_empty() {
            return Err(StoreError::Duplicated(clashes));
        }
        // Clearing first lets two data sets of one request swap their externalIds.
        let id_list: Vec<i64> = ids.iter().copied().collect();
        tx.execute(
            "UPDATE data_sets SET external_id = NULL WHERE project = $1 AND id = ANY($2)",
            &[&project, &id_list],
        )
        .await
        .map_err(pg_err)?;
        let st = tx
            .prepare_cached(
                "UPDATE data_sets SET external_id = $3, name = $4, description = $5, metadata = $6, \
                 write_protected = $7, last_updated_time = $8 WHERE project = $1 AND id = $2",
            )
            .await
            .map_err(pg_err)?;
        for d in &updated {
            tx.execute(
                &st,
                &[
                    &project,
                    &d.id,
                    &d.fields.external_id,
                    &d.fields.name,
                    &d.fields.description,
                    &metadata_json(&d.fields.metadata)?,
                    &d.fields.write_protected,
                    &now,
                ],
            )
            .await
            .map_err(pg_err)?;
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(updated)
    }
}
