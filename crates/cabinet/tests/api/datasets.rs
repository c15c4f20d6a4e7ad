//! Data sets over HTTP: create (limits, externalId uniqueness), byids, list (every filter, paging),
//! aggregate, update (every field and operation, all or nothing), files filtered by data set externalId,
//! and `datasetsAcl` with write protection.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, capability, AccessConfig, TestApp};

/// Which created items a filter must return.
type Keep = Box<dyn Fn(&Value) -> bool>;

async fn create(app: &TestApp, items: Value) -> Vec<Value> {
    app.create_items("/datasets", items).await
}

#[tokio::test]
async fn create_returns_every_field_and_byids_finds_them() {
    let app = TestApp::spawn().await;
    let made = create(
        &app,
        json!([
            {"externalId": "ds-a", "name": "A", "description": "first", "metadata": {"k": "v"}, "writeProtected": true},
            {"name": "no external id"}
        ]),
    )
    .await;
    assert_eq!(made.len(), 2);
    let a = &made[0];
    assert!(a["id"].as_i64().is_some_and(|id| id > 0));
    assert_eq!(a["externalId"], "ds-a");
    assert_eq!(a["name"], "A");
    assert_eq!(a["description"], "first");
    assert_eq!(a["metadata"], json!({"k": "v"}));
    assert_eq!(a["writeProtected"], true);
    assert_eq!(a["createdTime"], a["lastUpdatedTime"]);
    assert_eq!(made[1]["writeProtected"], false);
    assert!(made[1].get("externalId").is_none());
    assert_ne!(made[0]["id"], made[1]["id"]);

    let r = app
        .post(
            "/datasets/byids",
            json!({"items": [{"id": made[1]["id"]}, {"externalId": "ds-a"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["items"], json!([made[1], made[0]]));

    let r = app
        .post(
            "/datasets/byids",
            json!({"items": [{"externalId": "nope"}, {"id": 987654}]}),
        )
        .await;
    let e = assert_error(&r, 400);
    assert_eq!(
        e["missing"],
        json!([{"externalId": "nope"}, {"id": 987654}])
    );
    let r = app
        .post(
            "/datasets/byids",
            json!({"items": [{"externalId": "nope"}, {"externalId": "ds-a"}], "ignoreUnknownIds": true}),
        )
        .await;
    assert_eq!(r.body["items"], json!([made[0]]), "{r:?}");
}

#[tokio::test]
async fn create_refuses_taken_externalids_and_bad_items_whole() {
    let app = TestApp::spawn().await;
    create(&app, json!([{"externalId": "x"}])).await;
    let r = app
        .post(
            "/datasets",
            json!({"items": [{"externalId": "y"}, {"externalId": "x"}]}),
        )
        .await;
    let e = assert_error(&r, 409);
    assert_eq!(e["duplicated"], json!([{"externalId": "x"}]));
    let r = app
        .post(
            "/datasets",
            json!({"items": [{"externalId": "z"}, {"externalId": "z"}]}),
        )
        .await;
    assert_eq!(
        assert_error(&r, 409)["duplicated"],
        json!([{"externalId": "z"}])
    );
    // Nothing of a refused request was created.
    let r = app
        .post(
            "/datasets/byids",
            json!({"items": [{"externalId": "y"}, {"externalId": "z"}], "ignoreUnknownIds": true}),
        )
        .await;
    assert_eq!(r.body["items"], json!([]), "{r:?}");

    let eleven: Vec<Value> = (0..11).map(|i| json!({"name": format!("n{i}")})).collect();
    for body in [
        json!({"items": eleven}),
        json!({"items": []}),
        json!({"items": [{"name": "x".repeat(51)}]}),
        json!({"items": [{"description": "x".repeat(256)}]}),
        json!({"items": [{"externalId": "x".repeat(256)}]}),
        json!({"items": [{"writeProtected": "yes"}]}),
        json!({"items": [{"metadata": {"k": 1}}]}),
        json!({"items": [{"bogus": 1}]}),
    ] {
        let r = app.post("/datasets", body.clone()).await;
        assert_error(&r, 400);
    }
    let r = app.post("/datasets/aggregate", json!({})).await;
    assert_eq!(r.body["items"][0]["count"], 1, "{r:?}");
}

#[tokio::test]
async fn list_filters_and_pages_like_a_brute_force() {
    let app = TestApp::spawn().await;
    let mut all = Vec::new();
    for batch in 0..4 {
        let items: Vec<Value> = (0..10)
            .map(|i| {
                let n = batch * 10 + i;
                json!({
                    "externalId": format!("{}-{n}", if n % 3 == 0 { "three" } else { "other" }),
                    "name": format!("set {n}"),
                    "metadata": {"parity": if n % 2 == 0 { "even" } else { "odd" }},
                    "writeProtected": n % 5 == 0,
                })
            })
            .collect();
        all.extend(create(&app, json!(items)).await);
    }
    let created_max = all
        .iter()
        .map(|d| d["createdTime"].as_i64().unwrap())
        .max()
        .unwrap();
    let cases: Vec<(Value, Keep)> = vec![
        (json!({}), Box::new(|_| true)),
        (
            json!({"externalIdPrefix": "three"}),
            Box::new(|d| d["externalId"].as_str().unwrap().starts_with("three")),
        ),
        (
            json!({"metadata": {"parity": "even"}}),
            Box::new(|d| d["metadata"]["parity"] == "even"),
        ),
        (
            json!({"writeProtected": true}),
            Box::new(|d| d["writeProtected"] == true),
        ),
        (
            json!({"writeProtected": false, "metadata": {"parity": "odd"}}),
            Box::new(|d| d["writeProtected"] == false && d["metadata"]["parity"] == "odd"),
        ),
        (
            json!({"createdTime": {"max": created_max}}),
            Box::new(|_| true),
        ),
        (
            json!({"createdTime": {"min": created_max + 1}}),
            Box::new(|_| false),
        ),
        (
            json!({"lastUpdatedTime": {"min": 0, "max": created_max}}),
            Box::new(|_| true),
        ),
    ];
    for (filter, keep) in cases {
        let expected: Vec<Value> = all.iter().filter(|d| keep(d)).cloned().collect();
        // Pages of 7 with the cursor, and one page of 1000.
        let mut got = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut body = json!({"filter": filter, "limit": 7});
            if let Some(c) = &cursor {
                body["cursor"] = json!(c);
            }
            let r = app.post("/datasets/list", body).await;
            assert_eq!(r.status, StatusCode::OK, "{filter}: {r:?}");
            let items = r.body["items"].as_array().unwrap();
            assert!(items.len() <= 7);
            got.extend(items.iter().cloned());
            match r.body["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        assert_eq!(got, expected, "{filter}");
        let r = app
            .post("/datasets/list", json!({"filter": filter, "limit": 1000}))
            .await;
        assert_eq!(r.body["items"].as_array().unwrap(), &expected, "{filter}");
        let r = app
            .post("/datasets/aggregate", json!({"filter": filter}))
            .await;
        assert_eq!(
            r.body["items"][0]["count"],
            json!(expected.len()),
            "{filter}: {r:?}"
        );
    }
    // Default limit 25.
    let r = app.post("/datasets/list", json!({})).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 25);
    for body in [
        json!({"limit": 0}),
        json!({"limit": 1001}),
        json!({"filter": {"name": "x"}}),
        json!({"cursor": "garbage"}),
        json!({"filter": {"createdTime": {"from": 1}}}),
    ] {
        assert_error(&app.post("/datasets/list", body).await, 400);
    }
    // A cursor of one filter is not good for another.
    let r = app.post("/datasets/list", json!({"limit": 1})).await;
    let c = r.body["nextCursor"].as_str().unwrap();
    let r = app
        .post(
            "/datasets/list",
            json!({"limit": 1, "cursor": c, "filter": {"writeProtected": true}}),
        )
        .await;
    assert_error(&r, 400);
}

#[tokio::test]
async fn update_changes_every_field_all_or_nothing() {
    let app = TestApp::spawn().await;
    let made = create(
        &app,
        json!([
            {"externalId": "u1", "name": "one", "description": "d", "metadata": {"a": "1", "b": "2"}},
            {"externalId": "u2", "name": "two"}
        ]),
    )
    .await;
    let r = app
        .post(
            "/datasets/update",
            json!({"items": [
                {"id": made[0]["id"], "update": {
                    "externalId": {"set": "u1-new"}, "name": {"setNull": true},
                    "description": {"set": "new"}, "metadata": {"add": {"c": "3"}, "remove": ["a"]},
                    "writeProtected": {"set": true}}},
                {"externalId": "u2", "update": {"metadata": {"set": {"z": "9"}}, "description": {"setNull": true}}}
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let a = &r.body["items"][0];
    assert_eq!(a["externalId"], "u1-new");
    assert!(a.get("name").is_none(), "{a}");
    assert_eq!(a["description"], "new");
    assert_eq!(a["metadata"], json!({"b": "2", "c": "3"}));
    assert_eq!(a["writeProtected"], true);
    assert_eq!(a["createdTime"], made[0]["createdTime"]);
    assert!(a["lastUpdatedTime"].as_i64() >= made[0]["lastUpdatedTime"].as_i64());
    assert_eq!(r.body["items"][1]["metadata"], json!({"z": "9"}));
    let r = app
        .post(
            "/datasets/byids",
            json!({"items": [{"externalId": "u1-new"}]}),
        )
        .await;
    assert_eq!(r.body["items"][0], *a);

    // Two data sets may swap their externalIds in one request.
    let r = app
        .post(
            "/datasets/update",
            json!({"items": [
                {"externalId": "u1-new", "update": {"externalId": {"set": "u2"}}},
                {"externalId": "u2", "update": {"externalId": {"set": "u1-new"}}}
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["items"][0]["id"], made[0]["id"]);
    assert_eq!(r.body["items"][0]["externalId"], "u2");

    // A taken externalId is a 409, an unknown target a 400; nothing of either request changed.
    create(&app, json!([{"externalId": "third"}])).await;
    let r = app
        .post(
            "/datasets/update",
            json!({"items": [
                {"id": made[0]["id"], "update": {"name": {"set": "changed"}}},
                {"id": made[1]["id"], "update": {"externalId": {"set": "third"}}}
            ]}),
        )
        .await;
    assert_eq!(
        assert_error(&r, 409)["duplicated"],
        json!([{"externalId": "third"}])
    );
    let r = app
        .post(
            "/datasets/update",
            json!({"items": [
                {"id": made[0]["id"], "update": {"name": {"set": "changed"}}},
                {"id": 424242, "update": {"name": {"set": "x"}}}
            ]}),
        )
        .await;
    assert_eq!(assert_error(&r, 400)["missing"], json!([{"id": 424242}]));
    let r = app
        .post("/datasets/byids", json!({"items": [{"id": made[0]["id"]}]}))
        .await;
    assert!(r.body["items"][0].get("name").is_none(), "{r:?}");

    for update in [
        json!({"name": {"set": "x".repeat(51)}}),
        json!({"name": {"add": "x"}}),
        json!({"writeProtected": {"setNull": true}}),
        json!({"metadata": {"set": {}, "add": {"a": "b"}}}),
        json!({"metadata": {"add": {"k": "x".repeat(10241)}}}),
        json!({"id": {"set": 3}}),
    ] {
        let r = app
            .post(
                "/datasets/update",
                json!({"items": [{"id": made[0]["id"], "update": update}]}),
            )
            .await;
        assert_error(&r, 400);
    }
    let r = app
        .post(
            "/datasets/update",
            json!({"items": [{"id": made[0]["id"], "update": {}}, {"id": made[0]["id"], "update": {}}]}),
        )
        .await;
    assert_error(&r, 400);
}

#[tokio::test]
async fn files_filter_by_data_set_externalid_everywhere() {
    let app = TestApp::spawn().await;
    let sets = create(
        &app,
        json!([{"externalId": "alpha"}, {"externalId": "beta"}]),
    )
    .await;
    let (alpha, beta) = (
        sets[0]["id"].as_i64().unwrap(),
        sets[1]["id"].as_i64().unwrap(),
    );
    for (i, ds) in [Some(alpha), Some(alpha), Some(beta), None]
        .into_iter()
        .enumerate()
    {
        let mut body = json!({"name": format!("f{i}.txt"), "externalId": format!("f{i}")});
        if let Some(ds) = ds {
            body["dataSetId"] = json!(ds);
        }
        app.create(body).await;
    }
    let names = |r: &crate::helpers::Reply| -> Vec<String> {
        let mut v: Vec<String> = r.body["items"]
            .as_array()
            .unwrap_or_else(|| panic!("{r:?}"))
            .iter()
            .map(|f| f["externalId"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let filter = json!({"dataSetIds": [{"externalId": "alpha"}]});
    let r = app.post("/files/list", json!({"filter": filter})).await;
    assert_eq!(names(&r), ["f0", "f1"]);
    let r = app.post("/files/search", json!({"filter": filter})).await;
    assert_eq!(names(&r), ["f0", "f1"]);
    let r = app
        .post("/files/aggregate", json!({"filter": filter}))
        .await;
    assert_eq!(r.body["items"][0]["count"], 2, "{r:?}");
    let mixed = json!({"dataSetIds": [{"externalId": "beta"}, {"id": alpha}]});
    let r = app.post("/files/list", json!({"filter": mixed})).await;
    assert_eq!(names(&r), ["f0", "f1", "f2"]);
    let r = app
        .call(
            Method::GET,
            &format!(
                "/files?dataSetIds={}",
                urlencode(&json!([{"externalId": "beta"}]).to_string())
            ),
            None,
        )
        .await;
    assert_eq!(names(&r), ["f2"]);
    // Cursors keep working with a resolved filter.
    let r = app
        .post("/files/list", json!({"filter": filter, "limit": 1}))
        .await;
    let c = r.body["nextCursor"].as_str().expect("cursor").to_string();
    let r = app
        .post(
            "/files/list",
            json!({"filter": filter, "limit": 1, "cursor": c}),
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{r:?}");
    // An unknown data set externalId is a 400 naming it.
    let r = app
        .post(
            "/files/list",
            json!({"filter": {"dataSetIds": [{"externalId": "gamma"}]}}),
        )
        .await;
    assert_eq!(
        assert_error(&r, 400)["missing"],
        json!([{"externalId": "gamma"}])
    );
    let r = app
        .post(
            "/files/aggregate",
            json!({"filter": {"dataSetIds": [{"externalId": "gamma"}]}}),
        )
        .await;
    assert_error(&r, 400);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

const FORBIDDEN: u16 = 403;

/// Principals: an owner of every data set, a writer (WRITE on all, no OWNER), a reader scoped to one
/// data set by `idScope`, and a caller without datasetsAcl. All have filesAcl on all.
async fn configured() -> TestApp {
    let all = "all = {}";
    AccessConfig::new()
        .group("files", &[capability("filesAcl", &["READ", "WRITE"], all)])
        .group(
            "owner",
            &[capability("datasetsAcl", &["READ", "WRITE", "OWNER"], all)],
        )
        .group(
            "writer",
            &[capability("datasetsAcl", &["READ", "WRITE"], all)],
        )
        .group(
            "scoped-reader",
            &[capability(
                "datasetsAcl",
                &["READ"],
                "idScope = { ids = [1] }",
            )],
        )
        .token("owner", &["files", "owner"])
        .token("writer", &["files", "writer"])
        .token("scoped", &["files", "scoped-reader"])
        .token("none", &["files"])
        .spawn()
        .await
}

#[tokio::test]
async fn datasets_acl_and_write_protection() {
    let app = configured().await;
    // No datasetsAcl: no data set calls.
    assert_eq!(
        app.post_as("none-token", "/datasets", json!({"items": [{}]}))
            .await
            .status
            .as_u16(),
        FORBIDDEN
    );
    assert_eq!(
        app.post_as("none-token", "/datasets/list", json!({}))
            .await
            .status
            .as_u16(),
        FORBIDDEN
    );
    assert_eq!(
        app.post_as("scoped-token", "/datasets", json!({"items": [{}]}))
            .await
            .status
            .as_u16(),
        FORBIDDEN
    );

    let r = app.post_as(
        "writer-token",
        "/datasets",
        json!({"items": [{"externalId": "open"}, {"externalId": "locked", "writeProtected": true}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let open = r.body["items"][0]["id"].as_i64().unwrap();
    let locked = r.body["items"][1]["id"].as_i64().unwrap();
    assert_eq!(open, 1, "the scoped reader's group names data set 1");

    // The idScope reader sees data set 1 only.
    let r = app
        .post_as("scoped-token", "/datasets/list", json!({}))
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{r:?}");
    assert_eq!(r.body["items"][0]["id"], open);
    let r = app
        .post_as("scoped-token", "/datasets/aggregate", json!({}))
        .await;
    assert_eq!(r.body["items"][0]["count"], 1, "{r:?}");
    let r = app
        .post_as(
            "scoped-token",
            "/datasets/byids",
            json!({"items": [{"id": locked}]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), FORBIDDEN, "{r:?}");
    let r = app
        .post_as(
            "scoped-token",
            "/datasets/update",
            json!({"items": [{"id": open, "update": {}}]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), FORBIDDEN, "{r:?}");

    // Updating a write-protected data set needs OWNER.
    let rename = |id: i64| json!({"items": [{"id": id, "update": {"name": {"set": "renamed"}}}]});
    assert_eq!(
        app.post_as("writer-token", "/datasets/update", rename(locked))
            .await
            .status
            .as_u16(),
        FORBIDDEN
    );
    assert_eq!(
        app.post_as("writer-token", "/datasets/update", rename(open))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.post_as("owner-token", "/datasets/update", rename(locked))
            .await
            .status,
        StatusCode::OK
    );

    // Files into a write-protected data set: only its owners create, move or update them.
    let file = |x: &str, ds: i64| json!({"name": "f", "externalId": x, "dataSetId": ds});
    assert_eq!(
        app.post_as("writer-token", "/files", file("w1", locked))
            .await
            .status
            .as_u16(),
        FORBIDDEN
    );
    assert_eq!(
        app.post_as("writer-token", "/files", file("w2", open))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.post_as("owner-token", "/files", file("o1", locked))
            .await
            .status,
        StatusCode::CREATED
    );
    let move_in =
        json!({"items": [{"externalId": "w2", "update": {"dataSetId": {"set": locked}}}]});
    assert_eq!(
        app.post_as("writer-token", "/files/update", move_in.clone())
            .await
            .status
            .as_u16(),
        FORBIDDEN
    );
    let touch = json!({"items": [{"externalId": "o1", "update": {"source": {"set": "s"}}}]});
    assert_eq!(
        app.post_as("writer-token", "/files/update", touch.clone())
            .await
            .status
            .as_u16(),
        FORBIDDEN
    );
    assert_eq!(
        app.post_as("owner-token", "/files/update", touch)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.post_as("owner-token", "/files/update", move_in)
            .await
            .status,
        StatusCode::OK
    );
    // Upload calls on files in a write-protected data set need OWNER too.
    let link = json!({"items": [{"externalId": "o1"}]});
    let r = app
        .post_as("writer-token", "/files/uploadlink", link.clone())
        .await;
    assert_eq!(r.status.as_u16(), FORBIDDEN, "{r:?}");
    let r = app
        .post_as(
            "writer-token",
            "/files/multiuploadlink?parts=2",
            link.clone(),
        )
        .await;
    assert_eq!(r.status.as_u16(), FORBIDDEN, "{r:?}");
    let r = app.post_as("owner-token", "/files/uploadlink", link).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = app
        .post_as(
            "writer-token",
            "/files/initmultipartupload?parts=2",
            file("m0", locked),
        )
        .await;
    assert_eq!(r.status.as_u16(), FORBIDDEN, "{r:?}");
    let r = app
        .post_as(
            "owner-token",
            "/files/initmultipartupload?parts=2",
            file("m1", locked),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let complete = json!({"externalId": "m1", "uploadId": r.body["uploadId"]});
    let r = app
        .post_as("writer-token", "/files/completemultipartupload", complete)
        .await;
    assert_eq!(r.status.as_u16(), FORBIDDEN, "{r:?}");
    let del = json!({"items": [{"externalId": "o1"}]});
    assert_eq!(
        app.post_as("writer-token", "/files/delete", del.clone())
            .await
            .status
            .as_u16(),
        FORBIDDEN
    );
    assert_eq!(
        app.post_as("owner-token", "/files/delete", del)
            .await
            .status,
        StatusCode::OK
    );
}
