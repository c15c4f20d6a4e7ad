//! The assets endpoints, and the files filters that name assets, against brute force over what was
//! created.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, TestApp};

/// A hierarchy of `n` assets "a0".."a{n-1}": a0 and a1 are roots, every other asset's parent is an
/// earlier one (chosen by a fixed pseudo-random sequence). Returns parent index per asset.
fn shape(n: usize) -> Vec<Option<usize>> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (i >= 2).then(|| (x as usize) % i)
        })
        .collect()
}

/// Creates the hierarchy in one call, children before parents (as an SDK may send them).
async fn create_hierarchy(app: &TestApp, parents: &[Option<usize>]) -> BTreeMap<String, Value> {
    let items: Vec<Value> = parents
        .iter()
        .enumerate()
        .rev()
        .map(|(i, p)| {
            let mut item = json!({
                "externalId": format!("a{i}"),
                "name": format!("asset {i}"),
                "description": format!("pump number {i}"),
                "metadata": {"parity": (i % 2).to_string()},
                "source": if i % 3 == 0 { "sap" } else { "other" },
            });
            if let Some(p) = p {
                item["parentExternalId"] = json!(format!("a{p}"));
            }
            item
        })
        .collect();
    let r = app.post("/assets", json!({ "items": items })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["externalId"].as_str().unwrap().to_string(), a.clone()))
        .collect()
}

fn subtree(parents: &[Option<usize>], top: usize) -> BTreeSet<usize> {
    let mut out = BTreeSet::from([top]);
    loop {
        let before = out.len();
        for (i, p) in parents.iter().enumerate() {
            if p.is_some_and(|p| out.contains(&p)) {
                out.insert(i);
            }
        }
        if out.len() == before {
            return out;
        }
    }
}

async fn list_all(app: &TestApp, path: &str, filter: Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut cursor = Value::Null;
    loop {
        let r = app
            .post(
                path,
                json!({"filter": filter, "limit": 37, "cursor": cursor}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        for item in r.body["items"].as_array().unwrap() {
            out.insert(item["externalId"].as_str().unwrap().to_string());
        }
        cursor = r.body["nextCursor"].clone();
        if cursor.is_null() {
            return out;
        }
    }
}

fn names(ids: impl IntoIterator<Item = usize>, prefix: &str) -> BTreeSet<String> {
    ids.into_iter().map(|i| format!("{prefix}{i}")).collect()
}

#[tokio::test]
async fn a_hierarchy_lists_and_filters_as_brute_force_says() {
    let app = TestApp::spawn().await;
    let parents = shape(150);
    let created = create_hierarchy(&app, &parents).await;
    assert_eq!(created.len(), 150);
    for (i, p) in parents.iter().enumerate() {
        let a = &created[&format!("a{i}")];
        match p {
            None => assert_eq!(a["rootId"], a["id"]),
            Some(p) => {
                assert_eq!(a["parentId"], created[&format!("a{p}")]["id"]);
                let root = (0..2).find(|r| subtree(&parents, *r).contains(&i)).unwrap();
                assert_eq!(a["rootId"], created[&format!("a{root}")]["id"]);
            }
        }
    }
    let id = |i: usize| created[&format!("a{i}")]["id"].clone();
    let all = list_all(&app, "/assets/list", json!({})).await;
    assert_eq!(all, names(0..150, "a"));
    for top in [0, 1, 5, 17, 60] {
        let want = names(subtree(&parents, top), "a");
        let got = list_all(
            &app,
            "/assets/list",
            json!({"assetSubtreeIds": [{"id": id(top)}]}),
        )
        .await;
        assert_eq!(got, want, "subtree of a{top}");
        let got = list_all(
            &app,
            "/assets/list",
            json!({"assetSubtreeIds": [{"externalId": format!("a{top}")}]}),
        )
        .await;
        assert_eq!(got, want, "subtree of a{top} by externalId");
        let children: Vec<usize> = (0..150).filter(|i| parents[*i] == Some(top)).collect();
        let got = list_all(&app, "/assets/list", json!({"parentIds": [id(top)]})).await;
        assert_eq!(got, names(children.clone(), "a"));
        let got = list_all(
            &app,
            "/assets/list",
            json!({"parentExternalIds": [format!("a{top}")]}),
        )
        .await;
        assert_eq!(got, names(children, "a"));
    }
    let got = list_all(&app, "/assets/list", json!({"rootIds": [{"id": id(1)}]})).await;
    assert_eq!(got, names(subtree(&parents, 1), "a"));
    let got = list_all(&app, "/assets/list", json!({"root": true})).await;
    assert_eq!(got, names([0, 1], "a"));
    let got = list_all(
        &app,
        "/assets/list",
        json!({"metadata": {"parity": "1"}, "source": "sap"}),
    )
    .await;
    assert_eq!(
        got,
        names((0..150).filter(|i| i % 2 == 1 && i % 3 == 0), "a")
    );
    let got = list_all(&app, "/assets/list", json!({"externalIdPrefix": "a14"})).await;
    assert_eq!(
        got,
        names([14, 140, 141, 142, 143, 144, 145, 146, 147, 148, 149], "a")
    );
    let got = list_all(&app, "/assets/list", json!({"name": "asset 7"})).await;
    assert_eq!(got, names([7], "a"));

    // Partitions split the whole list.
    let mut union = BTreeSet::new();
    for k in 1..=3 {
        let r = app
            .post(
                "/assets/list",
                json!({"partition": format!("{k}/3"), "limit": 1000}),
            )
            .await;
        for item in r.body["items"].as_array().unwrap() {
            assert!(union.insert(item["externalId"].as_str().unwrap().to_string()));
        }
    }
    assert_eq!(union, all);

    // Count, and GET with query parameters.
    let r = app
        .post(
            "/assets/aggregate",
            json!({"filter": {"assetSubtreeIds": [{"id": id(0)}]}}),
        )
        .await;
    assert_eq!(
        r.body["items"][0]["count"],
        json!(subtree(&parents, 0).len()),
        "{r:?}"
    );
    let r = app
        .get(&format!("/assets?parentIds=[{}]&limit=1000", id(0)))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(
        r.body["items"].as_array().unwrap().len(),
        (0..150).filter(|i| parents[*i] == Some(0)).count()
    );

    // byids with aggregated properties.
    let deep = (0..150).max_by_key(|i| {
        let mut d = 0;
        let mut at = *i;
        while let Some(p) = parents[at] {
            d += 1;
            at = p;
        }
        d
    });
    let deep = deep.unwrap();
    let r = app
        .post(
            "/assets/byids",
            json!({"items": [{"externalId": format!("a{deep}")}, {"id": id(0)}],
                   "aggregatedProperties": ["childCount", "depth", "path"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let a = &r.body["items"][0];
    let path = a["aggregates"]["path"].as_array().unwrap();
    assert_eq!(a["aggregates"]["depth"], json!(path.len() - 1));
    assert_eq!(path.last().unwrap()["id"], id(deep));
    assert_eq!(
        r.body["items"][1]["aggregates"]["childCount"],
        json!((0..150).filter(|i| parents[*i] == Some(0)).count())
    );

    // Search by words of the name or description.
    let r = app
        .post(
            "/assets/search",
            json!({"search": {"query": "asset 42"}, "limit": 5}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["items"][0]["externalId"], json!("a42"), "{r:?}");
}

#[tokio::test]
async fn files_filter_by_asset_subtree_root_and_external_ids() {
    let app = TestApp::spawn().await;
    let parents = shape(60);
    let created = create_hierarchy(&app, &parents).await;
    let id = |i: usize| created[&format!("a{i}")]["id"].as_i64().unwrap();
    // File f{j} links to the assets j and (j * 7) % 60.
    let links: Vec<[usize; 2]> = (0..40).map(|j| [j, (j * 7) % 60]).collect();
    for (j, l) in links.iter().enumerate() {
        app.create(json!({
            "name": format!("f{j}"),
            "externalId": format!("f{j}"),
            "assetIds": [id(l[0]), id(l[1])],
        }))
        .await;
    }
    let files_linked_to = |set: &BTreeSet<usize>| {
        names(
            (0..links.len()).filter(|j| links[*j].iter().any(|a| set.contains(a))),
            "f",
        )
    };
    for top in [0, 1, 3, 11] {
        let want = files_linked_to(&subtree(&parents, top));
        let got = list_all(
            &app,
            "/files/list",
            json!({"assetSubtreeIds": [{"id": id(top)}]}),
        )
        .await;
        assert_eq!(got, want, "files in the subtree of a{top}");
        let r = app
            .post(
                "/files/aggregate",
                json!({"filter": {"assetSubtreeIds": [{"externalId": format!("a{top}")}]}}),
            )
            .await;
        assert_eq!(r.body["items"][0]["count"], json!(want.len()), "{r:?}");
        let r = app
            .get(&format!(
                "/files?assetSubtreeExternalIds=[\"a{top}\"]&limit=1000"
            ))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["items"].as_array().unwrap().len(), want.len());
    }
    let got = list_all(
        &app,
        "/files/list",
        json!({"rootAssetIds": [{"id": id(1)}]}),
    )
    .await;
    assert_eq!(got, files_linked_to(&subtree(&parents, 1)));
    let got = list_all(
        &app,
        "/files/list",
        json!({"assetExternalIds": ["a5", "a33", "nobody"]}),
    )
    .await;
    assert_eq!(got, files_linked_to(&BTreeSet::from([5, 33])));
    // Two conditions: both must hold.
    let got = list_all(
        &app,
        "/files/list",
        json!({"assetExternalIds": ["a5"], "assetSubtreeIds": [{"id": id(0)}]}),
    )
    .await;
    let want: BTreeSet<String> = files_linked_to(&BTreeSet::from([5]))
        .intersection(&files_linked_to(&subtree(&parents, 0)))
        .cloned()
        .collect();
    assert_eq!(got, want);
    let r = app
        .post(
            "/files/search",
            json!({"filter": {"assetSubtreeIds": [{"id": id(0)}]}, "limit": 1000}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(
        r.body["items"].as_array().unwrap().len(),
        files_linked_to(&subtree(&parents, 0)).len()
    );
    // An unknown subtree is a 400 that names it.
    let r = app
        .post(
            "/files/list",
            json!({"filter": {"assetSubtreeIds": [{"externalId": "nobody"}]}}),
        )
        .await;
    let e = assert_error(&r, 400);
    assert_eq!(e["missing"], json!([{"externalId": "nobody"}]));
}

#[tokio::test]
async fn writes_check_parents_external_ids_moves_and_children() {
    let app = TestApp::spawn().await;
    let parents = shape(20);
    let created = create_hierarchy(&app, &parents).await;
    let id = |i: usize| created[&format!("a{i}")]["id"].as_i64().unwrap();

    let r = app
        .post(
            "/assets",
            json!({"items": [{"name": "x", "parentExternalId": "nobody"}]}),
        )
        .await;
    assert_eq!(
        assert_error(&r, 400)["missing"],
        json!([{"externalId": "nobody"}])
    );
    let r = app
        .post(
            "/assets",
            json!({"items": [{"name": "x", "externalId": "a3"}]}),
        )
        .await;
    assert_eq!(
        assert_error(&r, 409)["duplicated"],
        json!([{"externalId": "a3"}])
    );
    let r = app
        .post(
            "/assets",
            json!({"items": [{"name": "x", "externalId": "c1", "parentExternalId": "c2"},
                             {"name": "y", "externalId": "c2", "parentExternalId": "c1"}]}),
        )
        .await;
    assert_error(&r, 400);
    let r = app
        .post(
            "/assets/byids",
            json!({"items": [{"id": 1_234_567_890_123i64}]}),
        )
        .await;
    assert_error(&r, 400);
    let r = app
        .post(
            "/assets/byids",
            json!({"items": [{"id": 1_234_567_890_123i64}], "ignoreUnknownIds": true}),
        )
        .await;
    assert_eq!(r.body["items"], json!([]));

    // Update fields, then move a subtree under another branch of the same root.
    let leaf = (2..20).find(|i| !parents.contains(&Some(*i))).unwrap();
    let r = app
        .post(
            "/assets/update",
            json!({"items": [{"externalId": format!("a{leaf}"), "update": {
                "name": {"set": "renamed"}, "description": {"setNull": true},
                "metadata": {"add": {"k": "v"}}, "labels": {"add": [{"externalId": "L"}]}}}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let a = &r.body["items"][0];
    assert_eq!(a["name"], json!("renamed"));
    assert!(a.get("description").is_none());
    assert_eq!(a["metadata"]["k"], json!("v"));
    assert_eq!(a["labels"], json!([{"externalId": "L"}]));
    let r = app
        .post(
            "/assets/list",
            json!({"filter": {"labels": {"containsAny": [{"externalId": "L"}]}}}),
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);

    // A node of root 1 with its subtree moves under another node of root 1 outside it.
    let in0 = subtree(&parents, 1);
    let mover = (2..20)
        .find(|i| in0.contains(i) && parents[*i].is_some() && subtree(&parents, *i).len() > 1)
        .unwrap_or_else(|| (2..20).find(|i| in0.contains(i)).unwrap());
    let moved = subtree(&parents, mover);
    if let Some(target) = in0
        .iter()
        .copied()
        .find(|t| !moved.contains(t) && Some(*t) != parents[mover])
    {
        let r = app
            .post(
                "/assets/update",
                json!({"items": [{"id": id(mover), "update": {"parentId": {"set": id(target)}}}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let got = list_all(
            &app,
            "/assets/list",
            json!({"assetSubtreeIds": [{"id": id(target)}]}),
        )
        .await;
        let mut want = parents.to_vec();
        want[mover] = Some(target);
        assert_eq!(got, names(subtree(&want, target), "a"));
        // Below itself, or into the other root: refused.
        let below = *moved.iter().last().unwrap();
        if below != mover {
            let r = app
                .post(
                    "/assets/update",
                    json!({"items": [{"id": id(mover), "update": {"parentId": {"set": id(below)}}}]}),
                )
                .await;
            assert_error(&r, 400);
        }
    }
    let r = app
        .post(
            "/assets/update",
            json!({"items": [{"id": id(mover), "update": {"parentId": {"set": id(0)}}}]}),
        )
        .await;
    assert_error(&r, 400);

    // Delete: a parent without recursive is a 400; recursive removes the subtree.
    let r = app
        .post("/assets/delete", json!({"items": [{"id": id(1)}]}))
        .await;
    assert_error(&r, 400);
    let r = app
        .post(
            "/assets/delete",
            json!({"items": [{"id": id(1)}], "recursive": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let left = list_all(&app, "/assets/list", json!({})).await;
    let r = app
        .post("/assets/list", json!({"filter": {"root": true}}))
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{r:?}");
    assert!(!left.contains("a1"));
    let r = app
        .post("/assets/delete", json!({"items": [{"id": id(1)}]}))
        .await;
    assert_eq!(assert_error(&r, 400)["missing"], json!([{"id": id(1)}]));
    let r = app
        .post(
            "/assets/delete",
            json!({"items": [{"id": id(1)}], "ignoreUnknownIds": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

#[tokio::test]
async fn assets_filter_by_data_set_external_id() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/datasets",
            json!({"items": [{"externalId": "north"}, {"externalId": "south"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let (north, south) = (
        r.body["items"][0]["id"].clone(),
        r.body["items"][1]["id"].clone(),
    );
    let r = app
        .post(
            "/assets",
            json!({"items": [
                {"externalId": "n1", "name": "n1", "dataSetId": north},
                {"externalId": "n2", "name": "n2", "dataSetId": north},
                {"externalId": "s1", "name": "s1", "dataSetId": south},
                {"externalId": "none", "name": "none"}
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let by_xid = list_all(
        &app,
        "/assets/list",
        json!({"dataSetIds": [{"externalId": "north"}]}),
    )
    .await;
    assert_eq!(by_xid, BTreeSet::from(["n1".to_string(), "n2".to_string()]));
    let mixed = list_all(
        &app,
        "/assets/list",
        json!({"dataSetIds": [{"externalId": "south"}, {"id": north}]}),
    )
    .await;
    assert_eq!(mixed.len(), 3, "{mixed:?}");
    let e = assert_error(
        &app.post(
            "/assets/list",
            json!({"filter": {"dataSetIds": [{"externalId": "nowhere"}]}}),
        )
        .await,
        400,
    );
    assert_eq!(e["missing"], json!([{"externalId": "nowhere"}]));
}
