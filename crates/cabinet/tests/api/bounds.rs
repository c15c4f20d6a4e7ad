//! Every field of a file is bounded, on every path that writes it, and so are the shapes of geometry
//! filters and the size of pages.

use cabinet::domain::{MAX_GEO_FILTER_POINTS, MAX_GEO_LOCATION_BYTES, MAX_GEO_POINTS};
use serde_json::{json, Value};

use crate::helpers::*;

/// A Feature whose compact JSON is exactly `bytes` long (a Point, padded in `properties`).
fn geo_of_bytes(bytes: usize) -> Value {
    let mut g = json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [10.5, 59.5]},
                       "properties": {"note": ""}});
    let overhead = serde_json::to_string(&g).unwrap().len();
    g["properties"]["note"] = Value::String("n".repeat(bytes - overhead));
    g
}

/// A Feature with a MultiPoint of `n` positions.
fn geo_of_points(n: usize) -> Value {
    let positions: Vec<Value> = (0..n).map(|i| json!([i % 180, i % 90])).collect();
    json!({"type": "Feature", "geometry": {"type": "MultiPoint", "coordinates": positions}})
}

#[tokio::test]
async fn a_geo_location_over_its_limits_is_refused_on_every_path() {
    let app = TestApp::spawn().await;
    let at_limit = geo_of_bytes(MAX_GEO_LOCATION_BYTES);
    let created = app
        .create(json!({"name": "a", "externalId": "a", "geoLocation": at_limit}))
        .await;
    assert_eq!(created["geoLocation"], at_limit);
    app.create(json!({"name": "p", "geoLocation": geo_of_points(MAX_GEO_POINTS)}))
        .await;

    let too_big = geo_of_bytes(MAX_GEO_LOCATION_BYTES + 1);
    // Over the request-text limit (256 KiB), refused before it is parsed.
    let big = geo_of_bytes(300 << 10);
    let too_many = geo_of_points(MAX_GEO_POINTS + 1);
    for (geo, field) in [
        (&too_big, "geoLocation: must be at most 65536 bytes"),
        (&big, "geoLocation: must be at most 65536 bytes"),
        (
            &too_many,
            "geoLocation.geometry.coordinates: must have at most 2000 positions",
        ),
    ] {
        for path in [
            "/files",
            "/files?overwrite=true",
            "/files/initmultipartupload?parts=1",
        ] {
            let r = app
                .post(
                    path,
                    json!({"name": "b", "externalId": "a", "geoLocation": geo}),
                )
                .await;
            let message = assert_error(&r, 400)["message"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(message.starts_with(field), "{path}: {message}");
        }
        let r = app
            .post(
                "/files/update",
                json!({"items": [{"externalId": "a", "update": {"geoLocation": {"set": geo}}}]}),
            )
            .await;
        let message = assert_error(&r, 400)["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            message.starts_with(&format!("items[0].update.{field}")),
            "{message}"
        );
    }
    // The 29 MiB of the report: too large a body for a create (413), too large an update item (400).
    let huge = geo_of_bytes(29 << 20);
    for path in ["/files", "/files/initmultipartupload?parts=1"] {
        let r = app
            .post(path, json!({"name": "b", "geoLocation": huge}))
            .await;
        assert_error(&r, 413);
    }
    let r = app
        .post(
            "/files/update",
            json!({"items": [{"externalId": "a", "update": {"geoLocation": {"set": huge}}}]}),
        )
        .await;
    let message = assert_error(&r, 400)["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.starts_with("items[0]: must be at most 1048576 bytes"),
        "{message}"
    );
    // Nothing changed.
    let r = app.retrieve(json!({"externalId": "a"})).await;
    assert_eq!(r.body["items"][0]["geoLocation"], at_limit);
    assert_eq!(r.body["items"][0]["name"], "a");
}

/// A polygon approximating a circle of `radius` around `center`, with `n` positions (the last closes it).
fn circle(center: (f64, f64), radius: f64, n: usize) -> Value {
    let mut ring: Vec<Value> = (0..n - 1)
        .map(|i| {
            let a = i as f64 / (n - 1) as f64 * std::f64::consts::TAU;
            json!([center.0 + radius * a.cos(), center.1 + radius * a.sin()])
        })
        .collect();
    ring.push(ring[0].clone());
    json!({"type": "Polygon", "coordinates": [ring]})
}

#[tokio::test]
async fn geometry_filters_have_a_bounded_shape_and_stay_exact() {
    let app = TestApp::spawn().await;
    // Points on a grid, at distances from (0, 0) that are clearly inside or outside a circle of radius 10.
    let mut inside = vec![];
    let mut outside = vec![];
    for i in -7..=7 {
        for j in -7..=7 {
            let (x, y) = (i as f64 * 2.0 + 0.3, j as f64 * 2.0 + 0.1);
            let d = (x * x + y * y).sqrt();
            if (d - 10.0).abs() < 0.5 {
                continue;
            }
            let f = app
                .create(json!({"name": format!("{i},{j}"), "geoLocation":
                    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]}}}))
                .await;
            let id = f["id"].as_i64().unwrap();
            if d < 10.0 {
                inside.push(id)
            } else {
                outside.push(id)
            }
        }
    }
    inside.sort();
    outside.sort();
    let shape = circle((0.0, 0.0), 10.0, MAX_GEO_FILTER_POINTS);
    for (relation, expected) in [
        ("within", &inside),
        ("intersects", &inside),
        ("disjoint", &outside),
    ] {
        for path in ["/files/list", "/files/search"] {
            let r = app
                .post(
                    path,
                    json!({"limit": 1000, "filter": {"geoLocation": {"relation": relation, "shape": shape}}}),
                )
                .await;
            assert_eq!(r.status, 200, "{r:?}");
            let mut got: Vec<i64> = r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["id"].as_i64().unwrap())
                .collect();
            got.sort();
            assert_eq!(&got, expected, "{relation} on {path}");
        }
    }
    let r = app
        .post(
            "/files/aggregate",
            json!({"filter": {"geoLocation": {"relation": "within", "shape": shape}}}),
        )
        .await;
    assert_eq!(r.body["items"][0]["count"], inside.len(), "{r:?}");

    let too_many = circle((0.0, 0.0), 10.0, MAX_GEO_FILTER_POINTS + 1);
    for path in ["/files/list", "/files/search", "/files/aggregate"] {
        let r = app
            .post(
                path,
                json!({"filter": {"geoLocation": {"relation": "within", "shape": too_many}}}),
            )
            .await;
        let message = assert_error(&r, 400)["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            message.starts_with(
                "filter.geoLocation.shape.coordinates: must have at most 5000 positions"
            ),
            "{path}: {message}"
        );
    }
}

#[tokio::test]
async fn request_bodies_are_bounded_by_what_the_endpoint_can_take() {
    let app = TestApp::spawn().await;
    let over = "x".repeat(1 << 20);
    for (path, body) in [
        ("/files", json!({"name": "a", "source": over})),
        ("/files/list", json!({"filter": {"name": over}})),
        ("/files/search", json!({"search": {"name": over}})),
        ("/files/aggregate", json!({"filter": {"name": over}})),
    ] {
        assert_error(&app.post(path, body).await, 413);
    }
    let many = "x".repeat(4 << 20);
    for path in ["/files/byids", "/files/delete", "/files/downloadlink"] {
        let r = app
            .post(path, json!({"items": [{"externalId": many}]}))
            .await;
        assert_error(&r, 413);
    }
    // Below those bounds, the limits of the fields answer.
    let r = app
        .post("/files", json!({"name": "a", "source": "x".repeat(1000)}))
        .await;
    assert!(assert_error(&r, 400)["message"]
        .as_str()
        .unwrap()
        .starts_with("source"));
}
