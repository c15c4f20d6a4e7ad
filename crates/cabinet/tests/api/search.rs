//! `POST /files/search`: the name ranking, the filter, limits, and the index following writes.

use futures_util::stream::{self, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

async fn create(app: &TestApp, body: Value) -> i64 {
    app.create(body).await["id"].as_i64().unwrap()
}

/// Creates files with these names; returns their ids in the same order.
async fn create_named(app: &TestApp, names: &[&str]) -> Vec<i64> {
    let mut ids = Vec::new();
    for name in names {
        ids.push(create(app, json!({ "name": name })).await);
    }
    ids
}

async fn search(app: &TestApp, body: Value) -> Vec<i64> {
    let r = app.post("/files/search", body).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_i64().unwrap())
        .collect()
}

async fn find(app: &TestApp, name: &str) -> Vec<i64> {
    search(app, json!({ "search": { "name": name } })).await
}

fn sorted(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort();
    ids
}

/// The expected answer: tiers in order, each tier by id.
fn tiers(tiers: &[&[i64]]) -> Vec<i64> {
    tiers.iter().flat_map(|t| sorted(t.to_vec())).collect()
}

#[tokio::test]
async fn exact_beats_prefix_beats_word_beats_typo_and_ties_go_by_id() {
    let app = TestApp::spawn().await;
    let ids = create_named(
        &app,
        &[
            "pump",                // 0 exact
            "Pump_Station_01.pdf", // 1 prefix
            "valve",               // 2 no match
            "PUMP",                // 3 exact, ignoring case
            "big pump house",      // 4 whole word
            "pmup notes",          // 5 typo: swapped letters
            "pumps.txt",           // 6 prefix
            "old pumo",            // 7 typo: one letter wrong
            "station pump",        // 8 whole word
            "pumping station",     // 9 prefix
            "the pumping house",   // 10 word prefix
            "pmp",                 // 11 typo: one letter missing
            "pimpernel",           // 12 too far
        ],
    )
    .await;
    let expected = tiers(&[
        &[ids[0], ids[3]],
        &[ids[1], ids[6], ids[9]],
        &[ids[4], ids[8]],
        &[ids[10]],
        &[ids[5], ids[7], ids[11]],
    ]);
    assert_eq!(find(&app, "pump").await, expected);
    assert_eq!(
        find(&app, "  PuMp ").await,
        expected,
        "case and surrounding space do not matter"
    );
}

#[tokio::test]
async fn words_match_anywhere_and_the_name_prefix_runs_across_words() {
    let app = TestApp::spawn().await;
    let ids = create_named(
        &app,
        &[
            "Pump Station report.pdf",
            "report of the pump station",
            "pump-station",
            "station",
            "pump house",
        ],
    )
    .await;
    assert_eq!(
        find(&app, "pump sta").await,
        tiers(&[&[ids[0], ids[2]], &[ids[1]]])
    );
    assert_eq!(
        find(&app, "pump station").await,
        tiers(&[&[ids[0], ids[2]], &[ids[1]]])
    );
    assert_eq!(
        find(&app, "station report").await,
        tiers(&[&[ids[0], ids[1]]])
    );
    assert_eq!(
        find(&app, "pump-station").await,
        tiers(&[&[ids[2]], &[ids[0]], &[ids[1]]]),
        "punctuation separates words"
    );
}

#[tokio::test]
async fn one_typo_for_short_words_and_two_for_long_ones() {
    let app = TestApp::spawn().await;
    let ids = create_named(&app, &["compressor.pdf", "valve.pdf", "heat exchanger"]).await;
    assert_eq!(
        find(&app, "kompresor").await,
        [ids[0]],
        "two edits in a word of 9 letters"
    );
    assert_eq!(
        find(&app, "kmpresor").await,
        Vec::<i64>::new(),
        "three edits"
    );
    assert_eq!(
        find(&app, "valbe").await,
        [ids[1]],
        "one edit in a word of 5 letters"
    );
    assert_eq!(
        find(&app, "vakbe").await,
        Vec::<i64>::new(),
        "two edits in a word of 5 letters"
    );
    assert_eq!(
        find(&app, "haet exchnager").await,
        [ids[2]],
        "every word may have its own typos"
    );
    assert_eq!(
        find(&app, "heat exchanger pump").await,
        Vec::<i64>::new(),
        "every query word must match"
    );
}

#[tokio::test]
async fn matching_ignores_case_and_diacritics() {
    let app = TestApp::spawn().await;
    let ids = create_named(&app, &["Café Crème.PDF", "CAFE", "cafeteria"]).await;
    assert_eq!(
        find(&app, "cafe").await,
        tiers(&[&[ids[1]], &[ids[0], ids[2]]])
    );
    assert_eq!(find(&app, "café crème.pdf").await, [ids[0]]);
    assert_eq!(find(&app, "CREME").await, [ids[0]]);
}

#[tokio::test]
async fn files_that_do_not_match_are_absent() {
    let app = TestApp::spawn().await;
    create_named(&app, &["pump", "valve", "compressor"]).await;
    assert_eq!(find(&app, "zebra").await, Vec::<i64>::new());
    assert_eq!(find(&app, "--").await, Vec::<i64>::new());
}

#[tokio::test]
async fn the_filter_and_the_name_must_both_match() {
    let app = TestApp::spawn().await;
    let pdf_a = create(
        &app,
        json!({"name": "pump a", "mimeType": "application/pdf", "directory": "/plant/a", "metadata": {"site": "x"}}),
    )
    .await;
    let txt_a = create(
        &app,
        json!({"name": "pump b", "mimeType": "text/plain", "directory": "/plant/a"}),
    )
    .await;
    let pdf_b = create(
        &app,
        json!({"name": "pump c", "mimeType": "application/pdf", "directory": "/plant/b", "metadata": {"site": "y"}}),
    )
    .await;
    let valve = create(
        &app,
        json!({"name": "valve", "mimeType": "application/pdf", "directory": "/plant/a"}),
    )
    .await;

    let body = |filter: Value| json!({"filter": filter, "search": {"name": "pump"}});
    assert_eq!(
        search(&app, body(json!({"mimeType": "application/pdf"}))).await,
        sorted(vec![pdf_a, pdf_b])
    );
    assert_eq!(
        search(&app, body(json!({"directoryPrefix": "/plant/a"}))).await,
        sorted(vec![pdf_a, txt_a])
    );
    assert_eq!(
        search(&app, body(json!({"metadata": {"site": "y"}}))).await,
        [pdf_b]
    );
    assert_eq!(
        search(
            &app,
            body(json!({"mimeType": "application/pdf", "directoryPrefix": "/plant/a"}))
        )
        .await,
        [pdf_a]
    );
    assert_eq!(
        search(&app, body(json!({"mimeType": "image/png"}))).await,
        Vec::<i64>::new()
    );
    assert_eq!(
        search(
            &app,
            json!({"filter": {"directoryPrefix": "/plant/a"}, "search": {"name": "valve"}})
        )
        .await,
        [valve]
    );
}

#[tokio::test]
async fn without_a_name_the_filtered_files_come_in_listing_order() {
    let app = TestApp::spawn().await;
    let mut pdfs = Vec::new();
    let mut everything = Vec::new();
    for i in 0..5 {
        let pdf = create(
            &app,
            json!({"name": format!("doc {i}"), "mimeType": "application/pdf"}),
        )
        .await;
        pdfs.push(pdf);
        everything.push(pdf);
        let note = create(
            &app,
            json!({"name": format!("note {i}"), "mimeType": "text/plain"}),
        )
        .await;
        everything.push(note);
    }
    // Listing order is creation order.
    let filter = json!({"mimeType": "application/pdf"});
    assert_eq!(search(&app, json!({"filter": filter})).await, pdfs);
    assert_eq!(
        search(&app, json!({"filter": filter, "search": {"name": null}})).await,
        pdfs
    );
    assert_eq!(
        search(&app, json!({"filter": filter, "search": {}})).await,
        pdfs
    );
    assert_eq!(
        search(&app, json!({"filter": filter, "search": {"name": "  "}})).await,
        pdfs
    );
    assert_eq!(
        search(&app, json!({"filter": filter, "limit": 2})).await,
        pdfs[..2]
    );

    // What the Python SDK sends when it only filters.
    let all = search(
        &app,
        json!({"search": {"name": null}, "filter": {}, "limit": 25}),
    )
    .await;
    assert_eq!(all, everything);
    assert_eq!(search(&app, json!({})).await, all);
}

#[tokio::test]
async fn the_limit_is_respected_and_checked() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(create(&app, json!({"name": format!("pump {i}")})).await);
    }
    let ids = sorted(ids);
    assert_eq!(
        search(&app, json!({"search": {"name": "pump"}, "limit": 3})).await,
        ids[..3]
    );
    assert_eq!(
        search(&app, json!({"search": {"name": "pump"}, "limit": 1000})).await,
        ids
    );
    assert_eq!(
        search(&app, json!({"search": {"name": "pump"}})).await,
        ids,
        "default limit 100"
    );
    assert_eq!(
        search(&app, json!({"search": {"name": "pump"}, "limit": 5000})).await,
        ids,
        "a limit above 1000 is 1000"
    );
    for limit in [0, -1] {
        let r = app
            .post(
                "/files/search",
                json!({"search": {"name": "pump"}, "limit": limit}),
            )
            .await;
        assert_error(&r, 400);
    }
}

#[tokio::test]
async fn an_overwritten_file_is_found_by_its_new_name_only() {
    let app = TestApp::spawn().await;
    let id = create(
        &app,
        json!({"name": "alpha report.pdf", "externalId": "doc-1"}),
    )
    .await;
    assert_eq!(find(&app, "alpha").await, [id]);
    let r = app
        .post(
            "/files?overwrite=true",
            json!({"name": "beta summary.pdf", "externalId": "doc-1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(r.body["id"].as_i64(), Some(id));
    assert_eq!(find(&app, "alpha").await, Vec::<i64>::new());
    assert_eq!(
        find(&app, "alpah").await,
        Vec::<i64>::new(),
        "not even by a typo of the old name"
    );
    assert_eq!(find(&app, "beta").await, [id]);
    assert_eq!(find(&app, "sumary").await, [id]);
}

#[tokio::test]
async fn a_deleted_file_disappears() {
    let app = TestApp::spawn().await;
    let ids = create_named(&app, &["pump one", "pump two"]).await;
    let r = app
        .post("/files/delete", json!({"items": [{"id": ids[0]}]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(find(&app, "pump").await, [ids[1]]);
    assert_eq!(find(&app, "one").await, Vec::<i64>::new());
    assert_eq!(find(&app, "pmup one").await, Vec::<i64>::new());
}

#[tokio::test]
async fn projects_are_isolated() {
    let mut app = TestApp::spawn().await;
    let mine = create_named(&app, &["pump house"]).await;
    let home = app.project.clone();
    app.project = unique_project();
    let theirs = create_named(&app, &["pump station", "pump house"]).await;
    assert_eq!(find(&app, "pump").await, sorted(theirs));
    assert_eq!(search(&app, json!({})).await.len(), 2);
    app.project = unique_project();
    assert_eq!(
        find(&app, "pump").await,
        Vec::<i64>::new(),
        "a project with no files"
    );
    app.project = home;
    assert_eq!(find(&app, "pump").await, mine);
    assert_eq!(find(&app, "station").await, Vec::<i64>::new());
}

/// Enough files that a search without a filter is served from the name indexes, not ranked in memory.
#[tokio::test]
async fn a_large_project_is_searched_through_the_indexes() {
    let app = TestApp::spawn().await;
    let fillers: Vec<i64> = stream::iter(0..2100)
        .map(|i| {
            let app = &app;
            async move {
                create(
                    app,
                    json!({"name": format!("filler {i}.txt"), "mimeType": "text/plain"}),
                )
                .await
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let ids = create_named(
        &app,
        &["pump", "Pump_Station.pdf", "big pump", "pmup", "valve"],
    )
    .await;
    assert_eq!(find(&app, "pump").await, ids[..4]);
    let seven = search(&app, json!({"filter": {"name": "filler 7.txt"}})).await;
    assert_eq!(seven.len(), 1);
    // Exact first, then the word prefixes: filler 7*.txt (111 of them).
    let sevens = find(&app, "filler 7.txt").await;
    assert_eq!((sevens[0], sevens.len()), (seven[0], 100));
    let filtered = search(
        &app,
        json!({"filter": {"mimeType": "text/plain"}, "search": {"name": "filler"}, "limit": 1000}),
    )
    .await;
    assert_eq!(filtered, sorted(fillers)[..1000]);
    assert_eq!(
        search(
            &app,
            json!({"filter": {"mimeType": "text/plain"}, "search": {"name": "pump"}})
        )
        .await,
        Vec::<i64>::new()
    );
}
