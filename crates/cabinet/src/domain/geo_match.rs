//! The spatial condition of a filter, prepared for testing many files against one shape.
//!
//! [`GeoFilter::matches`] is the reference: it relates each file to the shape from scratch, which builds
//! the shape's edge index and self-intersections again for every file. [`GeoMatcher`] gives the same
//! answers for less:
//! 1. the bounding boxes decide most files in constant time, whatever the shape's size: boxes apart mean
//!    not INTERSECTS, not WITHIN, but DISJOINT; a file's box not inside the shape's means not WITHIN;
//! 2. only the files left are related to the shape, prepared once (`geo::PreparedGeometry`) on first use.
//!
//! The time spent on exact tests (preparing included) is added up against the filter's budget; the
//! caller asks [`GeoMatcher::exhausted`] and stops.

use std::cell::{Cell, OnceCell};
use std::time::{Duration, Instant};

use geo::{BoundingRect, Geometry, PreparedGeometry, Rect, Relate};

use super::{GeoFilter, GeoLocation, GeoRelation};

/// A [`GeoFilter`] ready to test many files. Not `Send`: build one per query where its rows are read.
pub struct GeoMatcher {
    relation: GeoRelation,
    shape: Geometry<f64>,
    shape_box: Option<Rect<f64>>,
    prepared: OnceCell<PreparedGeometry<'static, f64>>,
    budget: Duration,
    spent: Cell<Duration>,
}

impl GeoMatcher {
    /// Prepares `filter`; the costly part (the shape's relate graph) waits for the first file that needs it.
    pub fn new(filter: &GeoFilter) -> Self {
        Self {
            relation: filter.relation,
            shape: filter.shape.clone(),
            shape_box: filter.shape.bounding_rect(),
            prepared: OnceCell::new(),
            budget: filter.budget,
            spent: Cell::new(Duration::ZERO),
        }
    }

    /// Whether the exact tests so far took the whole budget: the caller should stop testing files.
    pub fn exhausted(&self) -> bool {
        self.spent.get() >= self.budget
    }

    /// Whether a file with `geo_location` matches: the same answer as [`GeoFilter::matches`].
    pub fn matches(&self, geo_location: Option<&GeoLocation>) -> bool {
        let Some(geometry) = geo_location.and_then(GeoLocation::geometry) else {
            return false;
        };
        if let (Some(file_box), Some(shape_box)) = (geometry.bounding_rect(), self.shape_box) {
            let apart = file_box.max().x < shape_box.min().x
                || file_box.min().x > shape_box.max().x
                || file_box.max().y < shape_box.min().y
                || file_box.min().y > shape_box.max().y;
            let inside = file_box.min().x >= shape_box.min().x
                && file_box.max().x <= shape_box.max().x
                && file_box.min().y >= shape_box.min().y
                && file_box.max().y <= shape_box.max().y;
            match self.relation {
                GeoRelation::Intersects if apart => return false,
                GeoRelation::Within if !inside => return false,
                GeoRelation::Disjoint if apart => return true,
                _ => {}
            }
        }
        let began = Instant::now();
        let shape = self
            .prepared
            .get_or_init(|| PreparedGeometry::from(self.shape.clone()));
        let holds = self.relation.holds(&geometry.relate(shape));
        self.spent.set(self.spent.get() + began.elapsed());
        holds
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FileFilter;
    use serde_json::{json, Value};

    fn feature(geometry: Value) -> GeoLocation {
        GeoLocation::parse(&json!({"type": "Feature", "geometry": geometry})).unwrap()
    }

    /// A star-shaped polygon of `n` vertices around (0, 0): many edges, a box much larger than its area.
    fn star(n: usize) -> Value {
        let mut ring: Vec<Value> = (0..n)
            .map(|i| {
                let a = i as f64 / n as f64 * std::f64::consts::TAU;
                let r = if i % 2 == 0 { 10.0 } else { 3.0 };
                json!([r * a.cos(), r * a.sin()])
            })
            .collect();
        ring.push(ring[0].clone());
        json!({"type": "Polygon", "coordinates": [ring]})
    }

    /// Files of every geometry type on a grid over and around the star, some on its vertices.
    fn files() -> Vec<GeoLocation> {
        let mut out = vec![];
        for i in -4..=4 {
            for j in -4..=4 {
                let (x, y) = (i as f64 * 3.0, j as f64 * 3.0);
                out.push(feature(json!({"type": "Point", "coordinates": [x, y]})));
                out.push(feature(
                    json!({"type": "LineString", "coordinates": [[x, y], [x + 1.5, y + 0.5]]}),
                ));
                out.push(feature(json!({"type": "Polygon", "coordinates": [[[x, y], [x + 1.0, y], [x + 1.0, y + 1.0], [x, y]]]})));
                out.push(feature(
                    json!({"type": "MultiPoint", "coordinates": [[x, y], [-x, y + 0.5]]}),
                ));
            }
        }
        out.push(feature(
            json!({"type": "Point", "coordinates": [10.0, 0.0]}),
        ));
        out.push(feature(json!({"type": "MultiPoint", "coordinates": []})));
        out
    }

    #[test]
    fn answers_as_the_reference_for_every_relation() {
        let files = files();
        for relation in ["INTERSECTS", "DISJOINT", "WITHIN"] {
            for (shape, empty) in [
                (star(100), false),
                (json!({"type": "Point", "coordinates": [3.0, 3.0]}), false),
                (
                    json!({"type": "LineString", "coordinates": [[-20, -20], [20, 20]]}),
                    false,
                ),
                (json!({"type": "MultiPolygon", "coordinates": []}), true),
            ] {
                let filter = FileFilter::from_json(
                    json!({"geoLocation": {"relation": relation, "shape": shape}})
                        .as_object()
                        .unwrap(),
                )
                .unwrap()
                .geo_location
                .unwrap();
                let matcher = GeoMatcher::new(&filter);
                let mut matched = 0;
                for f in &files {
                    let expected = filter.matches(Some(f));
                    assert_eq!(matcher.matches(Some(f)), expected, "{relation} {f:?}");
                    matched += usize::from(expected);
                }
                assert!(!matcher.matches(None));
                assert!(
                    !matcher.exhausted(),
                    "{relation}: 5 s for a few hundred tests"
                );
                if relation == "DISJOINT" || (relation == "INTERSECTS" && !empty) {
                    assert!(matched > 0, "{relation}: the test should match something");
                }
            }
        }
    }

    #[test]
    fn the_budget_counts_exact_tests_only() {
        let mut filter = FileFilter::from_json(
            json!({"geoLocation": {"relation": "within", "shape": star(100)}})
                .as_object()
                .unwrap(),
        )
        .unwrap()
        .geo_location
        .unwrap();
        filter.budget = Duration::from_nanos(1);
        let matcher = GeoMatcher::new(&filter);
        // Decided by the boxes: no exact test, nothing spent.
        let far = feature(json!({"type": "Point", "coordinates": [50, 50]}));
        assert!(!matcher.matches(Some(&far)));
        assert!(!matcher.exhausted());
        let near = feature(json!({"type": "Point", "coordinates": [1, 1]}));
        assert!(matcher.matches(Some(&near)));
        assert!(matcher.exhausted());
        // Still exact once exhausted: the budget only tells the caller to stop.
        assert!(!matcher.matches(Some(&far)));
        assert!(matcher.matches(Some(&near)));
    }
}
