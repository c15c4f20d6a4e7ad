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
//! - metadata (`@>` on jsonb), assetIds and labels (`&&`, `@>` on arrays): GIN.
//! - geoLocation: INTERSECTS and WITHIN are pre-filtered by the GiST index on `geo_box` (the bounding box);
//!   DISJOINT by `geo_location IS NOT NULL`; the exact relation is then evaluated in Rust ([`GeoMatcher`]),
//!   within a time budget, as on SQLite.
//! - the caller's security categories ([`FileFilter::within_categories`]): `<@` on the row, never driving.

use tokio_postgres::types::{Json, ToSql};

use crate::domain::{FileFilter, GeoFilter, GeoLocation, GeoMatcher, GeoRelation, TimeRange};

/// A query parameter; `Send` so that queries can be awaited inside `async_trait` methods.
pub(super) type Param = Box<dyn ToSql + Sync + Send>;

/// A filter as a SQL condition on `files` with its parameters, plus what SQL cannot decide.
pub(super) struct PgFilter {
    /// A boolean expression over `files` (columns qualified `files.`), placeholders `$1`… in order.
    pub(super) clause: String,
    /// The values of the placeholders.
    pub(super) params: Vec<Param>,
    /// A spatial condition to check on each row the SQL condition let through ([`PgFilter::post_check`]).
    geo: Option<GeoFilter>,
    /// What is left of the spatial condition's time budget.
    remaining: std::time::Duration,
}

/// The upper end of a prefix range: every string starting with `prefix` sorts below it in byte order
/// (except ones continuing with U+10FFFF itself, which no name or directory holds in practice; the exact
/// `starts_with` keeps the answer right either way, for those inside the range).
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

impl PgFilter {
    /// Translates `filter` for the files of project `project_id`.
    pub(super) fn new(filter: &FileFilter, project_id: i64) -> Self {
        let mut f = PgFilter {
            clause: String::new(),
            params: Vec::new(),
            geo: filter.geo_location.clone(),
            remaining: filter
                .geo_location
                .as_ref()
                .map(|g| g.budget)
                .unwrap_or_default(),
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
        if let Some(ids) = &filter.asset_ids {
            parts.push(format!(
                "files.asset_ids && {}::bigint[]",
                f.bind(ids.clone())
            ));
        }
        for ids in &filter.asset_sets {
            parts.push(format!(
                "files.asset_ids && {}::bigint[]",
                f.bind(ids.clone())
            ));
        }
        if let Some(ids) = &filter.data_set_ids {
            parts.push(match ids.is_empty() {
                true => "false".into(),
                false => format!("files.data_set_id = ANY({}::bigint[])", f.bind(ids.clone())),
            });
        }
        for (column, range) in [
            ("created_time", &filter.created_time),
            ("last_updated_time", &filter.last_updated_time),
            ("uploaded_time", &filter.uploaded_time),
            ("source_created_time", &filter.source_created_time),
            ("source_modified_time", &filter.source_modified_time),
        ] {
            if let Some(r) = range {
                parts.push(f.range(column, r));
            }
        }
        if let Some(p) = &filter.external_id_prefix {
            parts.push(f.prefix("external_id", p));
        }
        if let Some(uploaded) = filter.uploaded {
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
        f
    }

    /// Adds a parameter and returns its placeholder.
    pub(super) fn bind(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
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
