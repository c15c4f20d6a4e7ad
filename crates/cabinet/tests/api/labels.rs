//! Label definitions over HTTP: create (limits, externalId uniqueness), byids, list (every filter,
//! paging, data sets by externalId), delete, and `labelsAcl` with a `datasetScope`.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, capability, AccessConfig, TestApp};

/// Which created items a filter must return.
type Keep = Box<dyn Fn(&Value) -> bool>;

async fn create(app: &TestApp, items: Value) -> Vec<Value> {
    app.create_items("/labels", items).await
}

#[tokio::test]
async fn create_retrieve_delete() {
    let app = TestApp::spawn().await;
    let made = create(
        &app,
        json!([
            {"externalId": "PUMP", "name": "Pump", "description": "rotating", "dataSetId": 7},
            {"externalId": "VALVE", "name": "Valve"}
        ]),
    )
    .await;
    assert_eq!(made[0]["externalId"], "PUMP");
    assert_eq!(made[0]["name"], "Pump");
    assert_eq!(made[0]["description"], "rotating");
    assert_eq!(made[0]["dataSetId"], 7);
    assert!(made[0]["createdTime"].as_i64().is_some());
    assert!(made[1].get("description").is_none() && made[1].get("dataSetId").is_none());

    let r = app
        .post(
            "/labels/byids",
            json!({"items": [{"externalId": "VALVE"}, {"externalId": "PUMP"}]}),
        )
        .await;
    assert_eq!(r.body["items"], json!([made[1], made[0]]), "{r:?}");
    let r = app
        .post("/labels/byids", json!({"items": [{"externalId": "NOPE"}]}))
        .await;
    assert_eq!(
        assert_error(&r, 400)["missing"],
        json!([{"externalId": "NOPE"}])
    );
    let r = app
        .post("/labels/byids", json!({"items": [{"externalId": "NOPE"}, {"externalId": "PUMP"}], "ignoreUnknownIds": true}))
        .await;
    assert_eq!(r.body["items"], json!([made[0]]), "{r:?}");

    // Taken or repeated externalIds: 409, nothing created.
    let r = app
        .post("/labels", json!({"items": [{"externalId": "NEW", "name": "n"}, {"externalId": "PUMP", "name": "p"}]}))
        .await;
    assert_eq!(
        assert_error(&r, 409)["duplicated"],
        json!([{"externalId": "PUMP"}])
    );
    let r = app
        .post(
            "/labels",
            json!({"items": [{"externalId": "D", "name": "n"}, {"externalId": "D", "name": "p"}]}),
        )
        .await;
    assert_error(&r, 409);
    let r = app.post("/labels/list", json!({})).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2, "{r:?}");
    for item in [
        json!({"name": "no external id"}),
        json!({"externalId": "x"}),
        json!({"externalId": "x", "name": "n".repeat(141)}),
        json!({"externalId": "x", "name": "n", "description": "d".repeat(501)}),
        json!({"externalId": "x", "name": "n", "dataSetId": 0}),
        json!({"externalId": "x", "name": "n", "bogus": 1}),
    ] {
        assert_error(&app.post("/labels", json!({"items": [item]})).await, 400);
    }

    // Delete: unknown ones are a 400 and nothing is deleted; then it goes.
    let r = app
        .post(
            "/labels/delete",
            json!({"items": [{"externalId": "PUMP"}, {"externalId": "NOPE"}]}),
        )
        .await;
    assert_eq!(
        assert_error(&r, 400)["missing"],
        json!([{"externalId": "NOPE"}])
    );
    let r = app
        .post("/labels/delete", json!({"items": [{"externalId": "PUMP"}]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = app.post("/labels/list", json!({})).await;
    assert_eq!(r.body["items"], json!([made[1]]));
    // The externalId can be used again.
    create(&app, json!([{"externalId": "PUMP", "name": "again"}])).await;
}

#[tokio::test]
async fn list_filters_and_pages_like_a_brute_force() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/datasets",
            json!({"items": [{"externalId": "ds-one"}, {"externalId": "ds-two"}]}),
        )
        .await;
    let ds1 = r.body["items"][0]["id"].as_i64().unwrap();
    let ds2 = r.body["items"][1]["id"].as_i64().unwrap();
    let items: Vec<Value> = (0..30)
        .map(|n| {
            let mut l = json!({
                "externalId": format!("{}-{n}", if n % 4 == 0 { "quad" } else { "other" }),
                "name": if n % 3 == 0 { "Three" } else { "rest" },
            });
            match n % 3 {
                0 => l["dataSetId"] = json!(ds1),
                1 => l["dataSetId"] = json!(ds2),
                _ => {}
            }
            l
        })
        .collect();
    let all = create(&app, json!(items)).await;
    let cases: Vec<(Value, Keep)> = vec![
        (json!({}), Box::new(|_| true)),
        (json!({"name": "Three"}), Box::new(|l| l["name"] == "Three")),
        (json!({"name": "three"}), Box::new(|_| false)),
        (
            json!({"externalIdPrefix": "quad"}),
            Box::new(|l| l["externalId"].as_str().unwrap().starts_with("quad")),
        ),
        (
            json!({"dataSetIds": [{"id": ds2}]}),
            Box::new(move |l| l["dataSetId"] == ds2),
        ),
        (
            json!({"dataSetIds": [{"externalId": "ds-one"}]}),
            Box::new(move |l| l["dataSetId"] == ds1),
        ),
        (
            json!({"dataSetIds": [{"externalId": "ds-one"}, {"id": ds2}], "externalIdPrefix": "other"}),
            Box::new(move |l| {
                l["dataSetId"].is_i64() && l["externalId"].as_str().unwrap().starts_with("other")
            }),
        ),
    ];
    for (filter, keep) in cases {
        let expected: Vec<Value> = all.iter().filter(|l| keep(l)).cloned().collect();
        let mut got = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut body = json!({"filter": filter, "limit": 4});
            if let Some(c) = &cursor {
                body["cursor"] = json!(c);
            }
            let r = app.post("/labels/list", body).await;
            assert_eq!(r.status, StatusCode::OK, "{filter}: {r:?}");
            got.extend(r.body["items"].as_array().unwrap().iter().cloned());
            match r.body["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        assert_eq!(got, expected, "{filter}");
    }
    let r = app
        .post(
            "/labels/list",
            json!({"filter": {"dataSetIds": [{"externalId": "ds-none"}]}}),
        )
        .await;
    assert_eq!(
        assert_error(&r, 400)["missing"],
        json!([{"externalId": "ds-none"}])
    );
    for body in [
        json!({"limit": 0}),
        json!({"limit": 1001}),
        json!({"filter": {"bogus": 1}}),
        json!({"cursor": "x"}),
    ] {
        assert_error(&app.post("/labels/list", body).await, 400);
    }
}

/// Principals: a writer on `all`, and a reader and writer scoped to data set 5.
#[tokio::test]
async fn labels_acl_with_a_dataset_scope() {
    let all = "all = {}";
    let app = AccessConfig::new()
        .group("all", &[capability("labelsAcl", &["READ", "WRITE"], all)])
        .group(
            "scoped",
            &[capability(
                "labelsAcl",
                &["READ", "WRITE"],
                "datasetScope = { ids = [5] }",
            )],
        )
        .group("files", &[capability("filesAcl", &["READ"], all)])
        .token("all", &["all"])
        .token("scoped", &["scoped"])
        .token("none", &["files"])
        .spawn()
        .await;
    let r = app
        .post_as(
            "all-token",
            "/labels",
            json!({"items": [
                {"externalId": "in5", "name": "n", "dataSetId": 5},
                {"externalId": "in6", "name": "n", "dataSetId": 6},
                {"externalId": "nowhere", "name": "n"}
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(
        app.post_as("none-token", "/labels/list", json!({}))
            .await
            .status
            .as_u16(),
        403
    );
    let r = app.post_as("scoped-token", "/labels/list", json!({})).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{r:?}");
    assert_eq!(r.body["items"][0]["externalId"], "in5");
    let r = app
        .post_as(
            "scoped-token",
            "/labels/byids",
            json!({"items": [{"externalId": "in6"}]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 403, "{r:?}");
    let r = app
        .post_as(
            "scoped-token",
            "/labels",
            json!({"items": [{"externalId": "x", "name": "n"}]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 403, "{r:?}");
    let r = app
        .post_as(
            "scoped-token",
            "/labels",
            json!({"items": [{"externalId": "x", "name": "n", "dataSetId": 5}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = app
        .post_as(
            "scoped-token",
            "/labels/delete",
            json!({"items": [{"externalId": "nowhere"}]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 403, "{r:?}");
    let r = app
        .post_as(
            "scoped-token",
            "/labels/delete",
            json!({"items": [{"externalId": "x"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}
