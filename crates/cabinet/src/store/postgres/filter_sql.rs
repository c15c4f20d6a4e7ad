//! Translation of a [`FileFilter`] into a PostgreSQL condition on `files`, the twin of
//! `store/sqlite/filter_sql.rs`.
//!
//! How each condition is served (PostgreSQL's planner combines them, by bitmap AND or by walking one index
//! and testing the rest; the EXPLAIN checks are in tests/pg_queries.rs). Listing order is `seq` order:
//! - name, mimeType, source, dataSetIds, uploaded: equality (`= ANY` for data sets) on a b-tree
//!   `(project_id, <field>, seq)`, which also yields listing order for the keyset cursor.
//! - directoryPrefix, externalIdPrefix: a range `[prefix, prefix + U+10FFFF)` in byte order ("C", whatever
//!   the database's collation) on `(project_id, directory COLLATE "C", seq)` /
//!   `(project_id, external_id COLLATE "C")`, then an exact `starts_with`.
//! - time ranges: a range on `(project_id, <time>, seq)`.
//! - metadata (`@>` on jsonb), labels (`&&`, `@>` on arrays): GIN.
//! - assetIds and the asset sets (subtrees, roots, externalIds): `seq IN` the set's entries of
//!   `file_assets (project_id, asset_id, seq)`; alone, the page is read from them
//!   ([`PgFilter::assets_alone`]).
//! - geoLocation: INTERSECTS and WITHIN are pre-filtered by the GiST index on `geo_box` (the bounding box);
//!   DISJOINT by `geo_location IS NOT NULL`; the exact relation is then evaluated in Rust ([`GeoMatcher`]),
//!   within a time budget, as on SQLite.
//! - the caller's security categories ([`FileFilter::within_categories`]): `<@` on the row, never driving.

use tokio_postgres::types::{Json, ToSql, Type};

use crate::domain::{FileFilter, GeoFilter, GeoLocation, GeoMatcher, GeoRelation, TimeRange};
use crate::store::filter_sql::{prefix_end, time_ranges};

/// A query parameter; `Send` so that queries can be awaited inside `async_trait` methods.
pub(super) type Param = Box<dyn ToSql + Sync + Send>;

/// The PostgreSQL type a filter sends a value as, so that a statement can go out with its values in
/// one round trip (`query_typed`) instead of being prepared first: the type the server would infer for
/// the placeholder where the filter puts it.
pub(super) trait PgType {
    /// The parameter's type.
    fn pg_type() -> Type;
}

macro_rules! pg_type {
    ($($t:ty => $ty:expr),* $(,)?) => {
        $(impl PgType for $t {
            fn pg_type() -> Type {
                $ty
            }
        })*
    };
}

pg_type! {
    i64 => Type::INT8,
    f64 => Type::FLOAT8,
    bool => Type::BOOL,
    String => Type::TEXT,
    Vec<i64> => Type::INT8_ARRAY,
    Vec<String> => Type::TEXT_ARRAY,
    Json<serde_json::Value> => Type::JSONB,
}

/// A filter as a SQL condition on `files` with its parameters, plus what SQL cannot decide.
pub(super) struct PgFilter {
    /// A boolean expression over `files` (columns qualified `files.`), placeholders `$1`… in order.
    pub(super) clause: String,
    /// The values of the placeholders.
    pub(super) params: Vec<Param>,
    /// Their types, in the same order.
    types: Vec<Type>,
    /// A spatial condition to check on each row the SQL condition let through ([`PgFilter::post_check`]).
    geo: Option<GeoFilter>,
    /// What is left of the spatial condition's time budget.
    remaining: std::time::Duration,
    /// Whether a page is better read in two steps ([`PgFilter::reads_late`]).
    late: bool,
    /// When one asset set is the whole condition: the placeholders of the project and of the set
    /// ([`PgFilter::assets_alone`]).
    assets_alone: Option<(String, String)>,
}

/// Whether `f` has no condition but its asset sets (assetIds, and the resolved asset references).
fn only_assets(f: &FileFilter) -> bool {
    let rest = FileFilter {
        asset_ids: None,
        asset_refs: Vec::new(),
        asset_sets: Vec::new(),
        ..f.clone()
    };
    rest == FileFilter::default()
}

/// See [`PgFilter::reads_late`]: one range condition, alone but for the project.
fn reads_late(f: &FileFilter) -> bool {
    let ordered = f.name.is_some()
        || f.mime_type.is_some()
        || f.source.is_some()
        || f.data_set_ids.as_ref().is_some_and(|ids| ids.len() <= 1);
    let needs_row = !f.metadata.is_empty()
        || f.asset_ids.is_some()
        || f.labels_any.is_some()
        || f.labels_all.as_ref().is_some_and(|l| !l.is_empty())
        || f.within_categories.is_some()
        || f.geo_location.is_some()
        || (f.uploaded.is_some() && !(f.uploaded == Some(true) && f.uploaded_time.is_some()));
    let ranges = [
        f.directory_prefix.is_some(),
        f.external_id_prefix.is_some(),
        f.created_time.is_some(),
        f.last_updated_time.is_some(),
        f.uploaded_time.is_some(),
        f.source_created_time.is_some(),
        f.source_modified_time.is_some(),
        f.data_set_ids.as_ref().is_some_and(|ids| ids.len() > 1),
    ]
    .into_iter()
    .filter(|r| *r)
    .count();
    ranges == 1 && !ordered && !needs_row
}

impl PgFilter {
    /// Translates `filter` for the files of project `project_id`.
    pub(super) fn new(filter: &FileFilter, project_id: i64) -> Self {
        let mut f = PgFilter {
            clause: String::new(),
            params: Vec::new(),
            types: Vec::new(),
            geo: filter.geo_location.clone(),
            remaining: filter
                .geo_location
                .as_ref()
                .map(|g| g.budget)
                .unwrap_or_default(),
            late: false,
            assets_alone: None,
        };
        let mut parts: Vec<String> = Vec::new();
        let pid = f.bind(project_id);
        parts.push(format!("files.project_id = {pid}"));
        if let Some(name) = &filter.name {
            parts.push(format!("files.name = {}", f.bind(name.clone())));
        }
        if let Some(p) = &filter.directory_prefix {
            parts.push(f.prefix("directory", p));
        }
        if let Some(m) = &filter.mime_type {
            parts.push(format!("files.mime_type = {}", f.bind(m.clone())));
        }
        if let Some(s) = &filter.source {
            parts.push(format!("files.source = {}", f.bind(s.clone())));
        }
        if !filter.metadata.is_empty() {
            let pairs: serde_json::Map<String, serde_json::Value> = filter
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            let p = f.bind(Json(serde_json::Value::Object(pairs)));
            parts.push(format!("files.metadata @> {p}::jsonb"));
        }
        // assetIds and each resolved asset set: the files linked to one of the set's assets, from
        // file_assets (migration 0008) by its primary key.
        let sets: Vec<&Vec<i64>> = filter.asset_ids.iter().chain(&filter.asset_sets).collect();
        let alone = sets.len() == 1 && only_assets(filter);
        for ids in sets {
            let set = f.bind(ids.clone());
            if alone {
                f.assets_alone = Some((pid.clone(), set.clone()));
            }
            parts.push(format!(
                "files.seq IN (SELECT fa.seq FROM file_assets AS fa \
                 WHERE fa.project_id = {pid} AND fa.asset_id = ANY({set}::bigint[]))"
            ));
        }
        if let Some(ids) = &filter.data_set_ids {
            // One data set is an equality, which the planner walks in listing order on
            // `(project_id, data_set_id, seq)`; `= ANY` of one element it does not.
            parts.push(match ids.as_slice() {
                [] => "false".into(),
                [one] => format!("files.data_set_id = {}", f.bind(*one)),
                _ => format!("files.data_set_id = ANY({}::bigint[])", f.bind(ids.clone())),
            });
        }
        for (column, range) in time_ranges(filter) {
            parts.push(f.range(column, range));
        }
        if let Some(p) = &filter.external_id_prefix {
            parts.push(f.prefix("external_id", p));
        }
        // `uploaded` is `uploaded_time IS NOT NULL`, which a range on uploadedTime already holds: leaving the
        // redundant `uploaded = true` out keeps the range answerable from its index alone.
        let implied = filter.uploaded == Some(true) && filter.uploaded_time.is_some();
        if let Some(uploaded) = filter.uploaded.filter(|_| !implied) {
            parts.push(format!("files.uploaded = {}", f.bind(uploaded)));
        }
        if let Some(labels) = &filter.labels_any {
            parts.push(format!(
                "files.labels && {}::text[]",
                f.bind(labels.clone())
            ));
        }
        // Having all of no labels holds for every file, even one without labels (NULL).
        if let Some(labels) = filter.labels_all.as_ref().filter(|l| !l.is_empty()) {
            parts.push(format!(
                "files.labels @> {}::text[]",
                f.bind(labels.clone())
            ));
        }
        if let Some(member_of) = &filter.within_categories {
            // Empty lists are stored as NULL (files.rs), so a file without categories is always in.
            parts.push(match member_of.is_empty() {
                true => "files.security_categories IS NULL".into(),
                false => {
                    let ids: Vec<i64> = member_of.iter().copied().collect();
                    format!(
                        "(files.security_categories IS NULL OR files.security_categories <@ {}::bigint[])",
                        f.bind(ids)
                    )
                }
            });
        }
        if let Some(geo) = &filter.geo_location {
            match (geo.relation, geo::BoundingRect::bounding_rect(&geo.shape)) {
                (GeoRelation::Intersects | GeoRelation::Within, Some(rect)) => {
                    let (x1, y1) = (f.bind(rect.min().x), f.bind(rect.min().y));
                    let (x2, y2) = (f.bind(rect.max().x), f.bind(rect.max().y));
                    parts.push(format!(
                        "files.geo_box && box(point({x1}, {y1}), point({x2}, {y2}))"
                    ));
                }
                _ => parts.push("files.geo_location IS NOT NULL".into()),
            }
        }
        f.clause = parts.join(" AND ");
        f.late = reads_late(filter);
        f
    }

    /// Whether a page is read in two steps: first the `seq` of its files from an index alone (an
    /// index-only scan), then those rows by primary key. Worth it when the condition is one range (a
    /// prefix, a time range, several data sets) whose matches come out of its b-tree in another order
    /// than `seq`: the planner then collects every match and sorts them, and reading each whole row
    /// for that (thousands of heap fetches for a page of 1000) is what costs. Not when an equality walks
    /// a b-tree in listing order already (the rows are then read once, in order), nor when another
    /// condition needs the row anyway (GIN, categories, location).
    pub(super) fn reads_late(&self) -> bool {
        self.late
    }

    /// When one asset set (assetIds, a subtree, roots, externalIds) is the whole condition, the
    /// placeholders of the project id and of the set: a page is then the first `seq`s of the set's
    /// entries in file_assets (an index-only scan of its primary key, deduplicated, the top n kept), and
    /// only those files are read; a count is `count(DISTINCT seq)` of the entries. Both read the entries
    /// of the set's assets and no file that does not match. With other conditions the set is a
    /// `seq IN (…)` condition like any other, and the planner chooses what drives.
    pub(super) fn assets_alone(&self) -> Option<(&str, &str)> {
        self.assets_alone
            .as_ref()
            .map(|(p, s)| (p.as_str(), s.as_str()))
    }

    /// Adds a parameter and returns its placeholder.
    pub(super) fn bind<T: ToSql + PgType + Sync + Send + 'static>(&mut self, value: T) -> String {
        self.params.push(Box::new(value));
        self.types.push(T::pg_type());
        format!("${}", self.params.len())
    }

    /// The parameters with their types, for `query_typed`.
    pub(super) fn typed_refs(&self) -> Vec<(&(dyn ToSql + Sync), Type)> {
        self.params
            .iter()
            .zip(&self.types)
            .map(|(p, t)| (p.as_ref() as &(dyn ToSql + Sync), t.clone()))
            .collect()
    }

    /// The parameters as the driver takes them.
    pub(super) fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }

    fn prefix(&mut self, column: &str, prefix: &str) -> String {
        let low = self.bind(prefix.to_string());
        let high = self.bind(prefix_end(prefix));
        format!(
            "files.{column} IS NOT NULL AND (files.{column} COLLATE \"C\") >= {low} \
             AND (files.{column} COLLATE \"C\") < {high} AND starts_with(files.{column}, {low})"
        )
    }

    fn range(&mut self, column: &str, r: &TimeRange) -> String {
        let mut sql = format!("files.{column} IS NOT NULL");
        if let Some(min) = r.min {
            sql.push_str(&format!(" AND files.{column} >= {}", self.bind(min)));
        }
        if let Some(max) = r.max {
            sql.push_str(&format!(" AND files.{column} <= {}", self.bind(max)));
        }
        sql
    }

    /// Tests the locations of the rows the SQL condition let through, in order, against the spatial
    /// condition: one verdict per row tested, and whether the time budget ran out (then the rows after the
    /// last verdict were not tested). A [`GeoMatcher`] is not `Send`, so one lives for each call, between
    /// two awaits; the budget carries over from call to call.
    pub(super) fn post_check<'a>(
        &mut self,
        locations: impl IntoIterator<Item = Option<&'a GeoLocation>>,
    ) -> (Vec<bool>, bool) {
        let Some(geo) = &self.geo else {
            return (locations.into_iter().map(|_| true).collect(), false);
        };
        let started = std::time::Instant::now();
        let mut shape = geo.clone();
        shape.budget = self.remaining;
        let matcher = GeoMatcher::new(&shape);
        let mut verdicts = Vec::new();
        // At least one row is tested per call, so that a walk always moves on.
        let mut exhausted = false;
        for location in locations {
            verdicts.push(matcher.matches(location));
            if matcher.exhausted() {
                exhausted = true;
                break;
            }
        }
        self.remaining = self.remaining.saturating_sub(started.elapsed());
        (verdicts, exhausted || self.remaining.is_zero())
    }

    /// Whether the filter has a condition that SQL does not decide.
    pub(super) fn has_post(&self) -> bool {
        self.geo.is_some()
    }
}
