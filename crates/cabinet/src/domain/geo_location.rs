//! A file's `geoLocation`, held as the compact JSON text it is stored and served as.

use geo::Geometry;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use super::{
    geometry_from_json, validate_geo_location, Invalid, MAX_GEO_LOCATION_BYTES,
    MAX_GEO_LOCATION_REQUEST_BYTES,
};

/// A file's `geoLocation`: a GeoJSON Feature within every limit (at most [`MAX_GEO_LOCATION_BYTES`] of
/// compact JSON, at most [`super::MAX_GEO_POINTS`] positions), held as that JSON text.
///
/// Text rather than a `serde_json::Value` tree, because a tree of small numbers takes up to about 30 times
/// the memory of its text. As text, a file in memory is no bigger than its JSON, so a page of files is
/// bounded by [`super::MAX_FILE_JSON_BYTES`] per file; it is read from the store and written to responses
/// without being parsed.
#[derive(Clone)]
pub struct GeoLocation(Box<RawValue>);

impl GeoLocation {
    /// Checks a geoLocation from a request and keeps it as compact JSON. Errors name the field relative
    /// to the geoLocation (`geometry.coordinates`; the empty field for its size).
    pub fn parse(v: &Value) -> Result<Self, Invalid> {
        validate_geo_location(v)?;
        let text = serde_json::to_string(v)
            .map_err(|e| Invalid::new("", format!("cannot be written as JSON: {e}")))?;
        if text.len() > MAX_GEO_LOCATION_BYTES {
            return Err(too_large(text.len()));
        }
        Self::from_stored(text).map_err(|e| Invalid::new("", format!("is not valid JSON: {e}")))
    }

    /// A geoLocation as a request spelled it. Text longer than [`MAX_GEO_LOCATION_REQUEST_BYTES`] is
    /// refused before it is parsed, so an oversized one never becomes a tree in memory.
    pub fn parse_text(text: &str) -> Result<Self, Invalid> {
        if text.len() > MAX_GEO_LOCATION_REQUEST_BYTES {
            return Err(Invalid::new(
                "",
                format!(
                    "must be at most {MAX_GEO_LOCATION_BYTES} bytes as compact JSON; the request holds {} \
                     bytes of it",
                    text.len()
                ),
            ));
        }
        let v: Value = serde_json::from_str(text)
            .map_err(|e| Invalid::new("", format!("is not valid JSON: {e}")))?;
        Self::parse(&v)
    }

    /// A geoLocation as the store holds it: checked when it was written, so only its syntax is checked.
    pub fn from_stored(text: String) -> Result<Self, serde_json::Error> {
        RawValue::from_string(text).map(Self)
    }

    /// The compact JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The JSON as a tree, for callers that need to look inside.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.as_str()).unwrap_or(Value::Null)
    }

    /// The Feature's geometry, read without building the `properties` tree; `None` when it is not a
    /// geometry (which a checked geoLocation always is).
    pub fn geometry(&self) -> Option<Geometry<f64>> {
        #[derive(Deserialize)]
        struct Feature {
            geometry: Value,
        }
        let feature: Feature = serde_json::from_str(self.as_str()).ok()?;
        geometry_from_json(&feature.geometry)
    }
}

fn too_large(bytes: usize) -> Invalid {
    Invalid::new(
        "",
        format!("must be at most {MAX_GEO_LOCATION_BYTES} bytes as compact JSON, got {bytes}"),
    )
}

impl PartialEq for GeoLocation {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl std::fmt::Debug for GeoLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for GeoLocation {
    /// Written verbatim into JSON output.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn feature_with_properties(bytes: usize) -> Value {
        json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2]},
               "properties": {"p": "x".repeat(bytes)}})
    }

    #[test]
    fn keeps_compact_json_up_to_the_byte_limit() {
        let overhead = serde_json::to_string(&feature_with_properties(0))
            .unwrap()
            .len();
        let largest = feature_with_properties(MAX_GEO_LOCATION_BYTES - overhead);
        let g = GeoLocation::parse(&largest).unwrap();
        assert_eq!(g.as_str().len(), MAX_GEO_LOCATION_BYTES);
        assert_eq!(g.to_value(), largest);
        assert_eq!(serde_json::to_string(&g).unwrap(), g.as_str());
        let e = GeoLocation::parse(&feature_with_properties(
            MAX_GEO_LOCATION_BYTES - overhead + 1,
        ))
        .unwrap_err();
        assert_eq!(e.field, "");
        assert!(e.reason.contains("at most 65536 bytes"), "{e}");
    }

    #[test]
    fn measures_compact_json_not_the_request_spelling() {
        let overhead = serde_json::to_string(&feature_with_properties(0))
            .unwrap()
            .len();
        let largest = feature_with_properties(MAX_GEO_LOCATION_BYTES - overhead);
        let pretty = serde_json::to_string_pretty(&largest).unwrap() + &" ".repeat(1000);
        assert!(pretty.len() > MAX_GEO_LOCATION_BYTES);
        assert_eq!(
            GeoLocation::parse_text(&pretty).unwrap().as_str().len(),
            MAX_GEO_LOCATION_BYTES
        );
        let huge = " ".repeat(MAX_GEO_LOCATION_REQUEST_BYTES + 1);
        assert!(GeoLocation::parse_text(&huge)
            .unwrap_err()
            .reason
            .contains("at most"));
    }

    #[test]
    fn reads_the_geometry_without_the_properties() {
        let g = GeoLocation::parse(&feature_with_properties(10)).unwrap();
        assert_eq!(
            g.geometry(),
            Some(Geometry::Point(geo::Point::new(1.0, 2.0)))
        );
    }
}
