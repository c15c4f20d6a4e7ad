//! [`LabelStore`] on PostgreSQL: the `labels` table (migration 0005). Each write is one transaction that
//! first takes a transaction-level advisory lock on its project, so the externalId checks and the change
//! they guard see the same rows on every node. Reads take no lock.

use std::collections::BTreeSet;

use async_trait::async_trait;
use tokio_postgres::Row;

use super::{pg_err, PgStore};
use crate::domain::Identifier;
use crate::store::labels::{Label, LabelStore, NewLabel};
use crate::store::StoreError;

/// Takes the project's label write lock until the transaction ends.
const LOCK_PROJECT: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended('cabinet-labels:' || $1::text, 0))";

const COLUMNS: &str = "seq, external_id, name, description, data_set_id, created_time";

fn decode(row: &Row) -> Result<Label, StoreError> {
    Ok(Label {
        seq: row.try_get(0).map_err(pg_err)?,
        label: NewLabel {
            external_id: row.try_get(1).map_err(pg_err)?,
            name: row.try_get(2).map_err(pg_err)?,
            description: row.try_get(3).map_err(pg_err)?,
            data_set_id: row.try_get(4).map_err(pg_err)?,
        },
        created_time: row.try_get(5).map_err(pg_err)?,
    })
}

/// Which of `external_ids` the project has.
async fn existing(
    client: &impl deadpool_postgres::GenericClient,
    project: &str,
    external_ids: &[String],
) -> Result<BTreeSet<String>, StoreError> {
    client
        .query(
            "SELECT external_id FROM labels WHERE project = $1 AND external_id = ANY($2)",
            &[&project, &external_ids],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(|row| row.try_get(0).map_err(pg_err))
        .collect()
}

#[async_trait]
impl LabelStore for PgStore {
    async fn create_labels(
        &self,
        project: &str,
        items: Vec<NewLabel>,
        now: i64,
    ) -> Result<Vec<Label>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.execute(LOCK_PROJECT, &[&project])
            .await
            .map_err(pg_err)?;
        let wanted: Vec<String> = items.iter().map(|l| l.external_id.clone()).collect();
        let have = existing(&tx, project, &wanted).await?;
        let mut clashes = Vec::new();
        for (i, x) in wanted.iter().enumerate() {
            let id = Identifier::ExternalId(x.clone());
            if (have.contains(x) || wanted[..i].contains(x)) && !clashes.contains(&id) {
                clashes.push(id);
            }
        }
        if !clashes.is_empty() {
            return Err(StoreError::Duplicated(clashes));
        }
        let insert = tx
            .prepare_cached(
                "INSERT INTO labels (project, external_id, name, description, data_set_id, \
                 created_time) VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
            )
            .await
            .map_err(pg_err)?;
        let mut created = Vec::with_capacity(items.len());
        for l in items {
            let row = tx
                .query_one(
                    &insert,
                    &[
                        &project,
                        &l.external_id,
                        &l.name,
                        &l.description,
                        &l.data_set_id,
                        &now,
                    ],
                )
                .await
                .map_err(pg_err)?;
            created.push(Label {
                seq: row.try_get(0).map_err(pg_err)?,
                label: l,
                created_time: now,
            });
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(created)
    }

    async fn retrieve_labels(
        &self,
        project: &str,
        external_ids: &[String],
        ignore_unknown: bool,
    ) -> Result<Vec<Label>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM labels WHERE project = $1 AND external_id = ANY($2)"
                ),
                &[&project, &external_ids],
            )
            .await
            .map_err(pg_err)?;
        let found: Vec<Label> = rows.iter().map(decode).collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(external_ids.len());
        let mut missing = Vec::new();
        for x in external_ids {
            match found.iter().find(|l| l.label.external_id == *x) {
                Some(l) => out.push(l.clone()),
                None => missing.push(Identifier::ExternalId(x.clone())),
            }
        }
        if !missing.is_empty() && !ignore_unknown {
            return Err(StoreError::Missing(missing));
        }
        Ok(out)
    }

    async fn scan_labels(
        &self,
        project: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Label>, StoreError> {
        let client = self.client().await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM labels WHERE project = $1 AND seq > $2 \
                     ORDER BY seq LIMIT $3"
                ),
                &[&project, &after, &limit],
            )
            .await
            .map_err(pg_err)?;
        rows.iter().map(decode).collect()
    }

    async fn delete_labels(
        &self,
        project: &str,
        external_ids: &[String],
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.execute(LOCK_PROJECT, &[&project])
            .await
            .map_err(pg_err)?;
        let have = existing(&tx, project, external_ids).await?;
        let missing: Vec<Identifier> = external_ids
            .iter()
            .filter(|x| !have.contains(*x))
            .map(|x| Identifier::ExternalId(x.clone()))
            .collect();
        if !missing.is_empty() {
            return Err(StoreError::Missing(missing));
        }
        tx.execute(
            "DELETE FROM labels WHERE project = $1 AND external_id = ANY($2)",
            &[&project, &external_ids],
        )
        .await
        .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
        Ok(())
    }
}
