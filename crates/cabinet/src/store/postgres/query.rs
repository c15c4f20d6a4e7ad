//! List and count on PostgreSQL, the twins of SQLite's `list_page` and `count` (store/sqlite/query.rs),
//! with the same semantics: listing order is `seq` order, a page's cursor is the last `seq` it holds, a
//! partition is `seq % count = index` (disjoint, and together complete), and a spatial condition is
//! checked in Rust within its time budget (a page that uses it up ends early, with a cursor; a count
//! that would need more is refused).
//!
//! Statements whose text depends on the filter are prepared per call, not cached on the connection: the
//! cache would grow with every combination of conditions, and a statement executed only a few times is
//! always planned for its parameter values (PostgreSQL considers a generic plan from the sixth execution),
//! which matters for skewed values (one common mimeType, one rare).
//!
//! Each page is one statement `… WHERE <filter> AND seq > $after ORDER BY seq LIMIT n`: every b-tree of
//! the schema ends in `seq`, so the planner either walks one in listing order (stopping after n matches)
//! or collects the matches of a selective condition (GIN, GiST, a range) and sorts only those. When one
//! range is the whole condition ([`PgFilter::reads_late`]), the page's `seq`s come first from that range's
//! index alone and the rows after, by primary key, so that only the page's rows are read from the table.
//! When one asset set is the whole condition ([`PgFilter::assets_alone`]), the page's `seq`s come from
//! the set's entries in `file_assets` (migration 0008) and its count counts them.

use tokio_postgres::types::{ToSql, Type};

use super::files::{file_from_row, FILE_COLUMNS};
use super::filter_sql::PgFilter;
use super::{pg_err, PgStore};
use crate::domain::{FileFilter, FileRecord, GeoLocation, ProjectName};
use crate::store::query::geo_count_refused;
use crate::store::{Page, PageRequest, StoreError};

/// How many rows a count with a spatial condition reads at once.
const COUNT_BATCH: i64 = 1000;

/// The id of `project`, `None` when it has never been written to (and so holds no files).
pub(super) async fn project_of(
    client: &deadpool_postgres::Client,
    project: &ProjectName,
) -> Result<Option<i64>, StoreError> {
    let st = client
        .prepare_cached("SELECT id FROM projects WHERE name = $1")
        .await
        .map_err(pg_err)?;
    client
        .query_opt(&st, &[&project.as_str()])
        .await
        .map_err(pg_err)?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(pg_err)
}

impl PgStore {
    /// [`project_of`], remembered once found (a project's id never changes; one not yet written to is
    /// asked again next time).
    pub(super) async fn project_id(
        &self,
        client: &deadpool_postgres::Client,
        project: &ProjectName,
    ) -> Result<Option<i64>, StoreError> {
        let known = self
            .project_ids
            .read()
            .ok()
            .and_then(|m| m.get(project.as_str()).copied());
        if known.is_some() {
            return Ok(known);
        }
        let found = project_of(client, project).await?;
        if let (Some(id), Ok(mut m)) = (found, self.project_ids.write()) {
            m.insert(project.as_str().to_string(), id);
        }
        Ok(found)
    }
}

/// The statement of one batch of a page: the filter's placeholders, then `after`, the partition's count
/// and index when `partitioned`, and the limit. Column 19 is `seq`.
pub(super) fn page_sql(filter: &PgFilter, partitioned: bool) -> String {
    let n = filter.params.len();
    let mut window = format!("{} AND files.seq > ${}", filter.clause, n + 1);
    let mut next = n + 2;
    if partitioned {
        window.push_str(&format!(" AND files.seq % ${next} = ${}", next + 1));
        next += 2;
    }
    if let Some((pid, set)) = filter.assets_alone() {
        // DISTINCT: a file linked to several of the set's assets has one entry for each. `= ANY(ARRAY(…))`
        // rather than `IN (…)`: the page's seqs are then looked up by primary key, where `IN` lets the
        // planner hash-join them against a sequential read of the files when the table is small.
        let mut entries = format!(
            "fa.project_id = {pid} AND fa.asset_id = ANY({set}::bigint[]) AND fa.seq > ${}",
            n + 1
        );
        if partitioned {
            entries.push_str(&format!(" AND fa.seq % ${} = ${}", n + 2, n + 3));
        }
        return format!(
            "SELECT {FILE_COLUMNS}, seq FROM files WHERE files.project_id = {pid} AND files.seq = ANY(ARRAY\
             (SELECT DISTINCT fa.seq FROM file_assets AS fa WHERE {entries} ORDER BY fa.seq LIMIT ${next})) \
             ORDER BY files.seq"
        );
    }
    match filter.reads_late() {
        true => format!(
            "SELECT {FILE_COLUMNS}, seq FROM files WHERE files.seq IN \
             (SELECT files.seq FROM files WHERE {window} ORDER BY files.seq LIMIT ${next}) \
             ORDER BY files.seq"
        ),
        false => format!(
            "SELECT {FILE_COLUMNS}, seq FROM files WHERE {window} ORDER BY files.seq LIMIT ${next}"
        ),
    }
}

/// The statement counting the files of a filter without a spatial condition (the filter's placeholders).
pub(super) fn count_sql(filter: &PgFilter) -> String {
    match filter.assets_alone() {
        Some((pid, set)) => format!(
            "SELECT count(DISTINCT fa.seq) FROM file_assets AS fa \
             WHERE fa.project_id = {pid} AND fa.asset_id = ANY({set}::bigint[])"
        ),
        None => format!("SELECT count(*) FROM files WHERE {}", filter.clause),
    }
}

/// The parameters of [`page_sql`] after the filter's.
pub(super) fn page_params(page: &PageRequest, after: i64, limit: usize) -> Vec<i64> {
    let mut params = vec![after];
    if let Some(p) = page.partition {
        params.extend([i64::from(p.count), i64::from(p.index)]);
    }
    params.push(i64::try_from(limit).unwrap_or(i64::MAX));
    params
}

/// Before the first file: `seq` starts at 0.
const START: i64 = -1;

impl PgStore {
    /// [`MetadataStore::list`](crate::store::MetadataStore::list) on PostgreSQL.
    pub async fn list_files(
        &self,
        project: &ProjectName,
        page: PageRequest,
    ) -> Result<Page, StoreError> {
        let empty = Page {
            items: vec![],
            next: None,
        };
        if page.limit == 0 {
            return Ok(empty);
        }
        let client = self.client().await?;
        let Some(pid) = self.project_id(&client, project).await? else {
            return Ok(empty);
        };
        let mut filter = PgFilter::new(&page.filter, pid);
        // Sent with its values in one round trip (no prepare, no close), planned for them.
        let sql = page_sql(&filter, page.partition.is_some());
        // With a spatial post-check, read in larger batches until the page is full.
        let batch = match filter.has_post() {
            true => (page.limit + 1).max(256),
            false => page.limit + 1,
        };
        let mut after = page.after.unwrap_or(START);
        let mut items: Vec<(i64, FileRecord)> = Vec::with_capacity(page.limit + 1);
        // Set when the spatial post-check runs out of time: the page ends after the last row tested.
        let mut cut_at = None;
        loop {
            let window = page_params(&page, after, batch);
            let mut params = filter.typed_refs();
            params.extend(
                window
                    .iter()
                    .map(|p| (p as &(dyn ToSql + Sync), Type::INT8)),
            );
            let rows = client.query_typed(&sql, &params).await.map_err(pg_err)?;
            let fetched = rows.len();
            let mut read = Vec::with_capacity(fetched);
            for row in &rows {
                let seq: i64 = row.try_get(19).map_err(pg_err)?;
                read.push((seq, file_from_row(row)?));
            }
            let (verdicts, exhausted) =
                filter.post_check(read.iter().map(|(_, f)| f.geo_location.as_ref()));
            let tested = verdicts.len();
            for ((seq, file), ok) in read.into_iter().zip(verdicts) {
                after = seq;
                if ok {
                    items.push((seq, file));
                    if items.len() > page.limit {
                        break;
                    }
                }
            }
            if exhausted && items.len() <= page.limit && tested > 0 {
                cut_at = Some(after);
            }
            if items.len() > page.limit || fetched < batch || exhausted {
                break;
            }
        }
        let more = items.len() > page.limit;
        items.truncate(page.limit);
        let next = match more {
            true => items.last().map(|(seq, _)| *seq),
            false => cut_at,
        };
        Ok(Page {
            items: items.into_iter().map(|(_, f)| f).collect(),
            next,
        })
    }

    /// [`MetadataStore::count`](crate::store::MetadataStore::count) on PostgreSQL.
    pub async fn count_files(
        &self,
        project: &ProjectName,
        filter: &FileFilter,
    ) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let Some(pid) = self.project_id(&client, project).await? else {
            return Ok(0);
        };
        if *filter == FileFilter::default() {
            // The project's counters (migration 0007), kept by a trigger on every insert and delete.
            let st = client
                .prepare_cached(
                    "SELECT COALESCE(sum(n), 0)::bigint FROM file_counts WHERE project_id = $1",
                )
                .await
                .map_err(pg_err)?;
            let n: i64 = client
                .query_one(&st, &[&pid])
                .await
                .and_then(|r| r.try_get(0))
                .map_err(pg_err)?;
            return Ok(n.max(0) as u64);
        }
        let mut filter = PgFilter::new(filter, pid);
        if !filter.has_post() {
            let st = client.prepare(&count_sql(&filter)).await.map_err(pg_err)?;
            let n: i64 = client
                .query_one(&st, &filter.refs())
                .await
                .and_then(|r| r.try_get(0))
                .map_err(pg_err)?;
            return Ok(n.max(0) as u64);
        }
        // The spatial relation is decided here, on the locations of the rows SQL lets through, a batch at
        // a time in listing order (constant memory).
        let n = filter.params.len();
        let st = client
            .prepare(&format!(
                "SELECT files.seq, files.geo_location::text FROM files WHERE {} AND files.seq > ${} \
                 ORDER BY files.seq LIMIT ${}",
                filter.clause,
                n + 1,
                n + 2
            ))
            .await
            .map_err(pg_err)?;
        let mut after = START;
        let mut count = 0u64;
        loop {
            let mut params = filter.refs();
            params.extend([&after as &(dyn ToSql + Sync), &COUNT_BATCH]);
            let rows = client.query(&st, &params).await.map_err(pg_err)?;
            let mut locations = Vec::with_capacity(rows.len());
            for row in &rows {
                after = row.try_get(0).map_err(pg_err)?;
                let text: Option<String> = row.try_get(1).map_err(pg_err)?;
                locations.push(
                    text.map(GeoLocation::from_stored)
                        .transpose()
                        .map_err(|e| StoreError::internal("files.geo_location", e))?,
                );
            }
            let (verdicts, exhausted) = filter.post_check(locations.iter().map(Option::as_ref));
            count += verdicts.iter().filter(|v| **v).count() as u64;
            if exhausted {
                return Err(geo_count_refused());
            }
            if (rows.len() as i64) < COUNT_BATCH {
                return Ok(count);
            }
        }
    }
}

impl PgStore {
    /// The plans PostgreSQL picks for the first page of `page` and for counting its filter (`EXPLAIN`
    /// text, one per statement), for the tests that check every filter is served by an index.
    #[doc(hidden)]
    pub async fn explain_list_and_count(
        &self,
        project: &ProjectName,
        page: &PageRequest,
    ) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let pid = self.project_id(&client, project).await?.unwrap_or(0);
        let filter = PgFilter::new(&page.filter, pid);
        let window = page_params(page, START, page.limit + 1);
        let mut params: Vec<&(dyn ToSql + Sync)> = filter.refs();
        params.extend(window.iter().map(|p| p as &(dyn ToSql + Sync)));
        let mut plans = Vec::new();
        for (sql, params) in [
            (page_sql(&filter, page.partition.is_some()), params),
            (count_sql(&filter), filter.refs()),
        ] {
            let rows = client
                .query(&format!("EXPLAIN {sql}"), &params)
                .await
                .map_err(pg_err)?;
            let lines: Vec<String> = rows
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()
                .map_err(pg_err)?;
            plans.push(lines.join("\n"));
        }
        Ok(plans)
    }
}
