use serde_json::Value;

use super::{Invalid, MAX_GEO_POINTS};

/// Checks a `geoLocation` value: a GeoJSON Feature (spec §2.4) with a 2-D geometry of type Point,
/// LineString, Polygon, MultiPoint, MultiLineString or MultiPolygon of at most [`MAX_GEO_POINTS`]
/// positions, and an optional `properties` object. (Its size in bytes is [`super::GeoLocation`]'s to check.)
pub fn validate_geo_location(v: &Value) -> Result<(), Invalid> {
    let obj = v
        .as_object()
        .ok_or_else(|| Invalid::new("", "must be a GeoJSON Feature object"))?;
    if obj.get("type").and_then(Value::as_str) != Some("Feature") {
        return Err(Invalid::new("type", "must be \"Feature\""));
    }
    for key in obj.keys() {
        if !matches!(key.as_str(), "type" | "geometry" | "properties") {
            return Err(Invalid::new(key.clone(), "is not a field of a geoLocation"));
        }
    }
    if let Some(p) = obj.get("properties") {
        if !p.is_object() && !p.is_null() {
            return Err(Invalid::new("properties", "must be an object"));
        }
    }
    let geometry = obj
        .get("geometry")
        .ok_or_else(|| Invalid::new("geometry", "is required"))?;
    validate_geometry(geometry, MAX_GEO_POINTS).map_err(|e| e.within("geometry"))
}

/// Checks a bare GeoJSON geometry object of at most `max_positions` positions, as used in `geoLocation`
/// and in filter shapes. Counting stops at the first position over the limit.
pub fn validate_geometry(g: &Value, max_positions: usize) -> Result<(), Invalid> {
    let obj = g
        .as_object()
        .ok_or_else(|| Invalid::new("", "must be an object"))?;
    let kind = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| Invalid::new("type", "is required"))?;
    let coords = obj
        .get("coordinates")
        .ok_or_else(|| Invalid::new("coordinates", "is required"))?;
    let mut count = Count {
        seen: 0,
        max: max_positions,
    };
    let check = match kind {
        "Point" => count.point(coords),
        "LineString" => count.line(coords),
        "Polygon" => count.polygon(coords),
        "MultiPoint" => count.many(coords, Count::point),
        "MultiLineString" => count.many(coords, Count::line),
        "MultiPolygon" => count.many(coords, Count::polygon),
        other => {
            return Err(Invalid::new(
                "type",
                format!("'{other}' is not one of Point, LineString, Polygon, MultiPoint, MultiLineString, MultiPolygon"),
            ))
        }
    };
    check.map_err(|reason| Invalid::new("coordinates", format!("{reason} for a {kind}")))
}

/// Checks positions while counting them against a limit.
struct Count {
    seen: usize,
    max: usize,
}

impl Count {
    fn point(&mut self, v: &Value) -> Result<(), String> {
        self.seen += 1;
        if self.seen > self.max {
            return Err(format!("must have at most {} positions in all", self.max));
        }
        match v.as_array() {
            Some(a) if a.len() == 2 && a.iter().all(|n| n.as_f64().is_some_and(f64::is_finite)) => {
                Ok(())
            }
            _ => Err("a position must be exactly two numbers [x, y]".into()),
        }
    }

    fn positions<'v>(&mut self, v: &'v Value, min: usize) -> Result<&'v Vec<Value>, String> {
        let a = v.as_array().ok_or("must be an array of positions")?;
        if a.len() < min {
            return Err(format!("must have at least {min} positions"));
        }
        a.iter().try_for_each(|p| self.point(p))?;
        Ok(a)
    }

    fn line(&mut self, v: &Value) -> Result<(), String> {
        self.positions(v, 2).map(|_| ())
    }

    fn polygon(&mut self, v: &Value) -> Result<(), String> {
        let rings = v.as_array().ok_or("must be an array of linear rings")?;
        if rings.is_empty() {
            return Err("must have at least one linear ring".into());
        }
        for ring in rings {
            let ring = self
                .positions(ring, 4)
                .map_err(|e| match self.seen > self.max {
                    true => e,
                    false => format!("each linear ring {e}"),
                })?;
            if ring.first() != ring.last() {
                return Err("each linear ring must end where it starts".into());
            }
        }
        Ok(())
    }

    fn many(
        &mut self,
        v: &Value,
        each: fn(&mut Self, &Value) -> Result<(), String>,
    ) -> Result<(), String> {
        v.as_array()
            .ok_or("must be an array")?
            .iter()
            .try_for_each(|item| each(self, item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_each_geometry_type() {
        let square = json!([[[0, 0], [1, 0], [1, 1], [0, 0]]]);
        for g in [
            json!({"type": "Point", "coordinates": [10.0, 59.0]}),
            json!({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}),
            json!({"type": "Polygon", "coordinates": square}),
            json!({"type": "MultiPoint", "coordinates": [[0, 0]]}),
            json!({"type": "MultiLineString", "coordinates": [[[0, 0], [1, 1]]]}),
            json!({"type": "MultiPolygon", "coordinates": [square]}),
        ] {
            let f = json!({"type": "Feature", "geometry": g, "properties": {}});
            assert_eq!(validate_geo_location(&f), Ok(()), "{f}");
        }
    }

    #[test]
    fn rejects_malformed_geojson_with_the_field() {
        let bad = [
            (
                json!({"type": "Point", "geometry": {"type": "Point", "coordinates": [1, 2]}}),
                "type",
            ),
            (json!({"type": "Feature"}), "geometry"),
            (
                json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [1]}}),
                "geometry.coordinates",
            ),
            (
                json!({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [2, 2]]]}}),
                "geometry.coordinates",
            ),
            (
                json!({"type": "Feature", "geometry": {"type": "Circle", "coordinates": [1, 2]}}),
                "geometry.type",
            ),
        ];
        for (v, field) in bad {
            assert_eq!(validate_geo_location(&v).unwrap_err().field, field, "{v}");
        }
    }

    #[test]
    fn counts_every_position_against_the_limit() {
        let ring = |n: usize| {
            let mut r: Vec<Value> = (0..n - 1).map(|i| json!([i, i * i])).collect();
            r.push(json!([0, 0]));
            Value::Array(r)
        };
        let polygon = |rings: Vec<Value>| json!({"type": "Polygon", "coordinates": rings});
        assert_eq!(
            validate_geometry(&polygon(vec![ring(6), ring(4)]), 10),
            Ok(())
        );
        let e = validate_geometry(&polygon(vec![ring(6), ring(5)]), 10).unwrap_err();
        assert_eq!(e.field, "coordinates");
        assert!(
            e.reason.starts_with("must have at most 10 positions"),
            "{e}"
        );
        let multi =
            json!({"type": "MultiPoint", "coordinates": vec![json!([1, 2]); MAX_GEO_POINTS + 1]});
        let feature = json!({"type": "Feature", "geometry": multi});
        assert_eq!(
            validate_geo_location(&feature).unwrap_err().field,
            "geometry.coordinates"
        );
    }
}
