//! The files filter of list, search and aggregate (spec §6): every condition present must hold.
//!
//! [`FileFilter::matches`] is the reference meaning of a filter; the stores translate filters into their
//! own queries, and property tests check them against it.

use std::collections::{BTreeMap, BTreeSet};

use geo::relate::IntersectionMatrix;
use geo::{Geometry, Relate};
use serde_json::{Map, Value};

use super::*;

/// An inclusive time range; either bound may be absent. Files without the field never match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    /// Smallest matching value.
    pub min: Option<i64>,
    /// Largest matching value.
    pub max: Option<i64>,
}

impl TimeRange {
    /// Whether `t` is set and inside the range.
    pub fn contains(&self, t: Option<i64>) -> bool {
        t.is_some_and(|t| {
            self.min.is_none_or(|min| t >= min) && self.max.is_none_or(|max| t <= max)
        })
    }
}

/// How a file's geoLocation must relate to the filter's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeoRelation {
    /// They share at least one point.
    Intersects,
    /// They share no point.
    Disjoint,
    /// The file's geometry lies inside the shape.
    Within,
}

impl GeoRelation {
    /// Whether the relation holds for the DE-9IM matrix of a file's geometry (first) and the shape.
    pub fn holds(self, m: &IntersectionMatrix) -> bool {
        match self {
            GeoRelation::Intersects => m.is_intersects(),
            GeoRelation::Disjoint => m.is_disjoint(),
            GeoRelation::Within => m.is_within(),
        }
    }
}

/// A spatial condition.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoFilter {
    /// The relation that must hold.
    pub relation: GeoRelation,
    /// The shape, as sent (GeoJSON geometry).
    pub shape_json: Value,
    /// The shape, parsed.
    pub shape: Geometry<f64>,
    /// How long the exact tests of one request may take in all ([`GEO_TEST_BUDGET`] unless changed): a
    /// list page then ends early with a cursor, a search returns what it found, a count is refused.
    pub budget: std::time::Duration,
}

impl GeoFilter {
    /// Whether a file with `geo_location` matches. Files without one never match. The reference meaning:
    /// it relates the geometries from scratch; [`GeoMatcher`] answers the same, faster, for many files.
    pub fn matches(&self, geo_location: Option<&GeoLocation>) -> bool {
        let Some(geometry) = geo_location.and_then(GeoLocation::geometry) else {
            return false;
        };
        self.relation.holds(&geometry.relate(&self.shape))
    }
}

/// A parsed files filter. Absent conditions are `None`; an empty filter matches every file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileFilter {
    /// Exact, case-sensitive name.
    pub name: Option<String>,
    /// Case-sensitive prefix of the directory; files without a directory never match.
    pub directory_prefix: Option<String>,
    /// Exact mimeType.
    pub mime_type: Option<String>,
    /// Every key present with exactly this value.
    pub metadata: BTreeMap<String, String>,
    /// Linked to at least one of these assets.
    pub asset_ids: Option<Vec<i64>>,
    /// The asset references of the wire (`assetExternalIds`, `rootAssetIds`, `assetSubtreeIds`), which
    /// the API layer resolves into [`FileFilter::asset_sets`] before the filter reaches a store; the
    /// stores and [`FileFilter::matches`] ignore them.
    pub asset_refs: Vec<AssetRefs>,
    /// Each set: linked to at least one of its assets (up to 100,000 ids each).
    pub asset_sets: Vec<Vec<i64>>,
    /// In one of these data sets.
    pub data_set_ids: Option<Vec<i64>>,
    /// Exact source.
    pub source: Option<String>,
    /// Created within.
    pub created_time: Option<TimeRange>,
    /// Last updated within.
    pub last_updated_time: Option<TimeRange>,
    /// Content uploaded within.
    pub uploaded_time: Option<TimeRange>,
    /// Created in the source system within.
    pub source_created_time: Option<TimeRange>,
    /// Modified in the source system within.
    pub source_modified_time: Option<TimeRange>,
    /// Case-sensitive prefix of the externalId.
    pub external_id_prefix: Option<String>,
    /// Uploaded or not.
    pub uploaded: Option<bool>,
    /// Has at least one of these labels.
    pub labels_any: Option<Vec<String>>,
    /// Has all of these labels.
    pub labels_all: Option<Vec<String>>,
    /// A spatial condition.
    pub geo_location: Option<GeoFilter>,
    /// Only files whose security categories all lie in this set (files without categories always do).
    /// Not a condition of the wire: the caller's `MEMBEROF` membership, set by
    /// [`FileFilter::restrict_categories`].
    pub within_categories: Option<BTreeSet<i64>>,
}

/// An asset condition of the files filter that names assets the API layer must look up.
#[derive(Debug, Clone, PartialEq)]
pub enum AssetRefs {
    /// `assetExternalIds`: linked to one of these.
    ExternalIds(Vec<String>),
    /// `rootAssetIds`: linked to an asset whose root is one of these.
    Roots(Vec<Identifier>),
    /// `assetSubtreeIds`: linked to one of these or to one of their descendants.
    Subtrees(Vec<Identifier>),
}

/// Most ids in an assetIds or dataSetIds condition.
pub const MAX_FILTER_IDS: usize = 100;

impl FileFilter {
    /// Narrows the filter to files in `allowed` data sets (a caller's data-set scope): the intersection
    /// with the caller's own `dataSetIds` condition, or `allowed` when it has none. An empty result
    /// matches nothing, and so does a file without a data set.
    pub fn restrict_data_sets(&mut self, allowed: &std::collections::BTreeSet<i64>) {
        let ids = match self.data_set_ids.take() {
            Some(wanted) => wanted
                .into_iter()
                .filter(|id| allowed.contains(id))
                .collect(),
            None => allowed.iter().copied().collect(),
        };
        self.data_set_ids = Some(ids);
    }

    /// Narrows the filter to files whose security categories are all in `member_of` (the categories a
    /// caller is a member of; empty: only files without categories). Narrowing twice keeps the
    /// intersection.
    pub fn restrict_categories(&mut self, member_of: &BTreeSet<i64>) {
        let ids = match self.within_categories.take() {
            Some(before) => before.intersection(member_of).copied().collect(),
            None => member_of.clone(),
        };
        self.within_categories = Some(ids);
    }

    /// Whether `f` satisfies every condition: the reference semantics of the filter.
    pub fn matches(&self, f: &FileRecord) -> bool {
        let eq = |want: &Option<String>, have: &Option<String>| {
            want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
        };
        let prefix = |want: &Option<String>, have: &Option<String>| {
            want.as_ref()
                .is_none_or(|w| have.as_ref().is_some_and(|h| h.starts_with(w.as_str())))
        };
        let range = |want: &Option<TimeRange>, have: Option<i64>| {
            want.as_ref().is_none_or(|r| r.contains(have))
        };
        self.name.as_ref().is_none_or(|n| *n == f.name)
            && prefix(&self.directory_prefix, &f.directory)
            && eq(&self.mime_type, &f.mime_type)
            && self
                .metadata
                .iter()
                .all(|(k, v)| f.metadata.get(k) == Some(v))
            && self
                .asset_ids
                .as_ref()
                .is_none_or(|ids| ids.iter().any(|a| f.asset_ids.contains(a)))
            && self
                .asset_sets
                .iter()
                .all(|ids| ids.iter().any(|a| f.asset_ids.contains(a)))
            && self
                .data_set_ids
                .as_ref()
                .is_none_or(|ids| f.data_set_id.is_some_and(|d| ids.contains(&d)))
            && eq(&self.source, &f.source)
            && range(&self.created_time, Some(f.created_time))
            && range(&self.last_updated_time, Some(f.last_updated_time))
            && range(&self.uploaded_time, f.uploaded_time)
            && range(&self.source_created_time, f.source_created_time)
            && range(&self.source_modified_time, f.source_modified_time)
            && prefix(&self.external_id_prefix, &f.external_id)
            && self.uploaded.is_none_or(|u| u == f.uploaded())
            && self
                .labels_any
                .as_ref()
                .is_none_or(|ls| ls.iter().any(|l| f.labels.contains(l)))
            && self
                .labels_all
                .as_ref()
                .is_none_or(|ls| ls.iter().all(|l| f.labels.contains(l)))
            && self
                .geo_location
                .as_ref()
                .is_none_or(|g| g.matches(f.geo_location.as_ref()))
            && self
                .within_categories
                .as_ref()
                .is_none_or(|member_of| f.security_categories.iter().all(|c| member_of.contains(c)))
    }

    /// Parses the `filter` object of list, search and aggregate. Errors name the field as
    /// `filter.<field>`.
    pub fn from_json(filter: &Map<String, Value>) -> Result<Self, Invalid> {
        parse(filter).map_err(|e| e.within("filter"))
    }

    /// Parses the query parameters of `GET /files`. Arrays come as JSON text (`assetIds=[1,2]`) or as
    /// comma-separated values; times as `minCreatedTime`/`maxCreatedTime` and so on.
    pub fn from_query(params: &BTreeMap<String, String>) -> Result<Self, Invalid> {
        let mut map = Map::new();
        for (key, raw) in params {
            let value = match key.as_str() {
                "name" | "mimeType" | "source" | "externalIdPrefix" => Value::String(raw.clone()),
                "uploaded" => match raw.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => return Err(Invalid::new(key.clone(), "must be true or false")),
                },
                "assetIds"
                | "dataSetIds"
                | "assetExternalIds"
                | "rootAssetIds"
                | "assetSubtreeIds"
                | "assetSubtreeExternalIds" => query_array(key, raw)?,
                k if time_param(k).is_some() => {
                    let (field, bound) = time_param(k).unwrap_or_default();
                    let n: i64 = raw
                        .parse()
                        .map_err(|_| Invalid::new(key.clone(), "must be an integer"))?;
                    let entry = map
                        .entry(field.to_string())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(o) = entry {
                        o.insert(bound.to_string(), Value::from(n));
                    }
                    continue;
                }
                _ => {
                    return Err(Invalid::new(
                        key.clone(),
                        "is not a query parameter of GET /files",
                    ))
                }
            };
            let field = if key == "assetSubtreeExternalIds" {
                "assetSubtreeIds"
            } else {
                key.as_str()
            };
            map.insert(field.to_string(), value);
        }
        parse(&map)
    }
}

fn time_param(key: &str) -> Option<(&'static str, &'static str)> {
    const FIELDS: [(&str, &str); 5] = [
        ("CreatedTime", "createdTime"),
        ("LastUpdatedTime", "lastUpdatedTime"),
        ("UploadedTime", "uploadedTime"),
        ("SourceCreatedTime", "sourceCreatedTime"),
        ("SourceModifiedTime", "sourceModifiedTime"),
    ];
    let (bound, rest) = if let Some(rest) = key.strip_prefix("min") {
        ("min", rest)
    } else {
        ("max", key.strip_prefix("max")?)
    };
    FIELDS
        .iter()
        .find(|(suffix, _)| *suffix == rest)
        .map(|(_, field)| (*field, bound))
}

fn query_array(key: &str, raw: &str) -> Result<Value, Invalid> {
    if raw.trim_start().starts_with('[') {
        return serde_json::from_str(raw).map_err(|_| Invalid::new(key, "must be a JSON array"));
    }
    Ok(Value::Array(
        raw.split(',')
            .map(|part| {
                part.trim()
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| Value::String(part.trim().into()))
            })
            .collect(),
    ))
}

fn parse(filter: &Map<String, Value>) -> Result<FileFilter, Invalid> {
    let mut f = FileFilter::default();
    for (key, value) in filter {
        if value.is_null() {
            continue;
        }
        let field = key.as_str();
        match field {
            "name" => f.name = Some(string(field, value, MAX_NAME)?),
            "directoryPrefix" => f.directory_prefix = Some(string(field, value, MAX_DIRECTORY)?),
            "mimeType" => f.mime_type = Some(string(field, value, MAX_MIME_TYPE)?),
            "source" => f.source = Some(string(field, value, MAX_SOURCE)?),
            "externalIdPrefix" => {
                f.external_id_prefix = Some(string(field, value, MAX_EXTERNAL_ID)?)
            }
            "uploaded" => {
                f.uploaded = Some(
                    value
                        .as_bool()
                        .ok_or_else(|| Invalid::new(field, "must be true or false"))?,
                )
            }
            "metadata" => f.metadata = metadata(value)?,
            "assetIds" => f.asset_ids = Some(ids(field, value, 1)?),
            "dataSetIds" => f.data_set_ids = Some(data_set_ids(value)?),
            "createdTime" => f.created_time = Some(time_range(field, value)?),
            "lastUpdatedTime" => f.last_updated_time = Some(time_range(field, value)?),
            "uploadedTime" => f.uploaded_time = Some(time_range(field, value)?),
            "sourceCreatedTime" => f.source_created_time = Some(time_range(field, value)?),
            "sourceModifiedTime" => f.source_modified_time = Some(time_range(field, value)?),
            "labels" => (f.labels_any, f.labels_all) = labels(value)?,
            "geoLocation" => f.geo_location = Some(geo_filter(value)?),
            "assetExternalIds" => f
                .asset_refs
                .push(AssetRefs::ExternalIds(asset_external_ids(value)?)),
            "rootAssetIds" => f
                .asset_refs
                .push(AssetRefs::Roots(asset_identifiers(field, value)?)),
            "assetSubtreeIds" => f
                .asset_refs
                .push(AssetRefs::Subtrees(asset_identifiers(field, value)?)),
            _ => return Err(Invalid::new(field, "is not a field of the files filter")),
        }
    }
    Ok(f)
}

fn string(field: &str, v: &Value, max: usize) -> Result<String, Invalid> {
    let s = v
        .as_str()
        .ok_or_else(|| Invalid::new(field, "must be a string"))?;
    check_max_chars(field, Some(s), max)?;
    Ok(s.to_string())
}

fn metadata(v: &Value) -> Result<BTreeMap<String, String>, Invalid> {
    let obj = v
        .as_object()
        .ok_or_else(|| Invalid::new("metadata", "must be an object of strings"))?;
    let mut out = Metadata::new();
    for (k, v) in obj {
        let v = v
            .as_str()
            .ok_or_else(|| Invalid::new(format!("metadata.{k}"), "must be a string"))?;
        out.insert(k.clone(), v.to_string());
    }
    check_metadata(&out)?;
    Ok(out)
}

fn ids(field: &str, v: &Value, min: usize) -> Result<Vec<i64>, Invalid> {
    let arr = v
        .as_array()
        .ok_or_else(|| Invalid::new(field, "must be an array of ids"))?;
    if arr.len() < min || arr.len() > MAX_FILTER_IDS {
        return Err(Invalid::new(
            field,
            format!("must have {min} to {MAX_FILTER_IDS} items"),
        ));
    }
    let mut out = Vec::with_capacity(arr.len());
    for (i, item) in arr.iter().enumerate() {
        let id = item
            .as_i64()
            .ok_or_else(|| Invalid::new(format!("{field}[{i}]"), "must be an integer id"))?;
        check_id(&format!("{field}[{i}]"), id)?;
        if out.contains(&id) {
            return Err(Invalid::new(format!("{field}[{i}]"), "is given twice"));
        }
        out.push(id);
    }
    Ok(out)
}

fn asset_external_ids(v: &Value) -> Result<Vec<String>, Invalid> {
    let field = "assetExternalIds";
    let arr = v
        .as_array()
        .filter(|a| (1..=MAX_FILTER_IDS).contains(&a.len()))
        .ok_or_else(|| {
            Invalid::new(
                field,
                format!("must be an array of 1 to {MAX_FILTER_IDS} externalIds"),
            )
        })?;
    arr.iter()
        .enumerate()
        .map(|(i, x)| {
            let x = string(&format!("{field}[{i}]"), x, MAX_EXTERNAL_ID)?;
            if x.is_empty() {
                return Err(Invalid::new(format!("{field}[{i}]"), "must not be empty"));
            }
            Ok(x)
        })
        .collect()
}

/// `[{"id": n} | {"externalId": "..."}]` (GET's plain ids and externalIds too).
fn asset_identifiers(field: &str, v: &Value) -> Result<Vec<Identifier>, Invalid> {
    let arr = v
        .as_array()
        .filter(|a| (1..=MAX_FILTER_IDS).contains(&a.len()))
        .ok_or_else(|| {
            Invalid::new(
                field,
                format!("must be an array of 1 to {MAX_FILTER_IDS} {{\"id\": n}} or {{\"externalId\": ...}}"),
            )
        })?;
    arr.iter()
        .enumerate()
        .map(|(i, item)| {
            let at = format!("{field}[{i}]");
            let ident = match item {
                Value::Number(n) => Identifier::Id(
                    n.as_i64()
                        .ok_or_else(|| Invalid::new(at.clone(), "must be an integer id"))?,
                ),
                Value::String(x) => Identifier::ExternalId(x.clone()),
                Value::Object(o) if o.len() == 1 && o.contains_key("id") => Identifier::Id(
                    o["id"]
                        .as_i64()
                        .ok_or_else(|| Invalid::new(at.clone(), "must be an integer id"))?,
                ),
                Value::Object(o) if o.len() == 1 && o.contains_key("externalId") => {
                    Identifier::ExternalId(string(&at, &o["externalId"], MAX_EXTERNAL_ID)?)
                }
                _ => {
                    return Err(Invalid::new(
                        at,
                        "must be {\"id\": n} or {\"externalId\": \"...\"}",
                    ))
                }
            };
            ident.check().map_err(|e| e.within(&at))?;
            Ok(ident)
        })
        .collect()
}

fn data_set_ids(v: &Value) -> Result<Vec<i64>, Invalid> {
    let arr = v
        .as_array()
        .ok_or_else(|| Invalid::new("dataSetIds", "must be an array of {\"id\": n}"))?;
    let plain: Vec<Value> = arr
        .iter()
        .enumerate()
        .map(|(i, item)| {
            match item {
                Value::Object(o) if o.len() == 1 && o.contains_key("id") => Ok(o["id"].clone()),
                // The API resolves `{"externalId"}` items into ids before parsing (api/routes/data_set_refs.rs);
                // one left here had other keys beside it.
                Value::Object(o) if o.contains_key("externalId") => Err(Invalid::new(
                    format!("dataSetIds[{i}].externalId"),
                    "must be {\"externalId\": \"…\"} alone",
                )),
                Value::Number(_) => Ok(item.clone()),
                _ => Err(Invalid::new(
                    format!("dataSetIds[{i}]"),
                    "must be {\"id\": n}",
                )),
            }
        })
        .collect::<Result<_, _>>()?;
    ids("dataSetIds", &Value::Array(plain), 0)
}

fn time_range(field: &str, v: &Value) -> Result<TimeRange, Invalid> {
    let obj = v
        .as_object()
        .ok_or_else(|| Invalid::new(field, "must be {\"min\": ms, \"max\": ms}"))?;
    let mut r = TimeRange::default();
    for (k, bound) in obj {
        if bound.is_null() {
            continue;
        }
        let n = bound.as_i64().ok_or_else(|| {
            Invalid::new(
                format!("{field}.{k}"),
                "must be an integer (ms since epoch)",
            )
        })?;
        match k.as_str() {
            "min" => r.min = Some(n),
            "max" => r.max = Some(n),
            _ => return Err(Invalid::new(format!("{field}.{k}"), "is not min or max")),
        }
    }
    Ok(r)
}

type LabelConditions = (Option<Vec<String>>, Option<Vec<String>>);

fn labels(v: &Value) -> Result<LabelConditions, Invalid> {
    let obj = v.as_object().ok_or_else(|| {
        Invalid::new(
            "labels",
            "must be {\"containsAny\": [...]} or {\"containsAll\": [...]}",
        )
    })?;
    let mut out: LabelConditions = (None, None);
    for (k, list) in obj {
        let field = format!("labels.{k}");
        let arr = list
            .as_array()
            .ok_or_else(|| Invalid::new(&*field, "must be an array of {\"externalId\"}"))?;
        if arr.is_empty() || arr.len() > MAX_LABELS {
            return Err(Invalid::new(
                &*field,
                format!("must have 1 to {MAX_LABELS} items"),
            ));
        }
        let mut refs = Vec::with_capacity(arr.len());
        for (i, item) in arr.iter().enumerate() {
            let x = item
                .get("externalId")
                .and_then(Value::as_str)
                .filter(|_| item.as_object().is_some_and(|o| o.len() == 1))
                .ok_or_else(|| {
                    Invalid::new(format!("{field}[{i}]"), "must be {\"externalId\": \"…\"}")
                })?;
            check_external_id(&format!("{field}[{i}].externalId"), x)?;
            refs.push(x.to_string());
        }
        match k.as_str() {
            "containsAny" => out.0 = Some(refs),
            "containsAll" => out.1 = Some(refs),
            _ => return Err(Invalid::new(field, "must be containsAny or containsAll")),
        }
    }
    if out.0.is_none() && out.1.is_none() {
        return Err(Invalid::new("labels", "needs containsAny or containsAll"));
    }
    Ok(out)
}

fn geo_filter(v: &Value) -> Result<GeoFilter, Invalid> {
    let obj = v
        .as_object()
        .ok_or_else(|| Invalid::new("geoLocation", "must be {\"relation\", \"shape\"}"))?;
    for key in obj.keys() {
        if key != "relation" && key != "shape" {
            return Err(Invalid::new(
                format!("geoLocation.{key}"),
                "is not relation or shape",
            ));
        }
    }
    let relation = match obj
        .get("relation")
        .and_then(Value::as_str)
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("INTERSECTS") => GeoRelation::Intersects,
        Some("DISJOINT") => GeoRelation::Disjoint,
        Some("WITHIN") => GeoRelation::Within,
        _ => {
            return Err(Invalid::new(
                "geoLocation.relation",
                "must be INTERSECTS, DISJOINT or WITHIN",
            ))
        }
    };
    let shape_json = obj
        .get("shape")
        .cloned()
        .ok_or_else(|| Invalid::new("geoLocation.shape", "is required"))?;
    validate_geometry(&shape_json, MAX_GEO_FILTER_POINTS)
        .map_err(|e| e.within("geoLocation.shape"))?;
    let shape = geometry_from_json(&shape_json)
        .ok_or_else(|| Invalid::new("geoLocation.shape", "is not a valid geometry"))?;
    Ok(GeoFilter {
        relation,
        shape_json,
        shape,
        budget: GEO_TEST_BUDGET,
    })
}

/// A GeoJSON geometry object as a `geo` geometry; `None` when it is not valid GeoJSON.
pub fn geometry_from_json(v: &Value) -> Option<Geometry<f64>> {
    use geo::{Coord, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon};
    fn coord(v: &Value) -> Option<Coord<f64>> {
        let a = v.as_array()?;
        Some(Coord {
            x: a.first()?.as_f64()?,
            y: a.get(1)?.as_f64()?,
        })
    }
    fn line(v: &Value) -> Option<LineString<f64>> {
        Some(LineString::new(
            v.as_array()?.iter().map(coord).collect::<Option<_>>()?,
        ))
    }
    fn polygon(v: &Value) -> Option<Polygon<f64>> {
        let rings = v.as_array()?;
        let exterior = line(rings.first()?)?;
        let interiors = rings[1..].iter().map(line).collect::<Option<_>>()?;
        Some(Polygon::new(exterior, interiors))
    }
    let coords = v.get("coordinates")?;
    Some(match v.get("type")?.as_str()? {
        "Point" => Geometry::Point(Point(coord(coords)?)),
        "LineString" => Geometry::LineString(line(coords)?),
        "Polygon" => Geometry::Polygon(polygon(coords)?),
        "MultiPoint" => Geometry::MultiPoint(MultiPoint(
            coords
                .as_array()?
                .iter()
                .map(|c| coord(c).map(Point))
                .collect::<Option<_>>()?,
        )),
        "MultiLineString" => Geometry::MultiLineString(MultiLineString(
            coords.as_array()?.iter().map(line).collect::<Option<_>>()?,
        )),
        "MultiPolygon" => Geometry::MultiPolygon(MultiPolygon(
            coords
                .as_array()?
                .iter()
                .map(polygon)
                .collect::<Option<_>>()?,
        )),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_json(v: Value) -> Result<FileFilter, Invalid> {
        FileFilter::from_json(v.as_object().unwrap())
    }

    #[test]
    fn a_data_set_scope_intersects_the_callers_condition() {
        let allowed = [1, 3].into();
        let mut none = FileFilter::default();
        none.restrict_data_sets(&allowed);
        assert_eq!(none.data_set_ids, Some(vec![1, 3]));
        let mut some = parse_json(json!({"dataSetIds": [{"id": 2}, {"id": 3}]})).unwrap();
        some.restrict_data_sets(&allowed);
        assert_eq!(some.data_set_ids, Some(vec![3]));
        let mut disjoint = parse_json(json!({"dataSetIds": [{"id": 2}]})).unwrap();
        disjoint.restrict_data_sets(&allowed);
        assert_eq!(
            disjoint.data_set_ids,
            Some(vec![]),
            "an empty intersection matches nothing"
        );
    }

    #[test]
    fn a_category_membership_keeps_files_whose_categories_it_covers() {
        let file = |categories: Vec<i64>| {
            FileRecord::from_spec(
                1,
                FileSpec {
                    name: "f".into(),
                    security_categories: Some(categories),
                    ..Default::default()
                },
                0,
            )
        };
        let mut none = FileFilter::default();
        none.restrict_categories(&BTreeSet::new());
        assert!(none.matches(&file(vec![])));
        assert!(!none.matches(&file(vec![1])));
        let mut one = FileFilter::default();
        one.restrict_categories(&[1].into());
        assert!(one.matches(&file(vec![])) && one.matches(&file(vec![1])));
        assert!(!one.matches(&file(vec![1, 2])));
        one.restrict_categories(&[2].into());
        assert_eq!(
            one.within_categories,
            Some(BTreeSet::new()),
            "narrowing intersects"
        );
        assert!(
            FileFilter::from_json(&Map::new())
                .unwrap()
                .within_categories
                .is_none(),
            "not a wire condition"
        );
    }

    #[test]
    fn parses_what_the_python_sdk_sends() {
        let f = parse_json(json!({
            "name": "seed1.txt", "mimeType": "text/plain", "metadata": {"k": "1"}, "assetIds": [1],
            "dataSetIds": [{"id": 9}], "labels": {"containsAny": [{"externalId": "L1"}]}, "source": "probe",
            "createdTime": {"min": 0, "max": 4611686018427387904_i64}, "lastUpdatedTime": {"min": 0},
            "uploadedTime": {"min": 0}, "sourceModifiedTime": {"min": 1}, "externalIdPrefix": "seed",
            "directoryPrefix": "/se", "uploaded": true,
            "geoLocation": {"relation": "within", "shape": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}
        }))
        .unwrap();
        assert_eq!(f.data_set_ids, Some(vec![9]));
        assert_eq!(f.labels_any, Some(vec!["L1".to_string()]));
        assert_eq!(f.geo_location.unwrap().relation, GeoRelation::Within);
    }

    #[test]
    fn unsupported_and_malformed_filters_name_the_field() {
        let cases = [
            (
                json!({"assetExternalIds": [""]}),
                "filter.assetExternalIds[0]",
            ),
            (json!({"rootAssetIds": []}), "filter.rootAssetIds"),
            (
                json!({"assetSubtreeIds": [{"id": 0}]}),
                "filter.assetSubtreeIds[0].id",
            ),
            (
                json!({"dataSetIds": [{"externalId": "ds"}]}),
                "filter.dataSetIds[0].externalId",
            ),
            (json!({"assetIds": []}), "filter.assetIds"),
            (
                json!({"assetIds": (1..=101).collect::<Vec<i64>>()}),
                "filter.assetIds",
            ),
            (json!({"assetIds": [1, 1]}), "filter.assetIds[1]"),
            (json!({"name": 3}), "filter.name"),
            (
                json!({"createdTime": {"from": 1}}),
                "filter.createdTime.from",
            ),
            (
                json!({"labels": {"containsAny": []}}),
                "filter.labels.containsAny",
            ),
            (
                json!({"geoLocation": {"relation": "touches", "shape": {"type": "Point", "coordinates": [1, 2]}}}),
                "filter.geoLocation.relation",
            ),
            (json!({"bogus": 1}), "filter.bogus"),
        ];
        for (v, field) in cases {
            let e = parse_json(v.clone()).unwrap_err();
            assert_eq!(e.field, field, "{v}: {e}");
        }
        let refs = parse_json(
            json!({"assetExternalIds": ["a"], "assetSubtreeIds": [{"externalId": "b"}, 7]}),
        )
        .unwrap()
        .asset_refs;
        assert_eq!(
            refs,
            vec![
                AssetRefs::ExternalIds(vec!["a".into()]),
                AssetRefs::Subtrees(vec![Identifier::ExternalId("b".into()), Identifier::Id(7)])
            ]
        );
    }

    #[test]
    fn geo_relations_follow_de9im() {
        let square = json!({"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]});
        let geo = |v: Value| GeoLocation::parse(&v).unwrap();
        let inside =
            geo(json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [5, 5]}}));
        let outside =
            geo(json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [20, 5]}}));
        let across = geo(
            json!({"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[5, 5], [20, 5]]}}),
        );
        let filter = |relation: &str| {
            parse_json(json!({"geoLocation": {"relation": relation, "shape": square}}))
                .unwrap()
                .geo_location
                .unwrap()
        };
        assert!(filter("WITHIN").matches(Some(&inside)));
        assert!(!filter("WITHIN").matches(Some(&across)));
        assert!(filter("intersects").matches(Some(&across)));
        assert!(!filter("Intersects").matches(Some(&outside)));
        assert!(filter("disjoint").matches(Some(&outside)));
        assert!(!filter("DISJOINT").matches(None));
    }

    #[test]
    fn query_parameters_become_the_same_filter() {
        let params: BTreeMap<String, String> = [
            ("assetIds", "[1,2]"),
            ("minCreatedTime", "5"),
            ("maxCreatedTime", "9"),
            ("uploaded", "true"),
            ("dataSetIds", "[{\"id\":3}]"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let f = FileFilter::from_query(&params).unwrap();
        assert_eq!(f.asset_ids, Some(vec![1, 2]));
        assert_eq!(
            f.created_time,
            Some(TimeRange {
                min: Some(5),
                max: Some(9)
            })
        );
        assert_eq!(f.uploaded, Some(true));
        assert_eq!(f.data_set_ids, Some(vec![3]));
        let bad: BTreeMap<String, String> = [("metadata".to_string(), "{}".to_string())]
            .into_iter()
            .collect();
        assert!(FileFilter::from_query(&bad).is_err());
    }
}
