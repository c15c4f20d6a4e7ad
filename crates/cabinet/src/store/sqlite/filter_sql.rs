//! Translation of a [`FileFilter`] into SQL over the `files` table and its index tables, and the list and
//! count queries built on it.
//!
//! How each condition is served (the planner picks among them; `EXPLAIN QUERY PLAN` checks are in the
//! tests below). Listing order is `seq` order (creation order), and every index ends in `seq`:
//! - name, mimeType, source, dataSetIds, uploaded: equality (or `IN`) on an index `(project_id, <field>,
//!   seq)`, which also yields listing order for the keyset cursor.
//! - directoryPrefix, externalIdPrefix: a range scan `[prefix, prefix + U+10FFFF)` on
//!   `(project_id, directory, seq)` / `(project_id, external_id)`, then an exact prefix check.
//! - time ranges: a range scan on `(project_id, <time>, seq)`.
//! - metadata, assetIds, labels: the index tables `file_metadata (project_id, key, value, file_seq)`,
//!   `file_assets (project_id, asset_id, file_seq)`, `file_labels (project_id, label, file_seq)`.
//! - geoLocation: INTERSECTS and WITHIN are pre-filtered by the R*Tree `file_geo` on bounding boxes;
//!   DISJOINT by `geo_location IS NOT NULL`; the exact relation is then evaluated in Rust
//!   ([`GeoMatcher`]), within a time budget: a list page that uses it up ends early, with a cursor.
//!
//! A list page has two plans: walk in listing order and test each row (many matches), or collect the
//! matching positions through the filter's own index, sort them, and fetch only the page's rows (few
//! matches). [`list_page`] probes the match count to choose. A walk is led by an index-table condition
//! whose entries come in listing order (one metadata pair, one asset id, one label) when the filter has
//! one: it then reads only that condition's matches, in order, instead of every file.

use rusqlite::types::Value as SqlValue;
use rusqlite::Connection;

use super::rows::{file_from_row, sql_err, FILE_COLUMNS};
use crate::domain::{FileFilter, FileRecord, GeoMatcher, GeoRelation, Invalid, TimeRange};
use crate::store::{Page, PageRequest, Partition, StoreError};

/// A filter as a SQL condition on `files` with its parameters, plus what SQL cannot decide.
pub(crate) struct SqlFilter {
    /// A boolean expression; refers to the table as `files`.
    pub(crate) clause: String,
    /// Values for the `?` placeholders of `clause`, in order.
    pub(crate) params: Vec<SqlValue>,
    /// A spatial condition to check on each candidate row after the SQL filter, its shape prepared once
    /// for the whole query.
    pub(crate) post: Option<GeoMatcher>,
    /// Whether a condition is served by a range scan or an index table, whose index does not yield
    /// listing order: then a list page probes how many rows match before choosing a plan (see [`list_page`]).
    pub(crate) unordered: bool,
    /// The conditions that can drive a plan from their own index, with a query counting their matches.
    candidates: Vec<Candidate>,
    /// The index-table condition that leads a walk (`Mode::Lead`), left out of `clause`.
    lead: Option<Side>,
    /// The index-table conditions, in the order of `candidates` among them; with nothing else in the
    /// filter, a lone one is counted in its own table.
    sides: Vec<Side>,
    /// How many conditions `clause` joins (the project's included).
    conditions: usize,
}

/// A condition on an index table (file_metadata, file_assets, file_labels, file_geo).
#[derive(Clone)]
struct Side {
    table: &'static str,
    /// The table's column holding the file's `seq`.
    seq_column: &'static str,
    /// The condition, naming the table's columns as `{t}.<column>`.
    cond: String,
    params: Vec<SqlValue>,
    /// Whether the matching entries come in `seq` order from the table's index (equalities only).
    ordered: bool,
}

impl Side {
    fn cond_on(&self, table: &str) -> String {
        self.cond.replace("{t}", table)
    }
}

/// A condition that can drive a plan, and how to count (up to a bound) the files it lets through.
struct Candidate {
    /// `SELECT count(*) FROM (SELECT 1 … LIMIT ?)`, the bound being the last parameter.
    count_sql: String,
    params: Vec<SqlValue>,
    /// For an index-table condition whose entries come in listing order: its place in `sides`, so that
    /// it can lead a walk.
    leads: Option<usize>,
}

/// How conditions on index tables are written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Every one as `files.seq IN (SELECT …)`: drive from the index tables.
    DriveAll,
    /// Only the n-th candidate drives (as `IN`); index-table conditions other than it probe (`EXISTS`).
    Drive(usize),
    /// Every one as `EXISTS (…)`: walk `files` in listing order and test each row.
    Walk,
    /// Walk the n-th candidate's index table in listing order (it must be able to lead), joining each
    /// entry's file and testing the other conditions on it.
    Lead(usize),
}

impl SqlFilter {
    /// Whether a row the SQL condition let through really matches.
    pub(crate) fn accepts(&self, f: &FileRecord) -> bool {
        self.post
            .as_ref()
            .is_none_or(|g| g.matches(f.geo_location.as_ref()))
    }

    /// Whether the spatial post-check used up its time budget: the query should stop reading rows.
    pub(crate) fn exhausted(&self) -> bool {
        self.post.as_ref().is_some_and(GeoMatcher::exhausted)
    }
}

struct Builder {
    parts: Vec<String>,
    params: Vec<SqlValue>,
    unordered: bool,
    mode: Mode,
    candidates: Vec<Candidate>,
    project: SqlValue,
    lead: Option<Side>,
    sides: Vec<Side>,
}

impl Builder {
    fn push(&mut self, sql: impl Into<String>, params: impl IntoIterator<Item = SqlValue>) {
        self.parts.push(sql.into());
        self.params.extend(params);
    }

    /// A condition on an index table `table` whose file column is `seq_column`: either driving from it
    /// (`files.seq IN (SELECT …)`), probing it per row (`EXISTS (SELECT … AND file_seq = files.seq)`),
    /// or leading the walk. `cond` names the table's columns as `{t}.<column>`; `ordered` says whether
    /// its matches come in `seq` order from the table's index.
    fn side(
        &mut self,
        table: &'static str,
        seq_column: &'static str,
        cond: &str,
        params: impl IntoIterator<Item = SqlValue>,
        ordered: bool,
    ) {
        let side = Side {
            table,
            seq_column,
            cond: cond.to_string(),
            params: params.into_iter().collect(),
            ordered,
        };
        let drives = self.next_drives();
        let leads = self.mode == Mode::Lead(self.candidates.len());
        let on_table = side.cond_on(table);
        self.candidates.push(Candidate {
            count_sql: format!(
                "SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {on_table} LIMIT ?)"
            ),
            params: side.params.clone(),
            leads: ordered.then_some(self.sides.len()),
        });
        self.sides.push(side.clone());
        if leads && ordered {
            self.lead = Some(side);
            return;
        }
        let sql = if drives {
            format!("files.seq IN (SELECT {seq_column} FROM {table} WHERE {on_table})")
        } else {
            format!("EXISTS (SELECT 1 FROM {table} WHERE {on_table} AND {seq_column} = files.seq)")
        };
        self.push(sql, side.params);
    }

    /// Whether the next candidate drives the plan.
    fn next_drives(&self) -> bool {
        match self.mode {
            Mode::DriveAll => true,
            Mode::Drive(n) => n == self.candidates.len(),
            Mode::Walk | Mode::Lead(_) => false,
        }
    }

    /// A condition on columns of `files` that an index can serve by a range scan. `sql` names each column
    /// as `{c}.<column>`: when the condition does not drive, the column is written `+files.<column>`, which
    /// keeps SQLite from choosing its index, so the plan walks an index in listing order instead of
    /// sorting every match.
    fn column_range(&mut self, sql: String, params: Vec<SqlValue>) {
        self.unordered = true;
        let indexed = sql.replace("{c}", "files");
        let rendered = if self.next_drives() {
            indexed.clone()
        } else {
            sql.replace("{c}", "+files")
        };
        self.candidates.push(Candidate {
            count_sql: format!("SELECT count(*) FROM (SELECT 1 FROM files WHERE files.project_id = ? AND {indexed} LIMIT ?)"),
            params: std::iter::once(self.project.clone()).chain(params.iter().cloned()).collect(),
            leads: None,
        });
        self.push(rendered, params);
    }

    fn placeholders(n: usize) -> String {
        vec!["?"; n].join(", ")
    }

    fn prefix(&mut self, column: &str, prefix: &str) {
        let upper = format!("{prefix}\u{10FFFF}");
        self.column_range(
            format!(
                "{{c}}.{column} >= ? AND {{c}}.{column} < ? AND substr(files.{column}, 1, ?) = ?"
            ),
            vec![
                SqlValue::Text(prefix.to_string()),
                SqlValue::Text(upper),
                SqlValue::Integer(prefix.chars().count() as i64),
                SqlValue::Text(prefix.to_string()),
            ],
        );
    }

    fn range(&mut self, column: &str, r: &TimeRange) {
        let mut sql = format!("{{c}}.{column} IS NOT NULL");
        let mut params = Vec::new();
        if let Some(min) = r.min {
            sql.push_str(&format!(" AND {{c}}.{column} >= ?"));
            params.push(SqlValue::Integer(min));
        }
        if let Some(max) = r.max {
            sql.push_str(&format!(" AND {{c}}.{column} <= ?"));
            params.push(SqlValue::Integer(max));
        }
        self.column_range(sql, params);
    }
}

/// Translates `filter` for the files of project `project_id`, in the form that drives from the index
/// tables: right when few files match, as for counting and for sorted pages.
pub(crate) fn translate(filter: &FileFilter, project_id: i64) -> SqlFilter {
    build(filter, project_id, Mode::DriveAll)
}

/// Translates `filter` in the form that walks `files` and probes the index tables row by row: right when
/// many files match and rows are read in listing order until a page is full.
pub(crate) fn translate_for_walk(filter: &FileFilter, project_id: i64) -> SqlFilter {
    build(filter, project_id, Mode::Walk)
}

fn build(filter: &FileFilter, project_id: i64, mode: Mode) -> SqlFilter {
    let pid = SqlValue::Integer(project_id);
    let mut b = Builder {
        parts: vec![],
        params: vec![],
        unordered: false,
        mode,
        candidates: vec![],
        project: pid.clone(),
        lead: None,
        sides: vec![],
    };
    b.push("files.project_id = ?", [pid.clone()]);
    let text = |s: &str| SqlValue::Text(s.to_string());
    if let Some(name) = &filter.name {
        b.push("files.name = ?", [text(name)]);
    }
    if let Some(p) = &filter.directory_prefix {
        b.prefix("directory", p);
    }
    if let Some(m) = &filter.mime_type {
        b.push("files.mime_type = ?", [text(m)]);
    }
    if let Some(s) = &filter.source {
        b.push("files.source = ?", [text(s)]);
    }
    b.unordered |= !filter.metadata.is_empty()
        || filter.asset_ids.is_some()
        || filter.labels_any.is_some()
        || filter.labels_all.is_some()
        || filter.geo_location.is_some()
        || filter
            .data_set_ids
            .as_ref()
            .is_some_and(|ids| ids.len() > 1);
    for (key, value) in &filter.metadata {
        b.side(
            "file_metadata",
            "file_seq",
            "{t}.project_id = ? AND {t}.key = ? AND {t}.value = ?",
            [pid.clone(), text(key), text(value)],
            true,
        );
    }
    if let Some(ids) = &filter.asset_ids {
        b.side(
            "file_assets",
            "file_seq",
            &format!(
                "{{t}}.project_id = ? AND {{t}}.asset_id IN ({})",
                Builder::placeholders(ids.len())
            ),
            std::iter::once(pid.clone()).chain(ids.iter().map(|i| SqlValue::Integer(*i))),
            ids.len() == 1,
        );
    }
    // A resolved asset reference (a subtree, a root, externalIds): up to 100,000 ids, bound as one JSON
    // array, since SQLite caps the number of parameters.
    for ids in &filter.asset_sets {
        b.unordered = true;
        if ids.is_empty() {
            b.push("0", []);
            continue;
        }
        let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
        b.side(
            "file_assets",
            "file_seq",
            "{t}.project_id = ? AND {t}.asset_id IN (SELECT value FROM json_each(?))",
            [pid.clone(), text(&list)],
            false,
        );
    }
    if let Some(ids) = &filter.data_set_ids {
        if ids.is_empty() {
            b.push("0", []);
        } else {
            b.push(
                format!(
                    "files.data_set_id IN ({})",
                    Builder::placeholders(ids.len())
                ),
                ids.iter().map(|i| SqlValue::Integer(*i)),
            );
        }
    }
    for (column, range) in [
        ("created_time", &filter.created_time),
        ("last_updated_time", &filter.last_updated_time),
        ("uploaded_time", &filter.uploaded_time),
        ("source_created_time", &filter.source_created_time),
        ("source_modified_time", &filter.source_modified_time),
    ] {
        if let Some(r) = range {
            b.range(column, r);
        }
    }
    if let Some(p) = &filter.external_id_prefix {
        b.prefix("external_id", p);
    }
    if let Some(uploaded) = filter.uploaded {
        b.push("files.uploaded = ?", [SqlValue::Integer(uploaded as i64)]);
    }
    if let Some(labels) = &filter.labels_any {
        b.side(
            "file_labels",
            "file_seq",
            &format!(
                "{{t}}.project_id = ? AND {{t}}.label IN ({})",
                Builder::placeholders(labels.len())
            ),
            std::iter::once(pid.clone()).chain(labels.iter().map(|l| text(l))),
            labels.len() == 1,
        );
    }
    if let Some(labels) = &filter.labels_all {
        let mut distinct = labels.clone();
        distinct.sort();
        distinct.dedup();
        let drives = b.next_drives();
        let label_params: Vec<SqlValue> = std::iter::once(pid.clone())
            .chain(distinct.iter().map(|l| text(l)))
            .collect();
        b.candidates.push(Candidate {
            count_sql: format!(
                "SELECT count(*) FROM (SELECT 1 FROM file_labels WHERE project_id = ? AND label IN ({}) LIMIT ?)",
                Builder::placeholders(distinct.len())
            ),
            params: label_params,
            leads: None,
        });
        let sql = if !drives {
            format!(
                "(SELECT count(*) FROM file_labels WHERE project_id = ? AND label IN ({}) AND file_seq = files.seq) = ?",
                Builder::placeholders(distinct.len())
            )
        } else {
            format!(
                "files.seq IN (SELECT file_seq FROM file_labels WHERE project_id = ? AND label IN ({}) \
                 GROUP BY file_seq HAVING count(*) = ?)",
                Builder::placeholders(distinct.len())
            )
        };
        b.push(
            sql,
            std::iter::once(pid.clone())
                .chain(distinct.iter().map(|l| text(l)))
                .chain([SqlValue::Integer(distinct.len() as i64)]),
        );
    }
    if let Some(member_of) = &filter.within_categories {
        b.push(
            categories_clause(member_of),
            member_of.iter().map(|c| SqlValue::Integer(*c)),
        );
    }
    if let Some(geo) = &filter.geo_location {
        match (geo.relation, geo::BoundingRect::bounding_rect(&geo.shape)) {
            (GeoRelation::Intersects | GeoRelation::Within, Some(rect)) => b.side(
                "file_geo",
                "seq",
                "{t}.max_x >= ? AND {t}.min_x <= ? AND {t}.max_y >= ? AND {t}.min_y <= ?",
                [rect.min().x, rect.max().x, rect.min().y, rect.max().y].map(SqlValue::Real),
                false,
            ),
            _ => b.push("files.geo_location IS NOT NULL", []),
        }
    }
    SqlFilter {
        conditions: b.parts.len() + usize::from(b.lead.is_some()),
        clause: b.parts.join(" AND "),
        params: b.params,
        post: filter.geo_location.as_ref().map(GeoMatcher::new),
        unordered: b.unordered,
        candidates: b.candidates,
        lead: b.lead,
        sides: b.sides,
    }
}

/// The condition of [`FileFilter::within_categories`], with one placeholder per category of `member_of`.
/// `security_categories` is NULL for a file without categories (see `rows.rs`), so a caller who is a
/// member of none tests one column; otherwise the file's categories (at most 100) are read from its JSON
/// and each must be in the set. The test runs on rows another condition (or the listing walk) already
/// chose: it never drives a plan, which keeps the cursor and partition logic unchanged.
fn categories_clause(member_of: &std::collections::BTreeSet<i64>) -> String {
    if member_of.is_empty() {
        return "files.security_categories IS NULL".into();
    }
    format!(
        "(files.security_categories IS NULL OR NOT EXISTS (SELECT 1 FROM \
         json_each(files.security_categories) WHERE value NOT IN ({})))",
        Builder::placeholders(member_of.len())
    )
}

/// Above this many matches left in a walk, a list page walks files in listing order and tests each row;
/// below it, it collects the matching positions through the filter's own index and sorts them. A page then
/// costs at most about this many index entries either way: walking finds `limit` matches within about
/// `limit × total / DEFAULT_PROBE_LIMIT` rows when matches are spread over the listing.
pub const DEFAULT_PROBE_LIMIT: i64 = 10_000;

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

/// How many files each candidate condition lets through, counted through its own index up to `bound`.
/// Each count is an upper bound of what the whole filter matches.
fn candidate_counts(
    conn: &Connection,
    filter: &SqlFilter,
    bound: i64,
) -> Result<Vec<i64>, StoreError> {
    filter
        .candidates
        .iter()
        .map(|c| {
            let mut params = c.params.clone();
            params.push(SqlValue::Integer(bound));
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
    Ok(fewest(&candidate_counts(conn, filter, bound)?))
}

/// One page of the files matching the page's filter, in listing order.
pub(crate) fn list_page(
    conn: &Connection,
    project_id: i64,
    page: &PageRequest,
    probe_limit: i64,
) -> Result<Page, StoreError> {
    let walk = translate_for_walk(&page.filter, project_id);
    let mut window = Window {
        after: page.after.unwrap_or(0),
        partition: page.partition,
    };
    let counts = match walk.unordered {
        true => candidate_counts(conn, &walk, probe_limit)?,
        false => vec![],
    };
    let driver = fewest(&counts).filter(|(_, n)| *n < probe_limit);
    let sorted = driver.is_some();
    let filter = match (driver, leader(&walk, &counts)) {
        (Some((k, _)), _) => build(&page.filter, project_id, Mode::Drive(k)),
        (None, Some(k)) => build(&page.filter, project_id, Mode::Lead(k)),
        (None, None) => walk,
    };
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
            return Err(StoreError::Invalid(Invalid::new(
                "filter.geoLocation",
                format!(
                    "counting needs more than {} s of geometry tests; use a smaller shape or more conditions",
                    crate::domain::GEO_TEST_BUDGET.as_secs()
                ),
            )));
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
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
