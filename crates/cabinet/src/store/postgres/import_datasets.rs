//! `cabinet migrate` for data sets and label definitions: written with their ids (files refer to data
//! sets by id) and positions, under the import lock of store/postgres/import.rs, then the sequences moved
//! past what the source ever handed out.

use super::import::{advance_sequence, IMPORT_LOCK};
use super::{pg_err, PgStore};
use crate::store::datasets::DataSet;
use crate::store::labels::Label;
use crate::store::StoreError;

impl PgStore {
    /// Writes the data sets with their ids (existing ids are left as they are) and moves the id sequence
    /// past `last_handed_out`.
    pub async fn import_data_sets(
        &self,
        data_sets: &[(String, DataSet)],
        last_handed_out: i64,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.execute(IMPORT_LOCK, &[]).await.map_err(pg_err)?;
        for (project, d) in data_sets {
            let metadata = serde_json::to_string(&d.fields.metadata)
                .map_err(|e| StoreError::internal("data_sets.metadata", e))?;
            tx.execute(
                "INSERT INTO data_sets (id, project, external_id, name, description, metadata, \
                 write_protected, created_time, last_updated_time) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
                &[
                    &d.id,
                    project,
                    &d.fields.external_id,
                    &d.fields.name,
                    &d.fields.description,
                    &metadata,
                    &d.fields.write_protected,
                    &d.created_time,
                    &d.last_updated_time,
                ],
            )
            .await
            .map_err(pg_err)?;
        }
        let last = data_sets
            .iter()
            .map(|(_, d)| d.id)
            .fold(last_handed_out, i64::max);
        advance_sequence(
            &tx,
            "pg_get_serial_sequence('data_sets', 'id')",
            last.saturating_add(1),
        )
        .await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(())
    }

    /// Writes the label definitions with their positions (existing ones are left as they are) and moves
    /// the position sequence past `last_handed_out`.
    pub async fn import_labels(
        &self,
        labels: &[(String, Label)],
        last_handed_out: i64,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.execute(IMPORT_LOCK, &[]).await.map_err(pg_err)?;
        for (project, l) in labels {
            tx.execute(
                "INSERT INTO labels (seq, project, external_id, name, description, data_set_id, \
                 created_time) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                &[
                    &l.seq,
                    project,
                    &l.label.external_id,
                    &l.label.name,
                    &l.label.description,
                    &l.label.data_set_id,
                    &l.created_time,
                ],
            )
            .await
            .map_err(pg_err)?;
        }
        let last = labels
            .iter()
            .map(|(_, l)| l.seq)
            .fold(last_handed_out, i64::max);
        advance_sequence(
            &tx,
            "pg_get_serial_sequence('labels', 'seq')",
            last.saturating_add(1),
        )
        .await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(())
    }
}
