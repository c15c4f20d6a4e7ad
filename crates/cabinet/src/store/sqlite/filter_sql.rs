//! Translation of a [`FileFilter`] into SQL over the `files` table and its index tables; the list and count
//! queries built on it are in `query.rs`.
//!
//! How each condition is served (the planner picks among them; `EXPLAIN QUERY PLAN` checks are in the
//! tests of `query.rs`). Listing order is `seq` order (creation order), and every index ends in `seq`:
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

use rusqlite::types::Value as SqlValue;

use crate::domain::{FileFilter, FileRecord, GeoMatcher, GeoRelation, TimeRange};
use crate::store::filter_sql::{prefix_end, time_ranges};

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
    pub(super) candidates: Vec<Candidate>,
    /// The index-table condition that leads a walk (`Mode::Lead`), left out of `clause`.
    pub(super) lead: Option<Side>,
    /// The index-table conditions, in the order of `candidates` among them; with nothing else in the
    /// filter, a lone one is counted in its own table.
    pub(super) sides: Vec<Side>,
    /// How many conditions `clause` joins (the project's included).
    pub(super) conditions: usize,
}

/// A condition on an index table (file_metadata, file_assets, file_labels, file_geo).
#[derive(Clone)]
pub(super) struct Side {
    pub(super) table: &'static str,
    /// The table's column holding the file's `seq`.
    pub(super) seq_column: &'static str,
    /// The condition, naming the table's columns as `{t}.<column>`; `{p}` before a column marks it as
    /// not to be looked up through an index when the condition probes one file (`EXISTS`).
    cond: String,
    pub(super) params: Vec<SqlValue>,
    /// Whether the matching entries come in `seq` order from the table's index (equalities only).
    pub(super) ordered: bool,
}

impl Side {
    pub(super) fn cond_on(&self, table: &str) -> String {
        self.cond.replace("{p}", "").replace("{t}", table)
    }

    /// The condition as a probe of one file's entries (`… AND file_seq = files.seq`): the columns marked
    /// `{p}` are written `+column`, so SQLite finds the file's few entries through the table's index on
    /// its file column and tests the rest on them, instead of looking every value of a long list up.
    fn probe_on(&self, table: &str) -> String {
        self.cond.replace("{p}", "+").replace("{t}", table)
    }
}

/// A condition that can drive a plan, and how to count (up to a bound) the files it lets through.
pub(super) struct Candidate {
    /// `SELECT count(*) FROM (SELECT 1 … LIMIT ?)`, the bound being the last parameter.
    pub(super) count_sql: String,
    pub(super) params: Vec<SqlValue>,
    /// For an index-table condition whose entries come in listing order: its place in `sides`, so that
    /// it can lead a walk.
    pub(super) leads: Option<usize>,
    /// Whether testing it on each file of a walk is costly (an asset set: each of the file's entries
    /// looked up in the set), so that collecting and sorting its matches pays off for more of them (see
    /// [`super::query::DEFAULT_SET_PROBE_LIMIT`]).
    pub(super) costly_probe: bool,
}

/// How conditions on index tables are written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
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
            costly_probe: false,
        });
        self.sides.push(side.clone());
        if leads && ordered {
            self.lead = Some(side);
            return;
        }
        let sql = if drives {
            format!("files.seq IN (SELECT {seq_column} FROM {table} WHERE {on_table})")
        } else {
            let probe = side.probe_on(table);
            format!("EXISTS (SELECT 1 FROM {table} WHERE {probe} AND {seq_column} = files.seq)")
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
            costly_probe: false,
        });
        self.push(rendered, params);
    }

    fn placeholders(n: usize) -> String {
        vec!["?"; n].join(", ")
    }

    fn prefix(&mut self, column: &str, prefix: &str) {
        let upper = prefix_end(prefix);
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

pub(super) fn build(filter: &FileFilter, project_id: i64, mode: Mode) -> SqlFilter {
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
    // array, since SQLite caps the number of parameters. When it probes each file of a walk, the file's
    // 1–3 entries are found by file_assets_by_file and tested against the list (materialized once per
    // statement); looking each of the list's ids up in the primary key instead costs one b-tree search
    // per id per file (a 1,011-asset subtree took seconds per page at 100,000 files).
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
            "{t}.project_id = ? AND {p}{t}.asset_id IN (SELECT value FROM json_each(?))",
            [pid.clone(), text(&list)],
            false,
        );
        if let Some(set) = b.candidates.last_mut() {
            set.costly_probe = true;
        }
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
    for (column, range) in time_ranges(filter) {
        b.range(column, range);
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
            costly_probe: false,
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
