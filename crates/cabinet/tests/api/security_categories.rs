//! `securityCategoriesAcl` MEMBEROF on every files route: a file with security categories is visible and
//! writable only to a principal that is a member of every one of them, on top of its `filesAcl`. Three
//! principals, all with `filesAcl` READ and WRITE on `all`: a member of every category, a member of
//! category A only, and a member of none; three files: without categories, with [A], with [A, B].

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, Reply, TestApp};

const FORBIDDEN: &str = "Resource not found. This may also be due to insufficient access rights.";
const ALL: &str = "member-of-all-token";
const ONLY_A: &str = "member-of-a-token";
const NONE: &str = "member-of-none-token";
const A: i64 = 11;
const B: i64 = 22;

/// The three principals. The idscope is spelled `idScope` with a string id, as some clients send it.
async fn configured() -> TestApp {
    let project = crate::helpers::unique_project();
    let hash = |t: &str| cabinet::auth::token_sha256_hex(t);
    let toml = format!(
        r#"
[[project]]
name = "{project}"

[[project.group]]
name = "files"
capabilities = [{{ filesAcl = {{ actions = ["READ", "WRITE"], scope = {{ all = {{}} }} }} }}]

[[project.group]]
name = "every-category"
capabilities = [{{ securityCategoriesAcl = {{ actions = ["MEMBEROF", "LIST"], scope = {{ all = {{}} }} }} }}]

[[project.group]]
name = "category-a"
capabilities = [{{ securityCategoriesAcl = {{ actions = ["MEMBEROF"], scope = {{ idScope = {{ ids = ["{A}"] }} }} }} }}]

[[project.group]]
name = "lists-categories"
capabilities = [{{ securityCategoriesAcl = {{ actions = ["LIST"], scope = {{ all = {{}} }} }} }}]

[[project.service_token]]
subject = "all"
sha256 = "{}"
groups = ["files", "every-category"]

[[project.service_token]]
subject = "only-a"
sha256 = "{}"
groups = ["files", "category-a"]

[[project.service_token]]
subject = "none"
sha256 = "{}"
groups = ["files", "lists-categories"]
"#,
        hash(ALL),
        hash(ONLY_A),
        hash(NONE),
    );
    TestApp::spawn_with_access(project, &toml).await
}

async fn post_as(app: &TestApp, token: &str, path: &str, body: Value) -> Reply {
    app.call_as(token, Method::POST, path, Some(body)).await
}

/// Creates and uploads a file as the member of every category; returns its id.
async fn file_with(app: &TestApp, external_id: &str, categories: &[i64]) -> i64 {
    let body = json!({
        "name": format!("{external_id}.txt"),
        "externalId": external_id,
        "securityCategories": categories,
    });
    let r = post_as(app, ALL, "/files", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let url = r.body["uploadUrl"].as_str().expect("uploadUrl");
    assert_eq!(app.put(url, b"content".to_vec()).await, StatusCode::OK);
    r.body["id"].as_i64().expect("id")
}

struct Files {
    plain: i64,
    a: i64,
    ab: i64,
}

async fn three_files(app: &TestApp) -> Files {
    Files {
        plain: file_with(app, "plain", &[]).await,
        a: file_with(app, "a", &[A]).await,
        ab: file_with(app, "ab", &[A, B]).await,
    }
}

fn external_ids(r: &Reply) -> Vec<String> {
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let mut ids: Vec<String> = r.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|f| f["externalId"].as_str().unwrap_or_default().to_string())
        .collect();
    ids.sort();
    ids
}

fn count(r: &Reply) -> i64 {
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body["items"][0]["count"].as_i64().expect("count")
}

fn assert_forbidden(r: &Reply, what: &str) {
    let error = assert_error(r, 403);
    assert_eq!(error["message"], json!(FORBIDDEN), "{what}");
    assert!(error.get("missing").is_none(), "{what}: {r:?}");
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Who sees which file: (token, visible external ids in sorted order).
fn table() -> [(&'static str, Vec<String>); 3] {
    [
        (ALL, names(&["a", "ab", "plain"])),
        (ONLY_A, names(&["a", "plain"])),
        (NONE, names(&["plain"])),
    ]
}

#[tokio::test]
async fn every_read_path_shows_and_counts_only_files_of_the_callers_categories() {
    let app = configured().await;
    let files = three_files(&app).await;
    let id_of = |x: &str| match x {
        "plain" => files.plain,
        "a" => files.a,
        _ => files.ab,
    };
    for (token, visible) in table() {
        let who = token;
        let r = app.call_as(token, Method::GET, "/files", None).await;
        assert_eq!(external_ids(&r), visible, "GET /files as {who}");
        let r = post_as(&app, token, "/files/list", json!({})).await;
        assert_eq!(external_ids(&r), visible, "list as {who}");
        let r = post_as(
            &app,
            token,
            "/files/list",
            json!({"filter": {"uploaded": true}}),
        )
        .await;
        assert_eq!(external_ids(&r), visible, "filtered list as {who}");

        // One file per page: the cursor walk never lands on a hidden file.
        let mut walked = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..10 {
            let mut body = json!({"limit": 1});
            if let Some(c) = &cursor {
                body["cursor"] = json!(c);
            }
            let r = post_as(&app, token, "/files/list", body).await;
            walked.extend(external_ids(&r));
            cursor = r.body["nextCursor"].as_str().map(str::to_string);
            if cursor.is_none() {
                break;
            }
        }
        walked.sort();
        assert_eq!(walked, visible, "cursor walk as {who}");

        let mut walked = Vec::new();
        for p in ["1/3", "2/3", "3/3"] {
            let r = post_as(&app, token, "/files/list", json!({ "partition": p })).await;
            walked.extend(external_ids(&r));
        }
        walked.sort();
        assert_eq!(walked, visible, "partition walk as {who}");

        let r = post_as(&app, token, "/files/search", json!({"filter": {}})).await;
        assert_eq!(external_ids(&r), visible, "search by filter as {who}");
        for name in ["a.txt", "ab.txt", "plain.txt"] {
            let r = post_as(
                &app,
                token,
                "/files/search",
                json!({"search": {"name": name}}),
            )
            .await;
            let found = external_ids(&r);
            let x = name.trim_end_matches(".txt").to_string();
            assert_eq!(
                found.contains(&x),
                visible.contains(&x),
                "search {name} as {who}: {found:?}"
            );
        }

        let r = post_as(&app, token, "/files/aggregate", json!({})).await;
        assert_eq!(count(&r), visible.len() as i64, "count as {who}");
        let r = post_as(
            &app,
            token,
            "/files/aggregate",
            json!({"filter": {"externalIdPrefix": "a"}}),
        )
        .await;
        let with_a = visible.iter().filter(|x| x.starts_with('a')).count();
        assert_eq!(count(&r), with_a as i64, "filtered count as {who}");

        for x in ["plain", "a", "ab"] {
            let id = id_of(x);
            let byids = post_as(&app, token, "/files/byids", json!({"items": [{"id": id}]})).await;
            let by_xid = post_as(
                &app,
                token,
                "/files/byids",
                json!({"items": [{"externalId": x}]}),
            )
            .await;
            let get = app
                .call_as(token, Method::GET, &format!("/files/{id}"), None)
                .await;
            let link = post_as(
                &app,
                token,
                "/files/downloadlink",
                json!({"items": [{"id": id}]}),
            )
            .await;
            let ignoring = post_as(
                &app,
                token,
                "/files/byids",
                json!({"items": [{"id": id}], "ignoreUnknownIds": true}),
            )
            .await;
            if visible.contains(&x.to_string()) {
                assert_eq!(external_ids(&byids), names(&[x]), "byids {x} as {who}");
                assert_eq!(external_ids(&by_xid), names(&[x]), "byids {x} as {who}");
                assert_eq!(get.status, StatusCode::OK, "GET {x} as {who}: {get:?}");
                assert_eq!(link.status, StatusCode::OK, "downloadlink {x} as {who}");
                assert_eq!(external_ids(&ignoring), names(&[x]));
            } else {
                assert_forbidden(&byids, &format!("byids {x} as {who}"));
                assert_forbidden(&by_xid, &format!("byids {x} as {who}"));
                assert_forbidden(&get, &format!("GET {x} as {who}"));
                assert_forbidden(&link, &format!("downloadlink {x} as {who}"));
                assert!(
                    external_ids(&ignoring).is_empty(),
                    "ignoreUnknownIds {x} as {who}"
                );
            }
        }
    }

    // An unknown id stays a 400 `missing` for principals with `filesAcl` `all` (a hidden file is never
    // reported as missing, and never as found).
    let unknown = files.ab + 1_000_000;
    for token in [ALL, ONLY_A, NONE] {
        let r = post_as(
            &app,
            token,
            "/files/byids",
            json!({"items": [{"id": unknown}]}),
        )
        .await;
        assert_eq!(
            assert_error(&r, 400)["missing"],
            json!([{"id": unknown}]),
            "{token}"
        );
        let r = post_as(
            &app,
            token,
            "/files/byids",
            json!({"items": [{"id": files.ab}, {"id": unknown}]}),
        )
        .await;
        let error = assert_error(&r, 400);
        assert_eq!(error["missing"], json!([{"id": unknown}]), "{token}: {r:?}");
    }
}

#[tokio::test]
async fn writes_need_membership_of_every_category_before_and_after() {
    let app = configured().await;
    let files = three_files(&app).await;
    // An empty list is left out of a file's JSON.
    let categories_of = |r: &Reply| match &r.body["items"][0]["securityCategories"] {
        Value::Null => json!([]),
        v => v.clone(),
    };
    let update = |id: i64, patch: Value| json!({"items": [{"id": id, "update": patch}]});

    // Updating a visible file works; a hidden one is refused whatever the patch.
    let source = json!({"source": {"set": "s"}});
    for (token, allowed) in [
        (ALL, [true, true, true]),
        (ONLY_A, [true, true, false]),
        (NONE, [true, false, false]),
    ] {
        for (id, ok) in [files.plain, files.a, files.ab].into_iter().zip(allowed) {
            let r = post_as(&app, token, "/files/update", update(id, source.clone())).await;
            if ok {
                assert_eq!(r.status, StatusCode::OK, "{token} updates {id}: {r:?}");
            } else {
                assert_forbidden(&r, &format!("{token} updates {id}"));
            }
        }
    }

    // Adding a category needs membership of it.
    let add = |c: i64| json!({"securityCategories": {"add": [c]}});
    let r = post_as(&app, NONE, "/files/update", update(files.plain, add(A))).await;
    assert_forbidden(&r, "a non-member adds A");
    let r = post_as(&app, ONLY_A, "/files/update", update(files.plain, add(B))).await;
    assert_forbidden(&r, "a member of A adds B");
    let r = post_as(
        &app,
        ALL,
        "/files/byids",
        json!({"items": [{"id": files.plain}]}),
    )
    .await;
    assert_eq!(
        categories_of(&r),
        json!([]),
        "refused updates changed nothing"
    );
    let r = post_as(&app, ONLY_A, "/files/update", update(files.plain, add(A))).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(categories_of(&r), json!([A]));
    let r = post_as(&app, NONE, "/files/list", json!({})).await;
    assert!(
        external_ids(&r).is_empty(),
        "the file is hidden from a non-member now"
    );

    // Removing a category needs membership of it too (the file is not visible otherwise).
    let remove = |c: i64| json!({"securityCategories": {"remove": [c]}});
    let r = post_as(&app, NONE, "/files/update", update(files.plain, remove(A))).await;
    assert_forbidden(&r, "a non-member removes A");
    let r = post_as(&app, ONLY_A, "/files/update", update(files.ab, remove(B))).await;
    assert_forbidden(&r, "a member of A removes B");
    let r = post_as(
        &app,
        ONLY_A,
        "/files/update",
        update(files.plain, remove(A)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(categories_of(&r), json!([]));
    let set = json!({"securityCategories": {"set": [A, B]}});
    let r = post_as(&app, ONLY_A, "/files/update", update(files.a, set)).await;
    assert_forbidden(&r, "a member of A sets [A, B]");
    let r = post_as(&app, ALL, "/files/update", update(files.ab, remove(B))).await;
    assert_eq!(categories_of(&r), json!([A]), "{r:?}");
    let r = post_as(&app, ALL, "/files/update", update(files.ab, add(B))).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");

    // Creating: with categories one is a member of, yes; by POST /files or multipart alike.
    for (token, cats, ok) in [
        (ONLY_A, json!([A]), true),
        (ONLY_A, json!([A, B]), false),
        (NONE, json!([A]), false),
        (NONE, json!([]), true),
        (ALL, json!([B]), true),
    ] {
        let body = json!({"name": "new.txt", "securityCategories": cats});
        let r = post_as(&app, token, "/files", body.clone()).await;
        let m = post_as(&app, token, "/files/initmultipartupload?parts=2", body).await;
        for (r, route) in [(r, "create"), (m, "initmultipartupload")] {
            if ok {
                assert_eq!(
                    r.status,
                    StatusCode::CREATED,
                    "{route} {cats} as {token}: {r:?}"
                );
            } else {
                assert_forbidden(&r, &format!("{route} {cats} as {token}"));
            }
        }
    }
    // Overwriting a hidden file, even with categories one holds, is refused and changes nothing.
    let r = post_as(
        &app,
        ONLY_A,
        "/files?overwrite=true",
        json!({"name": "ab.txt", "externalId": "ab", "securityCategories": [A]}),
    )
    .await;
    assert_forbidden(&r, "overwrite of a hidden file");
    let r = post_as(
        &app,
        ALL,
        "/files/byids",
        json!({"items": [{"id": files.ab}]}),
    )
    .await;
    assert_eq!(categories_of(&r), json!([A, B]));

    // Uploads and deletes of a hidden file: refused; of a visible one: allowed.
    for (token, hidden) in [(ONLY_A, vec![files.ab]), (NONE, vec![files.a, files.ab])] {
        for id in hidden {
            let what = |route: &str| format!("{route} {id} as {token}");
            let r = post_as(
                &app,
                token,
                "/files/uploadlink",
                json!({"items": [{"id": id}]}),
            )
            .await;
            assert_forbidden(&r, &what("uploadlink"));
            let r = post_as(
                &app,
                token,
                "/files/multiuploadlink?parts=2",
                json!({"items": [{"id": id}]}),
            )
            .await;
            assert_forbidden(&r, &what("multiuploadlink"));
            let r = post_as(
                &app,
                token,
                "/files/completemultipartupload",
                json!({"id": id, "uploadId": "u"}),
            )
            .await;
            assert_forbidden(&r, &what("completemultipartupload"));
            let r = post_as(&app, token, "/files/delete", json!({"items": [{"id": id}]})).await;
            assert_forbidden(&r, &what("delete"));
            let r = post_as(
                &app,
                token,
                "/files/delete",
                json!({"items": [{"id": id}], "ignoreUnknownIds": true}),
            )
            .await;
            assert_eq!(
                r.status,
                StatusCode::OK,
                "{}: {r:?}",
                what("delete ignoring")
            );
        }
    }
    let r = post_as(
        &app,
        ALL,
        "/files/byids",
        json!({"items": [{"id": files.a}, {"id": files.ab}]}),
    )
    .await;
    assert_eq!(
        external_ids(&r),
        names(&["a", "ab"]),
        "nothing hidden was deleted"
    );

    let r = post_as(
        &app,
        ONLY_A,
        "/files/uploadlink",
        json!({"items": [{"id": files.a}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = post_as(
        &app,
        ONLY_A,
        "/files/multiuploadlink?parts=2",
        json!({"items": [{"id": files.a}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = post_as(
        &app,
        ONLY_A,
        "/files/delete",
        json!({"items": [{"id": files.a}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = post_as(
        &app,
        NONE,
        "/files/delete",
        json!({"items": [{"id": files.plain}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = post_as(
        &app,
        ALL,
        "/files/delete",
        json!({"items": [{"id": files.ab}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

#[tokio::test]
async fn token_inspect_echoes_the_idscope_as_cdf_spells_it() {
    let app = configured().await;
    let r = app
        .client
        .get(format!("{}/api/v1/token/inspect", app.base))
        .bearer_auth(ONLY_A)
        .send()
        .await
        .expect("request");
    let r = crate::helpers::reply(r).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let caps = r.body["capabilities"].as_array().expect("capabilities");
    let echoed = caps
        .iter()
        .find_map(|c| c.get("securityCategoriesAcl"))
        .expect("securityCategoriesAcl echoed");
    assert_eq!(
        echoed,
        &json!({"actions": ["MEMBEROF"], "scope": {"idscope": {"ids": [A]}}})
    );
}
