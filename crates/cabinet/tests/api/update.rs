use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

fn point(x: f64, y: f64) -> Value {
    json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]}})
}

/// A file with every optional field set.
fn full_body(external_id: &str) -> Value {
    json!({
        "name": "full.txt",
        "externalId": external_id,
        "directory": "/some/dir",
        "source": "probe",
        "mimeType": "text/plain",
        "metadata": {"a": "1", "b": "2"},
        "assetIds": [1, 2],
        "dataSetId": 123,
        "labels": [{"externalId": "L0"}],
        "geoLocation": point(10.0, 59.0),
        "sourceCreatedTime": 1_700_000_000_000_i64,
        "sourceModifiedTime": 1_700_000_001_000_i64,
        "securityCategories": [7]
    })
}

async fn update(app: &TestApp, items: Value) -> Reply {
    app.post("/files/update", json!({ "items": items })).await
}

/// Updates and expects a 200; returns the items.
async fn update_ok(app: &TestApp, items: Value) -> Vec<Value> {
    let r = update(app, items).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body["items"].as_array().unwrap().clone()
}

async fn get(app: &TestApp, ident: Value) -> Value {
    let r = app.retrieve(ident).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body["items"][0].clone()
}

/// The file without its times, for "nothing changed" comparisons.
fn timeless(mut f: Value) -> Value {
    let o = f.as_object_mut().unwrap();
    o.remove("lastUpdatedTime");
    o.remove("uploadUrl");
    f
}

async fn tick() {
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
}

async fn list_ids(app: &TestApp, filter: Value) -> Vec<i64> {
    let r = app
        .post("/files/list", json!({"filter": filter, "limit": 1000}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn every_single_valued_field_can_be_set_and_cleared() {
    let app = TestApp::spawn().await;
    let f = app.create(full_body("x")).await;
    let items = update_ok(
        &app,
        json!([{"id": f["id"], "update": {
            "externalId": {"set": "y"},
            "directory": {"set": "/other"},
            "source": {"set": "s2"},
            "mimeType": {"set": "text/csv"},
            "dataSetId": {"set": 456},
            "sourceCreatedTime": {"set": 0},
            "sourceModifiedTime": {"set": 5},
            "geoLocation": {"set": point(1.0, 2.0)},
        }}]),
    )
    .await;
    let u = &items[0];
    assert_eq!(u["id"], f["id"]);
    assert_eq!(u["externalId"], "y");
    assert_eq!(u["directory"], "/other");
    assert_eq!(u["source"], "s2");
    assert_eq!(u["mimeType"], "text/csv");
    assert_eq!(u["dataSetId"], 456);
    assert_eq!(u["sourceCreatedTime"], 0);
    assert_eq!(u["sourceModifiedTime"], 5);
    assert_eq!(u["geoLocation"], point(1.0, 2.0));
    assert_eq!(u["name"], "full.txt", "name is untouched");
    assert_eq!(
        timeless(get(&app, json!({"externalId": "y"})).await),
        timeless(u.clone())
    );
    assert_error(&app.retrieve(json!({"externalId": "x"})).await, 400);

    let items = update_ok(
        &app,
        json!([{"externalId": "y", "update": {
            "externalId": {"setNull": true},
            "directory": {"setNull": true},
            "source": {"setNull": true},
            "mimeType": {"setNull": true},
            "dataSetId": {"setNull": true},
            "sourceCreatedTime": {"setNull": true},
            "sourceModifiedTime": {"setNull": true},
            "geoLocation": {"setNull": true},
        }}]),
    )
    .await;
    let cleared = get(&app, json!({"id": f["id"]})).await;
    assert_eq!(timeless(cleared.clone()), timeless(items[0].clone()));
    for field in [
        "externalId",
        "directory",
        "source",
        "mimeType",
        "dataSetId",
        "sourceCreatedTime",
        "sourceModifiedTime",
        "geoLocation",
    ] {
        assert!(
            cleared.get(field).is_none_or(Value::is_null),
            "{field} cleared: {cleared}"
        );
    }
    // The externalId is free again.
    app.create(json!({"name": "n", "externalId": "y"})).await;
}

#[tokio::test]
async fn metadata_set_add_and_remove() {
    let app = TestApp::spawn().await;
    let f = app.create(full_body("m")).await;
    let id = f["id"].clone();

    let u = update_ok(&app, json!([{"id": id, "update": {"metadata": {"add": {"a": "new", "c": "3"}, "remove": ["b", "unknown"]}}}])).await;
    assert_eq!(u[0]["metadata"], json!({"a": "new", "c": "3"}));

    // add first, then remove: a key named in both is gone afterwards.
    let u = update_ok(
        &app,
        json!([{"id": id, "update": {"metadata": {"add": {"k": "v"}, "remove": ["k"]}}}]),
    )
    .await;
    assert_eq!(u[0]["metadata"], json!({"a": "new", "c": "3"}));

    let u = update_ok(
        &app,
        json!([{"id": id, "update": {"metadata": {"remove": ["a"]}}}]),
    )
    .await;
    assert_eq!(u[0]["metadata"], json!({"c": "3"}));

    let u = update_ok(
        &app,
        json!([{"id": id, "update": {"metadata": {"set": {"only": "this"}}}}]),
    )
    .await;
    assert_eq!(u[0]["metadata"], json!({"only": "this"}));
    assert_eq!(
        get(&app, json!({"id": id})).await["metadata"],
        json!({"only": "this"})
    );

    update_ok(
        &app,
        json!([{"id": id, "update": {"metadata": {"set": {}}}}]),
    )
    .await;
    let after = get(&app, json!({"id": id})).await;
    assert!(
        after.get("metadata").is_none_or(|m| m == &json!({})),
        "{after}"
    );
}

#[tokio::test]
async fn asset_ids_and_security_categories_set_add_and_remove() {
    let app = TestApp::spawn().await;
    let f = app.create(full_body("a")).await;
    let id = f["id"].clone();

    let u = update_ok(
        &app,
        json!([{"id": id, "update": {
            "assetIds": {"add": [3, 2], "remove": [1, 99]},
            "securityCategories": {"add": [8], "remove": [7]},
        }}]),
    )
    .await;
    assert_eq!(
        u[0]["assetIds"],
        json!([2, 3]),
        "adding a present id is a no-op"
    );
    assert_eq!(u[0]["securityCategories"], json!([8]));

    let u = update_ok(&app, json!([{"id": id, "update": {"assetIds": {"set": [9]}, "securityCategories": {"set": [1, 2]}}}])).await;
    assert_eq!(u[0]["assetIds"], json!([9]));
    assert_eq!(u[0]["securityCategories"], json!([1, 2]));
    let got = get(&app, json!({"id": id})).await;
    assert_eq!(
        (got["assetIds"].clone(), got["securityCategories"].clone()),
        (json!([9]), json!([1, 2]))
    );

    update_ok(&app, json!([{"id": id, "update": {"assetIds": {"set": []}, "securityCategories": {"remove": [1, 2]}}}])).await;
    let got = get(&app, json!({"id": id})).await;
    assert!(got.get("assetIds").is_none_or(|a| a == &json!([])), "{got}");
    assert!(
        got.get("securityCategories")
            .is_none_or(|a| a == &json!([])),
        "{got}"
    );
}

#[tokio::test]
async fn labels_set_add_and_remove() {
    let app = TestApp::spawn().await;
    let f = app.create(full_body("l")).await;
    let id = f["id"].clone();

    let u = update_ok(
        &app,
        json!([{"id": id, "update": {"labels": {
            "add": [{"externalId": "L1"}, {"externalId": "L2"}, {"externalId": "L0"}],
            "remove": [{"externalId": "absent"}],
        }}}]),
    )
    .await;
    assert_eq!(
        u[0]["labels"],
        json!([{"externalId": "L0"}, {"externalId": "L1"}, {"externalId": "L2"}])
    );

    let u = update_ok(&app, json!([{"id": id, "update": {"labels": {"remove": [{"externalId": "L0"}, {"externalId": "L2"}]}}}])).await;
    assert_eq!(u[0]["labels"], json!([{"externalId": "L1"}]));

    let u = update_ok(&app, json!([{"id": id, "update": {"labels": {"set": [{"externalId": "A"}, {"externalId": "B"}]}}}])).await;
    assert_eq!(
        u[0]["labels"],
        json!([{"externalId": "A"}, {"externalId": "B"}])
    );
    assert_eq!(
        get(&app, json!({"id": id})).await["labels"],
        json!([{"externalId": "A"}, {"externalId": "B"}])
    );

    update_ok(&app, json!([{"id": id, "update": {"labels": {"set": []}}}])).await;
    let got = get(&app, json!({"id": id})).await;
    assert!(got.get("labels").is_none_or(|l| l == &json!([])), "{got}");

    // At most 10 labels on the result, and at most 10 per list.
    let ten: Vec<Value> = (0..10)
        .map(|i| json!({"externalId": format!("L{i}")}))
        .collect();
    update_ok(
        &app,
        json!([{"id": id, "update": {"labels": {"set": ten}}}]),
    )
    .await;
    let r = update(
        &app,
        json!([{"id": id, "update": {"labels": {"add": [{"externalId": "eleventh"}]}}}]),
    )
    .await;
    assert!(
        assert_error(&r, 400)["message"]
            .as_str()
            .unwrap()
            .contains("items[0].update.labels"),
        "{r:?}"
    );
    let eleven: Vec<Value> = (0..11)
        .map(|i| json!({"externalId": format!("L{i}")}))
        .collect();
    let r = update(
        &app,
        json!([{"id": id, "update": {"labels": {"remove": eleven}}}]),
    )
    .await;
    assert!(
        assert_error(&r, 400)["message"]
            .as_str()
            .unwrap()
            .contains("items[0].update.labels.remove"),
        "{r:?}"
    );
    assert_eq!(
        get(&app, json!({"id": id})).await["labels"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
}

#[tokio::test]
async fn updates_are_visible_to_filtered_lists() {
    let app = TestApp::spawn().await;
    let a = app.create(json!({"name": "a"})).await["id"]
        .as_i64()
        .unwrap();
    let b = app.create(json!({"name": "b", "metadata": {"k": "old"}, "assetIds": [5], "labels": [{"externalId": "L"}]})).await["id"]
        .as_i64()
        .unwrap();

    update_ok(
        &app,
        json!([
            {"id": a, "update": {"metadata": {"add": {"k": "v"}}, "assetIds": {"add": [5, 6]}, "labels": {"add": [{"externalId": "L"}]}, "source": {"set": "src"}}},
            {"id": b, "update": {"metadata": {"remove": ["k"]}, "assetIds": {"remove": [5]}, "labels": {"set": []}}},
        ]),
    )
    .await;

    assert_eq!(
        list_ids(&app, json!({"metadata": {"k": "v"}})).await,
        vec![a]
    );
    assert_eq!(
        list_ids(&app, json!({"metadata": {"k": "old"}})).await,
        Vec::<i64>::new()
    );
    assert_eq!(list_ids(&app, json!({"assetIds": [5]})).await, vec![a]);
    assert_eq!(list_ids(&app, json!({"assetIds": [6]})).await, vec![a]);
    assert_eq!(
        list_ids(
            &app,
            json!({"labels": {"containsAny": [{"externalId": "L"}]}})
        )
        .await,
        vec![a]
    );
    assert_eq!(list_ids(&app, json!({"source": "src"})).await, vec![a]);
    let all = app.post("/files/list", json!({})).await;
    let listed_a = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == json!(a))
        .unwrap()
        .clone();
    assert_eq!(listed_a["metadata"], json!({"k": "v"}));
    assert_eq!(listed_a["assetIds"], json!([5, 6]));
}

#[tokio::test]
async fn last_updated_time_moves_and_created_time_and_content_stay() {
    let app = TestApp::spawn().await;
    let f = app
        .upload(json!({"name": "c.txt", "externalId": "c"}), b"content")
        .await;
    let before = get(&app, json!({"id": f["id"]})).await;
    assert_eq!(before["uploaded"], true);
    tick().await;
    let u = update_ok(
        &app,
        json!([{"id": f["id"], "update": {"source": {"set": "s"}}}]),
    )
    .await;
    let after = get(&app, json!({"id": f["id"]})).await;
    assert_eq!(timeless(after.clone()), timeless(u[0].clone()));
    assert!(
        after["lastUpdatedTime"].as_i64().unwrap() > before["lastUpdatedTime"].as_i64().unwrap(),
        "{before} {after}"
    );
    assert_eq!(after["createdTime"], before["createdTime"]);
    assert_eq!(after["uploaded"], true);
    assert_eq!(after["uploadedTime"], before["uploadedTime"]);
    assert_eq!(app.download(json!({"id": f["id"]})).await, b"content");
    let mut expected = timeless(before);
    expected["source"] = json!("s");
    assert_eq!(timeless(after), expected, "nothing else changed");
}

#[tokio::test]
async fn python_modes_send_bodies_that_work() {
    let app = TestApp::spawn().await;
    let f0 = app.create(json!({"name": "s0", "externalId": "seed-0", "directory": "/seed", "mimeType": "text/plain", "metadata": {"k": "0"}})).await;
    let f1 = app.create(full_body("seed-1")).await;
    let f2 = app
        .create(
            json!({"name": "s2", "externalId": "seed-2", "metadata": {"k": "2"}, "assetIds": [3]}),
        )
        .await;
    let f3 = app.create(json!({"name": "s3", "externalId": "seed-3", "metadata": {"k": "3"}, "labels": [{"externalId": "L0"}]})).await;

    // files.update(retrieved FileMetadata), default mode replace_ignore_null.
    let u = update_ok(&app, json!([{"update":{"externalId":{"set":"seed-0"},"directory":{"set":"/seed"},"source":{"set":"patched"},"mimeType":{"set":"text/plain"},"metadata":{"set":{"k":"0"}}},"id":f0["id"]}])).await;
    assert_eq!(u[0]["source"], "patched");
    assert_eq!(
        u[0]["externalId"], "seed-0",
        "setting the externalId a file already has is no clash"
    );

    // mode="patch"
    let u = update_ok(
        &app,
        json!([{"update":{"metadata":{"add":{"x":"y"}}},"externalId":"seed-1"}]),
    )
    .await;
    assert_eq!(u[0]["metadata"], json!({"a": "1", "b": "2", "x": "y"}));

    // mode="replace": clears every field it does not set, on a file that has them all and on one that has none.
    let replace = |xid: &str| json!({"update":{"directory":{"setNull":true},"source":{"setNull":true},"mimeType":{"setNull":true},"metadata":{"set":{"x":"y"}},"assetIds":{"set":[]},"sourceCreatedTime":{"setNull":true},"sourceModifiedTime":{"setNull":true},"dataSetId":{"setNull":true},"securityCategories":{"set":[]},"labels":{"set":[]},"geoLocation":{"setNull":true}},"externalId":xid});
    let bare = app
        .create(json!({"name": "bare", "externalId": "bare"}))
        .await;
    let u = update_ok(&app, json!([replace("seed-1"), replace("bare")])).await;
    for (file, before) in u.iter().zip([&f1, &bare]) {
        assert_eq!(file["id"], before["id"]);
        assert_eq!(file["metadata"], json!({"x": "y"}));
        for field in [
            "directory",
            "source",
            "mimeType",
            "assetIds",
            "sourceCreatedTime",
            "sourceModifiedTime",
            "dataSetId",
            "securityCategories",
            "labels",
            "geoLocation",
        ] {
            assert!(
                file.get(field)
                    .is_none_or(|v| v.is_null() || v == &json!([])),
                "{field} cleared: {file}"
            );
        }
        assert_eq!(file["name"], before["name"]);
    }

    // files.update([FileMetadataUpdate, ...]): the multi-item body, with this server's ids.
    let u = update_ok(
        &app,
        json!([
            {"update":{"metadata":{"add":{"new":"v"},"remove":["k"]},"labels":{"add":[{"externalId":"L1"},{"externalId":"L2"}],"remove":[{"externalId":"L0"}]},"assetIds":{"add":[1,2],"remove":[3]},"source":{"set":"src"},"mimeType":{"setNull":true},"directory":{"setNull":true},"securityCategories":{"set":[1]},"dataSetId":{"setNull":true}},"id":f3["id"]},
            {"update":{"metadata":{"set":{"only":"this"}},"assetIds":{"set":[9]}},"externalId":"seed-2"},
            {"update":{"metadata":{"set":{}},"externalId":{"set":"renamed"}},"id":f0["id"]}
        ]),
    )
    .await;
    assert_eq!(u[0]["metadata"], json!({"new": "v"}));
    assert_eq!(
        u[0]["labels"],
        json!([{"externalId": "L1"}, {"externalId": "L2"}])
    );
    assert_eq!(u[0]["assetIds"], json!([1, 2]));
    assert_eq!(u[0]["source"], "src");
    assert_eq!(u[0]["securityCategories"], json!([1]));
    assert_eq!(u[1]["id"], f2["id"]);
    assert_eq!(u[1]["metadata"], json!({"only": "this"}));
    assert_eq!(u[1]["assetIds"], json!([9]));
    assert_eq!(u[2]["externalId"], "renamed");
    assert!(u[2].get("metadata").is_none_or(|m| m == &json!({})));
    assert_eq!(
        get(&app, json!({"externalId": "renamed"})).await["id"],
        f0["id"]
    );
}

#[tokio::test]
async fn python_gzip_body_is_accepted() {
    let app = TestApp::spawn().await;
    app.create(json!({"name": "g", "externalId": "g"})).await;
    let body = json!({"items": [{"update": {"metadata": {"add": {"x": "y"}}}, "externalId": "g"}]});
    let r = reply(
        app.client
            .post(app.url("/files/update"))
            .bearer_auth("t")
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .header("cdf-version", "20230101")
            .body(gzip(body.to_string().as_bytes()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["items"][0]["metadata"], json!({"x": "y"}));
}

#[tokio::test]
async fn js_body_works() {
    let app = TestApp::spawn().await;
    let a = app.create(json!({"name": "a", "metadata": {"k": "1"}, "assetIds": [2], "labels": [{"externalId": "old"}], "source": "s"})).await;
    app.create(json!({"name": "b", "externalId": "js-b"})).await;
    // Pretty-printed, as the JS SDK sends it.
    let body = serde_json::to_string_pretty(&json!({"items": [
        {"id": a["id"], "update": {"metadata": {"add": {"n": "v"}, "remove": ["k"]}, "labels": {"add": [{"externalId": "new"}], "remove": [{"externalId": "old"}]}, "assetIds": {"add": [1], "remove": [2]}, "source": {"setNull": true}, "mimeType": {"set": "text/csv"}, "sourceCreatedTime": {"set": 1_700_000_000_000_i64}}},
        {"externalId": "js-b", "update": {"source": {"set": "js"}}}
    ]}))
    .unwrap();
    let r = reply(
        app.client
            .post(app.url("/files/update"))
            .bearer_auth("t")
            .header("content-type", "application/json")
            .header("cdf-version", "V20210406")
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let u = &r.body["items"][0];
    assert_eq!(u["metadata"], json!({"n": "v"}));
    assert_eq!(u["labels"], json!([{"externalId": "new"}]));
    assert_eq!(u["assetIds"], json!([1]));
    assert!(u.get("source").is_none_or(Value::is_null));
    assert_eq!(u["mimeType"], "text/csv");
    assert_eq!(u["sourceCreatedTime"], 1_700_000_000_000_i64);
    assert_eq!(r.body["items"][1]["source"], "js");
}

#[tokio::test]
async fn an_external_id_clash_is_a_409_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let a = app.create(json!({"name": "a", "externalId": "xa"})).await;
    let b = app.create(json!({"name": "b", "externalId": "xb"})).await;
    let c = app.create(json!({"name": "c"})).await;

    // Another file holds it.
    let r = update(&app, json!([{"id": c["id"], "update": {"source": {"set": "s"}}}, {"id": a["id"], "update": {"externalId": {"set": "xb"}}}])).await;
    assert_eq!(
        assert_error(&r, 409)["duplicated"],
        json!([{"externalId": "xb"}])
    );
    assert!(r.body["error"].get("missing").is_none());
    assert!(
        get(&app, json!({"id": c["id"]}))
            .await
            .get("source")
            .is_none(),
        "nothing applied"
    );
    assert_eq!(get(&app, json!({"id": a["id"]})).await["externalId"], "xa");

    // Two items of the batch set the same one.
    let r = update(&app, json!([{"id": a["id"], "update": {"externalId": {"set": "new"}}}, {"id": c["id"], "update": {"externalId": {"set": "new"}}}])).await;
    assert_eq!(
        assert_error(&r, 409)["duplicated"],
        json!([{"externalId": "new"}])
    );
    assert_error(&app.retrieve(json!({"externalId": "new"})).await, 400);

    // One item takes the externalId that another gives up at the same time: fine.
    let u = update_ok(&app, json!([{"id": c["id"], "update": {"externalId": {"set": "xa"}}}, {"id": a["id"], "update": {"externalId": {"set": "xc"}}}])).await;
    assert_eq!(
        (u[0]["externalId"].clone(), u[1]["externalId"].clone()),
        (json!("xa"), json!("xc"))
    );
    // A swap.
    update_ok(&app, json!([{"externalId": "xa", "update": {"externalId": {"set": "xb"}}}, {"externalId": "xb", "update": {"externalId": {"set": "xa"}}}])).await;
    assert_eq!(get(&app, json!({"externalId": "xa"})).await["id"], b["id"]);
    assert_eq!(get(&app, json!({"externalId": "xb"})).await["id"], c["id"]);
    assert_eq!(get(&app, json!({"externalId": "xc"})).await["id"], a["id"]);
}

#[tokio::test]
async fn unknown_items_are_a_400_missing_and_nothing_is_applied() {
    let app = TestApp::spawn().await;
    let a = app
        .create(json!({"name": "a", "externalId": "known"}))
        .await;
    let r = update(
        &app,
        json!([
            {"id": a["id"], "update": {"source": {"set": "s"}}},
            {"externalId": "nope", "update": {"source": {"set": "s"}}},
            {"id": 42, "update": {}},
            {"instanceId": {"space": "sp", "externalId": "f"}, "update": {"metadata": {"add": {"a": "b"}}}}
        ]),
    )
    .await;
    let e = assert_error(&r, 400);
    assert_eq!(
        e["missing"],
        json!([{"externalId": "nope"}, {"id": 42}, {"instanceId": {"space": "sp", "externalId": "f"}}])
    );
    assert_eq!(
        timeless(get(&app, json!({"id": a["id"]})).await),
        timeless(a)
    );
}

#[tokio::test]
async fn the_same_identifier_twice_is_a_400_but_one_file_in_two_forms_applies_in_order() {
    let app = TestApp::spawn().await;
    let a = app
        .create(json!({"name": "a", "externalId": "xa", "assetIds": [1]}))
        .await;
    let r = update(
        &app,
        json!([{"id": a["id"], "update": {}}, {"id": a["id"], "update": {}}]),
    )
    .await;
    assert_eq!(
        assert_error(&r, 400)["duplicated"],
        json!([{"id": a["id"]}])
    );
    let r = update(
        &app,
        json!([{"externalId": "xa", "update": {}}, {"externalId": "xa", "update": {}}]),
    )
    .await;
    assert_eq!(
        assert_error(&r, 400)["duplicated"],
        json!([{"externalId": "xa"}])
    );

    let u = update_ok(
        &app,
        json!([
            {"id": a["id"], "update": {"assetIds": {"add": [2]}, "source": {"set": "first"}}},
            {"externalId": "xa", "update": {"assetIds": {"add": [3]}, "source": {"set": "second"}, "externalId": {"set": "renamed"}}}
        ]),
    )
    .await;
    assert_eq!(u.len(), 2);
    for item in &u {
        assert_eq!(item["assetIds"], json!([1, 2, 3]));
        assert_eq!(item["source"], "second");
        assert_eq!(item["externalId"], "renamed");
    }
    assert_eq!(
        get(&app, json!({"externalId": "renamed"})).await["assetIds"],
        json!([1, 2, 3])
    );
}

#[tokio::test]
async fn limit_breaches_on_the_result_are_a_400_and_nothing_is_applied() {
    let app = TestApp::spawn().await;
    let other = app.create(json!({"name": "other"})).await;
    let assets: Vec<i64> = (1..=1000).collect();
    let full = app
        .create(
            json!({"name": "full", "assetIds": assets, "metadata": {"big": "v".repeat(10_000)}}),
        )
        .await;

    let r = update(&app, json!([{"id": other["id"], "update": {"source": {"set": "s"}}}, {"id": full["id"], "update": {"assetIds": {"add": [1001]}}}])).await;
    let message = assert_error(&r, 400)["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("items[1].update.assetIds"), "{message}");
    assert!(
        get(&app, json!({"id": other["id"]}))
            .await
            .get("source")
            .is_none(),
        "nothing applied"
    );
    assert_eq!(
        get(&app, json!({"id": full["id"]})).await["assetIds"]
            .as_array()
            .unwrap()
            .len(),
        1000
    );

    // Adding and removing at once stays within the limit.
    let u = update_ok(
        &app,
        json!([{"id": full["id"], "update": {"assetIds": {"add": [1001], "remove": [1]}}}]),
    )
    .await;
    assert_eq!(u[0]["assetIds"].as_array().unwrap().len(), 1000);

    let r = update(&app, json!([{"id": other["id"], "update": {"source": {"set": "s"}}}, {"id": full["id"], "update": {"metadata": {"add": {"more": "x".repeat(300)}}}}])).await;
    let message = assert_error(&r, 400)["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("items[1].update.metadata"), "{message}");
    assert!(
        get(&app, json!({"id": other["id"]}))
            .await
            .get("source")
            .is_none(),
        "nothing applied"
    );
    assert_eq!(
        get(&app, json!({"id": full["id"]})).await["metadata"],
        json!({"big": "v".repeat(10_000)})
    );

    let cats: Vec<i64> = (1..=100).collect();
    update_ok(
        &app,
        json!([{"id": other["id"], "update": {"securityCategories": {"set": cats}}}]),
    )
    .await;
    let r = update(
        &app,
        json!([{"id": other["id"], "update": {"securityCategories": {"add": [101]}}}]),
    )
    .await;
    assert!(
        assert_error(&r, 400)["message"]
            .as_str()
            .unwrap()
            .contains("items[0].update.securityCategories"),
        "{r:?}"
    );

    for (update_body, field) in [
        (
            json!({"directory": {"set": "relative/path"}}),
            "items[0].update.directory",
        ),
        (
            json!({"directory": {"set": format!("/{}", "d".repeat(512))}}),
            "items[0].update.directory",
        ),
        (
            json!({"externalId": {"set": "x".repeat(256)}}),
            "items[0].update.externalId",
        ),
        (
            json!({"source": {"set": "s".repeat(129)}}),
            "items[0].update.source",
        ),
        (
            json!({"mimeType": {"set": "m".repeat(257)}}),
            "items[0].update.mimeType",
        ),
        (
            json!({"dataSetId": {"set": 0}}),
            "items[0].update.dataSetId",
        ),
        (
            json!({"sourceModifiedTime": {"set": -1}}),
            "items[0].update.sourceModifiedTime",
        ),
        (
            json!({"geoLocation": {"set": {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1]}}}}),
            "items[0].update.geoLocation.geometry.coordinates",
        ),
        (
            json!({"metadata": {"set": {"k".repeat(129): "v"}}}),
            "items[0].update.metadata",
        ),
        (
            json!({"labels": {"set": [{"externalId": "a"}, {"externalId": "a"}]}}),
            "items[0].update.labels[1]",
        ),
    ] {
        let r = update(&app, json!([{"id": other["id"], "update": update_body}])).await;
        let message = assert_error(&r, 400)["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(message.contains(field), "{update_body}: {message}");
    }
}

#[tokio::test]
async fn malformed_updates_are_a_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let a = app.create(json!({"name": "a", "externalId": "xa"})).await;
    for (item, field) in [
        (
            json!({"id": a["id"], "update": {"name": {"set": "b"}}}),
            "items[0].update.name",
        ),
        (
            json!({"id": a["id"], "update": {"assetIds": {"set": [1], "add": [2]}}}),
            "items[0].update.assetIds",
        ),
        (
            json!({"id": a["id"], "update": {"securityCategories": {"set": [1], "remove": [2]}}}),
            "items[0].update.securityCategories",
        ),
        (
            json!({"id": a["id"], "update": {"labels": {"set": [], "add": [{"externalId": "x"}]}}}),
            "items[0].update.labels",
        ),
        (
            json!({"id": a["id"], "update": {"metadata": {"set": {}, "remove": ["k"]}}}),
            "items[0].update.metadata",
        ),
        (
            json!({"id": a["id"], "update": {"metadata": {"add": {"k": 1}}}}),
            "items[0].update.metadata.add.k",
        ),
        (
            json!({"id": a["id"], "update": {"source": {"set": "a", "setNull": true}}}),
            "items[0].update.source",
        ),
        (
            json!({"id": a["id"], "update": {"source": {"add": "a"}}}),
            "items[0].update.source.add",
        ),
        (
            json!({"id": a["id"], "update": {"uploaded": {"set": true}}}),
            "items[0].update.uploaded",
        ),
        (
            json!({"id": a["id"], "update": {"colour": {"set": "red"}}}),
            "items[0].update.colour",
        ),
        (json!({"id": a["id"]}), "items[0].update"),
        (
            json!({"id": a["id"], "externalId": "xa", "update": {}}),
            "items[0]",
        ),
        (json!({"id": 0, "update": {}}), "items[0].id"),
        (
            json!({"instanceId": {"space": "sp", "externalId": "f"}, "update": {"directory": {"set": "/d"}}}),
            "items[0].update.directory",
        ),
    ] {
        let r = update(&app, json!([item.clone()])).await;
        let message = assert_error(&r, 400)["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(message.contains(field), "{item}: {message}");
    }
    assert_eq!(
        timeless(get(&app, json!({"id": a["id"]})).await),
        timeless(a)
    );

    assert_error(&app.post("/files/update", json!({"items": []})).await, 400);
    let many: Vec<Value> = (1..=1001).map(|i| json!({"id": i, "update": {}})).collect();
    assert_error(
        &app.post("/files/update", json!({"items": many})).await,
        400,
    );
    assert_error(&app.post("/files/update", json!({})).await, 400);
    let r = app
        .post(
            "/files/update",
            json!({"items": [{"externalId": "xa", "update": {}}], "ignoreUnknownIds": true}),
        )
        .await;
    assert_error(&r, 400);
}

#[tokio::test]
async fn an_empty_update_only_touches_last_updated_time() {
    let app = TestApp::spawn().await;
    let a = app.create(full_body("e")).await;
    tick().await;
    let u = update_ok(&app, json!([{"externalId": "e", "update": {}}])).await;
    assert!(u[0]["lastUpdatedTime"].as_i64().unwrap() > a["lastUpdatedTime"].as_i64().unwrap());
    assert_eq!(timeless(u[0].clone()), timeless(a));
}

#[tokio::test]
async fn many_items_answer_in_request_order_and_a_thousand_are_accepted() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(app.create(json!({"name": format!("f{i}")})).await["id"].clone());
    }
    ids.reverse();
    let items: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "update": {"metadata": {"add": {"n": "1"}}}}))
        .collect();
    let u = update_ok(&app, json!(items)).await;
    assert_eq!(
        u.iter().map(|f| f["id"].clone()).collect::<Vec<_>>(),
        ids,
        "request order"
    );
    assert_eq!(
        list_ids(&app, json!({"metadata": {"n": "1"}})).await.len(),
        30
    );

    // 1000 items pass the request checks (they are all unknown here, so the answer is missing).
    let unknown: Vec<Value> = (1..=1000)
        .map(|i| json!({"externalId": format!("u{i}"), "update": {}}))
        .collect();
    let r = update(&app, json!(unknown)).await;
    assert_eq!(
        assert_error(&r, 400)["missing"].as_array().unwrap().len(),
        1000
    );
}

/// The spatial index follows a changed geoLocation, by update and by overwrite: the file is found at its
/// new place and no longer at its old one.
#[tokio::test]
async fn a_moved_file_is_found_where_it_now_is() {
    let app = TestApp::spawn().await;
    let f = app.create(full_body("geo")).await;
    let id = f["id"].as_i64().unwrap();
    let near = |x: f64, y: f64| {
        json!({"geoLocation": {"relation": "intersects", "shape": {"type": "Polygon", "coordinates":
            [[[x - 0.5, y - 0.5], [x + 0.5, y - 0.5], [x + 0.5, y + 0.5], [x - 0.5, y + 0.5], [x - 0.5, y - 0.5]]]}}})
    };
    assert_eq!(list_ids(&app, near(10.0, 59.0)).await, [id]);

    update_ok(
        &app,
        json!([{"id": id, "update": {"geoLocation": {"set": point(1.0, 2.0)}}}]),
    )
    .await;
    assert_eq!(list_ids(&app, near(1.0, 2.0)).await, [id]);
    assert!(list_ids(&app, near(10.0, 59.0)).await.is_empty());

    let r = app
        .post(
            "/files?overwrite=true",
            json!({"name": "full.txt", "externalId": "geo", "geoLocation": point(-20.0, 30.0)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(list_ids(&app, near(-20.0, 30.0)).await, [id]);
    assert!(list_ids(&app, near(1.0, 2.0)).await.is_empty());

    update_ok(
        &app,
        json!([{"id": id, "update": {"geoLocation": {"setNull": true}}}]),
    )
    .await;
    assert!(list_ids(&app, near(-20.0, 30.0)).await.is_empty());
}
