//! The projects that hold files, for `GET /api/v1/projects` in open mode.

use super::{pg_err, PgStore};
use crate::store::StoreError;

/// One index probe (`files_by_project_id`) per project; `COLLATE "C"` orders names bytewise, as SQLite.
const PROJECTS_WITH_FILES: &str = "SELECT p.name FROM projects p \
     WHERE EXISTS (SELECT 1 FROM files f WHERE f.project_id = p.id) \
     ORDER BY p.name COLLATE \"C\"";

impl PgStore {
    /// [`MetadataStore::projects_with_files`](crate::store::MetadataStore::projects_with_files) on
    /// PostgreSQL.
    pub async fn projects_with_files(&self) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(PROJECTS_WITH_FILES, &[])
            .await
            .map_err(pg_err)?;
        rows.iter()
            .map(|row| row.try_get(0).map_err(pg_err))
            .collect()
    }
}
