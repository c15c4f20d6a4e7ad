//! List and count on SQLite, built on the filter translation of `filter_sql.rs`: the twins of
//! `store/postgres/query.rs`, with the same semantics (listing order is `seq` order, a page's cursor is the
//! last `seq` it holds, a partition is `seq % count = index`, and a spatial condition is checked in Rust
//! within its time budget: a page that uses it up ends early, with a cursor; a count that would need more
//! is refused).
//!
//! A list page has two plans: walk in listing order and test each row (many matches), or collect the
//! matching positions through the filter's own index, sort them, and fetch only the page's rows (few
//! matches). [`list_page`] probes the match count to choose. A walk is led by an index-table condition
//! whose entries come in listing order (one metadata pair, one asset id, one label) when the filter has
//! one: it then reads only that condition's matches, in order, instead of every file.

use rusqlite::types::Value as SqlValue;
use rusqlite::Connection;

use super::filter_sql::{build, translate_for_walk, Candidate, Mode, Side, SqlFilter};
use super::rows::{file_from_row, sql_err, FILE_COLUMNS};
use super::set_page::{fetch_set_page, lone_set};
use super::SqliteTuning;
use crate::domain::{FileFilter, FileRecord};
use crate::store::query::geo_count_refused;
use crate::store::{Page, PageRequest, Partition, StoreError};

/// Above this many matches left in a walk, a list page walks files in listing order and tests each row;
/// below it, it collects the matching positions through the filter's own index and sorts them. A page then
/// costs at most about this many index entries either way: walking finds `limit` matches within about
/// `limit × total / DEFAULT_PROBE_LIMIT` rows when matches are spread over the listing.
pub const DEFAULT_PROBE_LIMIT: i64 = 10_000;

/// [`DEFAULT_PROBE_LIMIT`] for a resolved asset set (a subtree, roots, externalIds). A walk tests each
/// file by looking its 1–3 entries up in the set, several times what reading one index entry costs, so
/// collecting and sorting the set's entries stays the cheaper plan for more matches: at 1,000,000 files a
/// 1,011-asset subtree (20,000 files, 2 %) took 77 ms per page walking 50,000 files, where collecting its
/// 20,000 entries reads each once.
pub const DEFAULT_SET_PROBE_LIMIT: i64 = 50_000;

/// Where a page starts and which files it may hold: after a position, inside a partition.
struct Window {
    after: i64,
    partition: Option<Partition>,
}

impl Window {
    /// SQL and parameters restricting `files.seq`; `bare` keeps SQLite from choosing an index for it (the
    /// `+`), so the filter's own index drives the plan.
    fn clause(&self, bare: bool) -> (String, Vec<SqlValue>) {
        self.clause_on(if bare { "+files.seq" } else { "files.seq" })
    }

    /// The same restriction on another column holding the file's `seq`.
    fn clause_on(&self, seq: &str) -> (String, Vec<SqlValue>) {
        let mut sql = format!("{seq} > ?");
        let mut params = vec![SqlValue::Integer(self.after)];
        if let Some(p) = self.partition {
            sql.push_str(&format!(" AND {seq} % ? = ?"));
            params.extend([
                SqlValue::Integer(p.count as i64),
                SqlValue::Integer(p.index as i64),
            ]);
        }
        (sql, params)
    }
}

/// The rows of a page in listing order, as `(seq, file)`, at most `limit` of them.
fn fetch(
    conn: &Connection,
    filter: &SqlFilter,
    window: &Window,
    sorted: bool,
    limit: usize,
) -> Result<Vec<(i64, FileRecord)>, StoreError> {
    let (bounds, bound_params) = window.clause(sorted);
    if let (Some(lead), false) = (&filter.lead, sorted) {
        return fetch_led(conn, filter, lead, window, limit);
    }
    let sql = if sorted {
        // Positions first, from the filter's index (usually without touching the table), then only the
        // page's rows.
        format!(
            "SELECT {FILE_COLUMNS}, files.seq FROM files WHERE files.seq IN \
             (SELECT files.seq FROM files WHERE {} AND {bounds} ORDER BY +files.seq LIMIT ?) ORDER BY files.seq",
            filter.clause
        )
    } else {
        format!(
            "SELECT {FILE_COLUMNS}, files.seq FROM files WHERE {} AND {bounds} ORDER BY files.seq LIMIT ?",
            filter.clause
        )
    };
    let mut params = filter.params.clone();
    params.extend(bound_params);
    params.push(SqlValue::Integer(limit as i64));
    let mut st = conn.prepare_cached(&sql).map_err(sql_err)?;
    let rows = st
        .query_map(rusqlite::params_from_iter(params), |row| {
            Ok((row.get::<_, i64>(19)?, file_from_row(row)?))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(sql_err)?;
    Ok(rows)
}

/// A walk led by an index table: its entries for the lead condition in `seq` order, each joined to its
/// file, which the rest of the filter then tests.
fn fetch_led(
    conn: &Connection,
    filter: &SqlFilter,
    lead: &Side,
    window: &Window,
    limit: usize,
) -> Result<Vec<(i64, FileRecord)>, StoreError> {
    let (sql, params) = led_sql(filter, lead, window, limit);
    let mut st = conn.prepare_cached(&sql).map_err(sql_err)?;
    let rows = st
        .query_map(rusqlite::params_from_iter(params), |row| {
            Ok((row.get::<_, i64>(19)?, file_from_row(row)?))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(sql_err)?;
    Ok(rows)
}

/// [`FILE_COLUMNS`] each prefixed with `files.`: in a led walk the index table's columns are in scope too.
static QUALIFIED_FILE_COLUMNS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    FILE_COLUMNS
        .split(", ")
        .map(|c| format!("files.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
});

/// The statement of [`fetch_led`] and its parameters.
fn led_sql(
    filter: &SqlFilter,
    lead: &Side,
    window: &Window,
    limit: usize,
) -> (String, Vec<SqlValue>) {
    let seq = format!("lead.{}", lead.seq_column);
    let (bounds, bound_params) = window.clause_on(&seq);
    let columns = &*QUALIFIED_FILE_COLUMNS;
    let sql = format!(
        "SELECT {columns}, files.seq FROM {} AS lead CROSS JOIN files \
         WHERE {} AND files.seq = {seq} AND {} AND {bounds} ORDER BY {seq} LIMIT ?",
        lead.table,
        lead.cond_on("lead"),
        filter.clause,
    );
    let mut params = lead.params.clone();
    params.extend(filter.params.iter().cloned());
    params.extend(bound_params);
    params.push(SqlValue::Integer(limit as i64));
    (sql, params)
}

/// How many files each candidate condition lets through, counted through its own index up to `bound` of it.
/// Each count is an upper bound of what the whole filter matches.
fn candidate_counts(
    conn: &Connection,
    filter: &SqlFilter,
    bound: impl Fn(&Candidate) -> i64,
) -> Result<Vec<i64>, StoreError> {
    filter
        .candidates
        .iter()
        .map(|c| {
            let mut params = c.params.clone();
            params.push(SqlValue::Integer(bound(c)));
            conn.prepare_cached(&c.count_sql)
                .and_then(|mut st| st.query_row(rusqlite::params_from_iter(params), |r| r.get(0)))
                .map_err(sql_err)
        })
        .collect()
}

/// The candidate with the fewest matches among `counts`, and that count.
fn fewest(counts: &[i64]) -> Option<(usize, i64)> {
    counts
        .iter()
        .copied()
        .enumerate()
        .min_by_key(|&(i, n)| (n, i))
}

/// The candidate that leads a walk best: one that can lead, with the fewest matches.
fn leader(filter: &SqlFilter, counts: &[i64]) -> Option<usize> {
    filter
        .candidates
        .iter()
        .zip(counts)
        .enumerate()
        .filter(|(_, (c, _))| c.leads.is_some())
        .min_by_key(|&(i, (_, n))| (*n, i))
        .map(|(i, _)| i)
}

/// The candidate condition with the fewest matches, counted through its own index up to `bound`, and that
/// count.
fn best_driver(
    conn: &Connection,
    filter: &SqlFilter,
    bound: i64,
) -> Result<Option<(usize, i64)>, StoreError> {
    Ok(fewest(&candidate_counts(conn, filter, |_| bound)?))
}

/// One page of the files matching the page's filter, in listing order.
pub(crate) fn list_page(
    conn: &Connection,
    project_id: i64,
    page: &PageRequest,
    tuning: SqliteTuning,
) -> Result<Page, StoreError> {
    let walk = translate_for_walk(&page.filter, project_id);
    let mut window = Window {
        after: page.after.unwrap_or(0),
        partition: page.partition,
    };
    let limit_of = |c: &Candidate| match c.costly_probe {
        true => tuning.list_set_probe_limit,
        false => tuning.list_probe_limit,
    };
    let counts = match walk.unordered {
        true => candidate_counts(conn, &walk, limit_of)?,
        false => vec![],
    };
    // The candidate with the fewest matches among those under their own limit.
    let under: Vec<i64> = counts
        .iter()
        .zip(&walk.candidates)
        .map(|(n, c)| if *n < limit_of(c) { *n } else { i64::MAX })
        .collect();
    let driver = fewest(&under).filter(|(_, n)| *n < i64::MAX);
    let sorted = driver.is_some();
    let filter = match (driver, leader(&walk, &counts)) {
        (Some((k, _)), _) => build(&page.filter, project_id, Mode::Drive(k)),
        (None, Some(k)) => build(&page.filter, project_id, Mode::Lead(k)),
        (None, None) => walk,
    };
    if let (Some(ids), true) = (lone_set(&page.filter), sorted) {
        let mut rows = fetch_set_page(
            conn,
            project_id,
            ids,
            window.after,
            window.partition,
            page.limit + 1,
        )?;
        let more = rows.len() > page.limit;
        rows.truncate(page.limit);
        return Ok(Page {
            next: if more {
                rows.last().map(|(seq, _)| *seq)
            } else {
                None
            },
            items: rows.into_iter().map(|(_, f)| f).collect(),
        });
    }
    // With a spatial post-filter, fetch in larger batches until the page is full.
    let batch = if filter.post.is_some() {
        (page.limit + 1).max(256)
    } else {
        page.limit + 1
    };
    let mut items: Vec<(i64, FileRecord)> = Vec::with_capacity(page.limit + 1);
    // Set when the spatial post-check runs out of time: the page ends early, after the last row tested.
    let mut cut_at = None;
    loop {
        let rows = fetch(conn, &filter, &window, sorted, batch)?;
        let fetched = rows.len();
        for (seq, row) in rows {
            window.after = seq;
            if filter.accepts(&row) {
                items.push((seq, row));
                if items.len() > page.limit {
                    break;
                }
            }
            if filter.exhausted() {
                cut_at = Some(seq);
                break;
            }
        }
        if items.len() > page.limit || fetched < batch || cut_at.is_some() {
            break;
        }
    }
    let more = items.len() > page.limit;
    items.truncate(page.limit);
    let next = if more {
        items.last().map(|(seq, _)| *seq)
    } else {
        cut_at
    };
    Ok(Page {
        items: items.into_iter().map(|(_, f)| f).collect(),
        next,
    })
}

/// How far [`count`] counts each candidate condition when choosing the one to drive from.
const COUNT_PROBE_LIMIT: i64 = 100_000;

/// How many files match `filter`.
pub(crate) fn count(
    conn: &Connection,
    project_id: i64,
    filter: &crate::domain::FileFilter,
) -> Result<u64, StoreError> {
    if *filter == FileFilter::default() {
        return conn
            .prepare_cached("SELECT file_count FROM projects WHERE id = ?1")
            .and_then(|mut st| st.query_row([project_id], |r| r.get::<_, i64>(0)))
            .map(|n| n.max(0) as u64)
            .map_err(sql_err);
    }
    let walk = translate_for_walk(filter, project_id);
    // A lone index-table condition: count its entries, without reading any file.
    if let ([side], 2, None) = (walk.sides.as_slice(), walk.conditions, &walk.post) {
        let counted = match side.ordered {
            true => "count(*)".to_string(),
            false => format!("count(DISTINCT {})", side.seq_column),
        };
        let sql = format!(
            "SELECT {counted} FROM {} WHERE {}",
            side.table,
            side.cond_on(side.table)
        );
        return conn
            .prepare_cached(&sql)
            .and_then(|mut st| {
                st.query_row(rusqlite::params_from_iter(side.params.iter()), |r| {
                    r.get::<_, i64>(0)
                })
            })
            .map(|n| n as u64)
            .map_err(sql_err);
    }
    // Drive from the condition with the fewest matches; the others are checked row by row.
    let filter = match best_driver(conn, &walk, COUNT_PROBE_LIMIT)? {
        Some((k, _)) => build(filter, project_id, Mode::Drive(k)),
        None => walk,
    };
    if filter.post.is_none() {
        let sql = format!("SELECT count(*) FROM files WHERE {}", filter.clause);
        return conn
            .prepare_cached(&sql)
            .and_then(|mut st| {
                st.query_row(rusqlite::params_from_iter(filter.params.iter()), |r| {
                    r.get::<_, i64>(0)
                })
            })
            .map(|n| n as u64)
            .map_err(sql_err);
    }
    let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE {}", filter.clause);
    let mut st = conn.prepare_cached(&sql).map_err(sql_err)?;
    let mut rows = st
        .query(rusqlite::params_from_iter(filter.params.iter()))
        .map_err(sql_err)?;
    let mut n = 0;
    while let Some(row) = rows.next().map_err(sql_err)? {
        if filter.accepts(&file_from_row(row).map_err(sql_err)?) {
            n += 1;
        }
        if filter.exhausted() {
            return Err(geo_count_refused());
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::super::filter_sql::translate;
    use super::*;
    use serde_json::json;

    /// A database migrated by the store (so with the full schema), and a connection to it.
    fn schema_db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.sqlite3");
        drop(super::super::SqliteStore::open(&path, 1).unwrap());
        let conn = Connection::open(&path).unwrap();
        (dir, conn)
    }

    /// The plan SQLite picks for a list page with `filter`, on a database with the full schema.
    fn plan(conn: &Connection, filter: serde_json::Value) -> String {
        plan_of(conn, filter, None)
    }

    fn plan_of(conn: &Connection, filter: serde_json::Value, sorted: Option<bool>) -> String {
        let filter = FileFilter::from_json(filter.as_object().unwrap()).unwrap();
        plan_of_filter(conn, &filter, sorted)
    }

    fn plan_of_filter(conn: &Connection, filter: &FileFilter, sorted: Option<bool>) -> String {
        let filter = filter.clone();
        let sorted = sorted.unwrap_or(translate(&filter, 1).unordered);
        let f = if sorted {
            translate(&filter, 1)
        } else {
            translate_for_walk(&filter, 1)
        };
        let window = Window {
            after: 0,
            partition: None,
        };
        let (bounds, bound_params) = window.clause(sorted);
        let sql = if sorted {
            format!(
                "EXPLAIN QUERY PLAN SELECT {FILE_COLUMNS}, files.seq FROM files WHERE files.seq IN \
                 (SELECT files.seq FROM files WHERE {} AND {bounds} ORDER BY +files.seq LIMIT ?) ORDER BY files.seq",
                f.clause
            )
        } else {
            format!(
                "EXPLAIN QUERY PLAN SELECT {FILE_COLUMNS}, files.seq FROM files WHERE {} AND {bounds} ORDER BY files.seq LIMIT ?",
                f.clause
            )
        };
        let mut params = f.params.clone();
        params.extend(bound_params);
        params.push(SqlValue::Integer(101));
        let mut st = conn.prepare(&sql).unwrap();
        let rows = st
            .query_map(rusqlite::params_from_iter(params), |r| {
                r.get::<_, String>(3)
            })
            .unwrap();
        rows.map(|r| r.unwrap()).collect::<Vec<_>>().join(" | ")
    }

    /// A resolved asset set (a subtree of 1,011 assets) in both plans of a list page: driving, each id
    /// looked up in file_assets' primary key once; walking in listing order, each file's own entries
    /// found through file_assets_by_file, never each id of the list per file.
    #[test]
    fn an_asset_set_probes_each_file_through_its_own_entries() {
        let (_dir, conn) = schema_db();
        let filter = FileFilter {
            asset_sets: vec![(1..=1011).collect()],
            ..FileFilter::default()
        };
        let walk = plan_of_filter(&conn, &filter, Some(false));
        assert!(
            walk.contains("INDEX file_assets_by_file (file_seq=?"),
            "{walk}"
        );
        assert!(!walk.contains("asset_id=?"), "{walk}");
        let drive = plan_of_filter(&conn, &filter, Some(true));
        assert!(
            drive.contains("file_assets USING PRIMARY KEY (project_id=? AND asset_id=?)"),
            "{drive}"
        );
    }

    #[test]
    fn every_filter_is_served_by_an_index() {
        let (_dir, conn) = schema_db();
        let square = json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]});
        let cases = [
            (json!({"name": "a"}), "files_by_name"),
            (json!({"directoryPrefix": "/a"}), "files_by_directory"),
            (json!({"mimeType": "text/plain"}), "files_by_mime_type"),
            (json!({"source": "s"}), "files_by_source"),
            (
                json!({"dataSetIds": [{"id": 1}, {"id": 2}]}),
                "files_by_data_set",
            ),
            (json!({"externalIdPrefix": "ab"}), "files_by_external_id"),
            (
                json!({"createdTime": {"min": 1, "max": 2}}),
                "files_by_created_time",
            ),
            (
                json!({"lastUpdatedTime": {"min": 1}}),
                "files_by_last_updated_time",
            ),
            (
                json!({"uploadedTime": {"max": 2}}),
                "files_by_uploaded_time",
            ),
            (
                json!({"sourceCreatedTime": {"min": 1}}),
                "files_by_source_created_time",
            ),
            (
                json!({"sourceModifiedTime": {"min": 1}}),
                "files_by_source_modified_time",
            ),
            (json!({"uploaded": false}), "files_by_uploaded"),
            (json!({"metadata": {"k": "v"}}), "file_metadata_by_value"),
            (json!({"assetIds": [1, 2]}), "file_assets"),
            (
                json!({"labels": {"containsAny": [{"externalId": "L"}]}}),
                "file_labels",
            ),
            (
                json!({"labels": {"containsAll": [{"externalId": "L"}, {"externalId": "M"}]}}),
                "file_labels",
            ),
            (
                json!({"geoLocation": {"relation": "intersects", "shape": square}}),
                "file_geo",
            ),
        ];
        for (filter, index) in cases {
            let walk = plan_of(&conn, filter.clone(), Some(false));
            assert!(
                !walk.contains("TEMP B-TREE FOR ORDER BY") && !walk.contains("SCAN files"),
                "{filter}: {walk}"
            );
            let plan = plan(&conn, filter.clone());
            assert!(
                plan.contains(index),
                "{filter}: expected {index} in the plan: {plan}"
            );
            assert!(
                !plan.contains("SCAN files"),
                "{filter}: full scan in the plan: {plan}"
            );
        }
    }

    /// Uploaded files in an upload-time window are walked through `files_by_uploaded`, whose entries carry
    /// the upload time: the window is tested on the index, before any file row is read.
    #[test]
    fn an_uploaded_window_is_tested_on_the_index() {
        let (_dir, conn) = schema_db();
        let walk = plan_of(
            &conn,
            json!({"uploaded": true, "uploadedTime": {"min": 1, "max": 2}}),
            Some(false),
        );
        assert!(
            walk.contains("files_by_uploaded (project_id=? AND uploaded=?")
                && !walk.contains("TEMP B-TREE"),
            "{walk}"
        );
        assert!(
            walk_reads_index_entries(
                &conn,
                json!({"uploaded": true, "uploadedTime": {"min": 1, "max": 2}})
            ),
            "the upload time is read from the index entry"
        );
    }

    /// A dense directoryPrefix is walked through `files_by_project`, whose entries carry the directory: the
    /// prefix is tested on the index, before any file row is read.
    #[test]
    fn a_walked_directory_prefix_is_tested_on_the_index() {
        let (_dir, conn) = schema_db();
        assert!(
            walk_reads_index_entries(&conn, json!({"directoryPrefix": "/plant-03/"})),
            "the directory is read from the index entry"
        );
    }

    /// Whether the walk plan of `filter` reads columns from its index entries before it seeks the file row
    /// (SQLite's `DeferredSeek`, then `Column` on the index cursor): conditions tested on the index.
    fn walk_reads_index_entries(conn: &Connection, filter: serde_json::Value) -> bool {
        let filter = FileFilter::from_json(filter.as_object().unwrap()).unwrap();
        let walk = translate_for_walk(&filter, 1);
        let (bounds, bound_params) = Window {
            after: 0,
            partition: None,
        }
        .clause(false);
        let sql = format!(
            "EXPLAIN SELECT files.name FROM files WHERE {} AND {bounds} ORDER BY files.seq LIMIT 10",
            walk.clause
        );
        let mut params = walk.params.clone();
        params.extend(bound_params);
        // (opcode, p1) of each instruction.
        let program: Vec<(String, i64)> = conn
            .prepare(&sql)
            .unwrap()
            .query_map(rusqlite::params_from_iter(params), |r| {
                Ok((r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
            })
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        let index_cursor = program
            .iter()
            .find(|(op, _)| op == "DeferredSeek")
            .map(|(_, p1)| *p1);
        index_cursor.is_some_and(|c| program.iter().any(|(op, p1)| op == "Column" && *p1 == c))
    }

    /// A walk led by an index table reads that table's index in listing order and each entry's file by
    /// its position: no scan, no sort, whatever the other conditions.
    #[test]
    fn a_led_walk_reads_its_index_in_order() {
        let (_dir, conn) = schema_db();
        let cases = [
            (json!({"metadata": {"k": "v"}}), "file_metadata_by_value"),
            (
                json!({"metadata": {"k": "v", "j": "w"}, "mimeType": "a"}),
                "file_metadata_by_value",
            ),
            (
                json!({"assetIds": [7], "directoryPrefix": "/a"}),
                "PRIMARY KEY",
            ),
            (
                json!({"labels": {"containsAny": [{"externalId": "L"}]}, "uploaded": true}),
                "PRIMARY KEY",
            ),
        ];
        for (filter, index) in cases {
            let filter = FileFilter::from_json(filter.as_object().unwrap()).unwrap();
            let walk = translate_for_walk(&filter, 1);
            let leads: Vec<usize> = (0..walk.candidates.len())
                .filter(|&k| walk.candidates[k].leads.is_some())
                .collect();
            assert!(
                !leads.is_empty(),
                "{filter:?} has a condition that can lead"
            );
            for k in leads {
                let led = build(&filter, 1, Mode::Lead(k));
                let lead = led.lead.clone().unwrap();
                let window = Window {
                    after: 5,
                    partition: Some(Partition { index: 1, count: 3 }),
                };
                let (sql, params) = led_sql(&led, &lead, &window, 101);
                let plan = conn
                    .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .unwrap()
                    .query_map(rusqlite::params_from_iter(params), |r| {
                        r.get::<_, String>(3)
                    })
                    .unwrap()
                    .map(|r| r.unwrap())
                    .collect::<Vec<_>>()
                    .join(" | ");
                assert!(
                    plan.starts_with("SEARCH lead USING")
                        && plan.contains(index)
                        && plan.contains("SEARCH files USING INTEGER PRIMARY KEY")
                        && !plan.contains("TEMP B-TREE")
                        && !plan.contains("SCAN"),
                    "{filter:?}: {plan}"
                );
            }
        }
    }
}
