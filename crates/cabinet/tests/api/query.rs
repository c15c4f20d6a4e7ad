use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

async fn corpus(app: &TestApp) -> Vec<Value> {
    let square =
        |x: f64| json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, x]}});
    let mut files = Vec::new();
    files.push(app.upload(json!({"name": "a.txt", "externalId": "doc-a", "mimeType": "text/plain", "directory": "/docs/a",
        "metadata": {"site": "oslo", "kind": "report"}, "assetIds": [1, 2], "dataSetId": 10, "source": "sap",
        "labels": [{"externalId": "L1"}], "geoLocation": square(1.0), "sourceCreatedTime": 100}), b"a").await);
    files.push(app.create(json!({"name": "b.pdf", "externalId": "doc-b", "mimeType": "application/pdf", "directory": "/docs/b",
        "metadata": {"site": "bergen"}, "assetIds": [2], "dataSetId": 20, "labels": [{"externalId": "L1"}, {"externalId": "L2"}],
        "geoLocation": square(50.0), "sourceCreatedTime": 200})).await);
    files.push(app.create(json!({"name": "c.txt", "externalId": "other-c", "mimeType": "text/plain", "directory": "/misc"})).await);
    files
}

fn ids(r: &Reply) -> Vec<i64> {
    let mut ids: Vec<i64> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_i64().unwrap())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut v: Vec<i64>) -> Vec<i64> {
    v.sort();
    v
}

#[tokio::test]
async fn list_applies_every_filter_kind() {
    let app = TestApp::spawn().await;
    let files = corpus(&app).await;
    let id = |i: usize| files[i]["id"].as_i64().unwrap();
    let cases = vec![
        (json!({"name": "a.txt"}), vec![id(0)]),
        (json!({"directoryPrefix": "/docs"}), vec![id(0), id(1)]),
        (json!({"mimeType": "text/plain"}), vec![id(0), id(2)]),
        (
            json!({"metadata": {"site": "oslo", "kind": "report"}}),
            vec![id(0)],
        ),
        (
            json!({"metadata": {"site": "oslo", "kind": "memo"}}),
            vec![],
        ),
        (json!({"assetIds": [2, 99]}), vec![id(0), id(1)]),
        (json!({"dataSetIds": [{"id": 20}]}), vec![id(1)]),
        (json!({"source": "sap"}), vec![id(0)]),
        (json!({"sourceCreatedTime": {"min": 150}}), vec![id(1)]),
        (
            json!({"createdTime": {"min": 0}}),
            vec![id(0), id(1), id(2)],
        ),
        (json!({"uploadedTime": {"min": 0}}), vec![id(0)]),
        (json!({"externalIdPrefix": "doc-"}), vec![id(0), id(1)]),
        (json!({"uploaded": false}), vec![id(1), id(2)]),
        (
            json!({"labels": {"containsAny": [{"externalId": "L2"}, {"externalId": "L9"}]}}),
            vec![id(1)],
        ),
        (
            json!({"labels": {"containsAll": [{"externalId": "L1"}, {"externalId": "L2"}]}}),
            vec![id(1)],
        ),
        (
            json!({"geoLocation": {"relation": "within", "shape": {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]}}}),
            vec![id(0)],
        ),
        (
            json!({"geoLocation": {"relation": "DISJOINT", "shape": {"type": "Point", "coordinates": [1, 1]}}}),
            vec![id(1)],
        ),
        (
            json!({"mimeType": "text/plain", "directoryPrefix": "/docs"}),
            vec![id(0)],
        ),
        (json!({}), vec![id(0), id(1), id(2)]),
    ];
    for (filter, expected) in cases {
        let r = app.post("/files/list", json!({"filter": filter})).await;
        assert_eq!(r.status, StatusCode::OK, "{filter}: {r:?}");
        assert_eq!(ids(&r), sorted(expected.clone()), "{filter}");
        let count = app
            .post("/files/aggregate", json!({"filter": filter}))
            .await;
        assert_eq!(
            count.body,
            json!({"items": [{"count": expected.len()}]}),
            "{filter}"
        );
    }
}

#[tokio::test]
async fn get_files_takes_filters_as_query_parameters() {
    let app = TestApp::spawn().await;
    let files = corpus(&app).await;
    let r = app.get("/files?mimeType=text/plain&uploaded=true").await;
    assert_eq!(ids(&r), vec![files[0]["id"].as_i64().unwrap()]);
    let r = app
        .get("/files?assetIds=%5B2%5D&minSourceCreatedTime=150")
        .await;
    assert_eq!(ids(&r), vec![files[1]["id"].as_i64().unwrap()]);
    let r = app.get("/files?externalIdPrefix=other").await;
    assert_eq!(ids(&r), vec![files[2]["id"].as_i64().unwrap()]);
    assert_error(&app.get("/files?directoryPrefix=/docs").await, 400);
    // An asset that does not exist is a 400 naming it.
    let e = assert_error(&app.get("/files?rootAssetIds=%5B1%5D").await, 400);
    assert_eq!(e["missing"], json!([{"id": 1}]));
}

#[tokio::test]
async fn malformed_filters_are_400_naming_the_field() {
    let app = TestApp::spawn().await;
    for (filter, field) in [
        (json!({"name": 5}), "filter.name"),
        (json!({"assetIds": []}), "filter.assetIds"),
        (
            json!({"assetIds": (1..=101).collect::<Vec<i64>>()}),
            "filter.assetIds",
        ),
        (
            json!({"createdTime": {"min": "yesterday"}}),
            "filter.createdTime.min",
        ),
        (
            json!({"labels": {"containsAny": [{"externalId": "a"}], "containsSome": []}}),
            "filter.labels.containsSome",
        ),
        (
            json!({"geoLocation": {"relation": "near", "shape": {"type": "Point", "coordinates": [1, 2]}}}),
            "filter.geoLocation.relation",
        ),
        (
            json!({"geoLocation": {"relation": "within", "shape": {"type": "Point", "coordinates": [1]}}}),
            "filter.geoLocation.shape.coordinates",
        ),
        (
            json!({"directoryPrefix": "d".repeat(513)}),
            "filter.directoryPrefix",
        ),
        (json!({"colour": "red"}), "filter.colour"),
    ] {
        let e = assert_error(
            &app.post("/files/list", json!({"filter": filter})).await,
            400,
        );
        assert!(
            e["message"].as_str().unwrap().contains(field),
            "{filter}: {e}"
        );
    }
}

#[tokio::test]
async fn a_cursor_only_continues_its_own_filter() {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        app.create(json!({"name": format!("f{i}"), "mimeType": "text/plain"}))
            .await;
    }
    let first = app
        .post(
            "/files/list",
            json!({"filter": {"mimeType": "text/plain"}, "limit": 2}),
        )
        .await;
    let cursor = first.body["nextCursor"].clone();
    let same = app
        .post(
            "/files/list",
            json!({"filter": {"mimeType": "text/plain"}, "limit": 2, "cursor": cursor}),
        )
        .await;
    assert_eq!(same.status, StatusCode::OK);
    let changed = app
        .post(
            "/files/list",
            json!({"filter": {"mimeType": "text/csv"}, "limit": 2, "cursor": cursor}),
        )
        .await;
    assert_error(&changed, 400);
}
