//! List, count and search on PostgreSQL as a plain reference implementation: the project's files are read
//! in listing (`seq`) order, in batches, and tested with [`FileFilter::matches`]; search ranks names with
//! the SQLite store's in-memory ranking. Correct at any size, fast only at small ones.

use super::files::{file_from_row, FILE_COLUMNS};
use super::{pg_err, PgStore};
use crate::domain::{FileFilter, FileRecord, ProjectName};
use crate::store::sqlite::search::rank_names;
use crate::store::{Page, PageRequest, Partition, StoreError};

/// Rows read per statement.
const BATCH: i64 = 1000;

impl PgStore {
    /// Calls `visit` with `(seq, file)` for the project's files after position `after` in listing
    /// order (those of `partition` only: `seq % count = index`, as on SQLite) until it returns false.
    async fn walk(
        &self,
        project: &ProjectName,
        mut after: i64,
        partition: Option<Partition>,
        mut visit: impl FnMut(i64, FileRecord) -> bool + Send,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        let count = partition.map(|p| i64::from(p.count.max(1)));
        let index = partition.map(|p| i64::from(p.index));
        let sql = format!(
            "SELECT {FILE_COLUMNS}, seq FROM files \
             WHERE project_id = (SELECT id FROM projects WHERE name = $1) AND seq > $2 \
             AND ($3::bigint IS NULL OR seq % $3 = $4) ORDER BY seq LIMIT $5"
        );
        loop {
            let rows = client
                .query(&sql, &[&project.as_str(), &after, &count, &index, &BATCH])
                .await
                .map_err(pg_err)?;
            for row in &rows {
                after = row.try_get(19).map_err(pg_err)?;
                if !visit(after, file_from_row(row)?) {
                    return Ok(());
                }
            }
            if (rows.len() as i64) < BATCH {
                return Ok(());
            }
        }
    }

    pub(super) async fn list_files(
        &self,
        project: &ProjectName,
        page: PageRequest,
    ) -> Result<Page, StoreError> {
        let mut items: Vec<(i64, FileRecord)> = Vec::new();
        // Positions start at 0 (`files_seq`), so a walk from the start begins before it.
        let after = page.after.unwrap_or(-1);
        self.walk(project, after, page.partition, |seq, file| {
            if page.filter.matches(&file) {
                items.push((seq, file));
            }
            items.len() <= page.limit
        })
        .await?;
        let more = items.len() > page.limit;
        items.truncate(page.limit);
        Ok(Page {
            next: if more {
                items.last().map(|(s, _)| *s)
            } else {
                None
            },
            items: items.into_iter().map(|(_, f)| f).collect(),
        })
    }

    pub(super) async fn count_files(
        &self,
        project: &ProjectName,
        filter: &FileFilter,
    ) -> Result<u64, StoreError> {
        let mut n = 0u64;
        self.walk(project, -1, None, |_, file| {
            n += u64::from(filter.matches(&file));
            true
        })
        .await?;
        Ok(n)
    }

    pub(super) async fn search_files(
        &self,
        project: &ProjectName,
        filter: &FileFilter,
        name: Option<&str>,
        limit: usize,
    ) -> Result<Vec<FileRecord>, StoreError> {
        let list = |limit| PageRequest {
            filter: filter.clone(),
            limit,
            after: None,
            partition: None,
        };
        if limit == 0 {
            return Ok(vec![]);
        }
        let Some(name) = name.filter(|n| !n.trim().is_empty()) else {
            return Ok(self.list_files(project, list(limit)).await?.items);
        };
        let mut files = std::collections::HashMap::new();
        self.walk(project, -1, None, |_, file| {
            if filter.matches(&file) {
                files.insert(file.id, file);
            }
            true
        })
        .await?;
        let names: Vec<(i64, String)> = files.values().map(|f| (f.id, f.name.clone())).collect();
        Ok(rank_names(name, &names)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|id| files.remove(&id))
            .take(limit)
            .collect())
    }
}
