//! The store contracts (store/iam.rs, store/mod.rs) checked against every backend: one test body per
//! property, run on SQLite and on a real PostgreSQL server (tests/common/postgres.rs), plus what only a
//! shared database has: concurrent starts and races between nodes (each node is a store with a pool of
//! its own on the same database).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use cabinet::auth::FileScope;
use cabinet::domain::{FileSpec, GeoLocation, Identifier, ProjectName};
use cabinet::store::iam::{
    CategoryPage, IamError, IamStore, Members, NewGroup, FIRST_STORED_GROUP_ID,
};
use cabinet::store::postgres::{migrate, PgOptions, PgStore};
use cabinet::store::sqlite::SqliteStore;
use cabinet::store::{NewSession, StoreError};
use common::postgres::fresh_database;
use tokio_postgres::NoTls;

/// Every test is bounded: a hung lock or server fails it instead of stalling the run.
const LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("the test took too long")
}

async fn sqlite_iam() -> (tempfile::TempDir, Arc<dyn IamStore>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("m.sqlite3"), 1).expect("opens");
    (dir, Arc::new(store))
}

async fn postgres_iam() -> Arc<dyn IamStore> {
    let url = fresh_database().await;
    Arc::new(
        PgStore::connect(&url, PgOptions::default())
            .await
            .expect("connects"),
    )
}

fn group(name: &str) -> NewGroup {
    NewGroup {
        name: name.into(),
        source_id: None,
        members: Some(Members::Subjects(vec!["s".into()])),
        capabilities: vec![
            serde_json::json!({"filesAcl": {"actions": ["READ"], "scope": {"all": {}}}}),
        ],
        metadata: [("k".to_string(), "v".to_string())].into(),
        app_ids: Some(vec!["app".into()]),
    }
}

async fn groups_round_trip_get_fresh_ids_and_stay_in_their_project(store: &dyn IamStore) {
    let a = store
        .create_groups("a", vec![group("one"), group("two")], 10)
        .await
        .expect("created");
    assert!(a[0].id > FIRST_STORED_GROUP_ID && a[1].id > a[0].id);
    assert!(matches!(
        store.delete_groups("b", &[a[0].id]).await,
        Err(IamError::UnknownIds(ids)) if ids == vec![a[0].id]
    ));
    store.delete_groups("a", &[a[1].id]).await.expect("deleted");
    let again = store
        .create_groups("a", vec![group("three")], 10)
        .await
        .expect("created");
    assert!(again[0].id > a[1].id, "ids are never reused");
    let all = store.all_groups().await.expect("read");
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], a[0]);
    assert_eq!(all[1], again[0]);
    assert!(matches!(
        store.create_groups("a", vec![group("x")], 2).await,
        Err(IamError::Limit(_))
    ));
    let everyone = NewGroup {
        members: Some(Members::All(
            cabinet::store::iam::AllUserAccounts::AllUserAccounts,
        )),
        app_ids: None,
        source_id: None,
        ..group("everyone")
    };
    let made = store
        .create_groups("b", vec![everyone.clone()], 10)
        .await
        .expect("created");
    let all = store.all_groups().await.expect("read");
    assert_eq!(all.last().expect("b's group").group, everyone);
    assert_eq!(all.last().expect("b's group").id, made[0].id);
}

async fn category_names_are_unique_and_deletes_all_or_nothing(store: &dyn IamStore) {
    let made = store
        .create_security_categories("a", vec!["x".into(), "y".into()])
        .await
        .expect("created");
    assert!(made[0].id >= 1 && made[1].id > made[0].id);
    assert!(matches!(
        store.create_security_categories("a", vec!["z".into(), "y".into()]).await,
        Err(IamError::NameTaken(n)) if n == vec!["y".to_string()]
    ));
    store
        .create_security_categories("b", vec!["y".into()])
        .await
        .expect("another project may reuse a name");
    assert!(matches!(
        store.delete_security_categories("a", &[made[0].id, 999]).await,
        Err(IamError::UnknownIds(ids)) if ids == vec![999]
    ));
    let page = |descending, after| CategoryPage {
        descending,
        after,
        limit: 1,
    };
    let first = store
        .security_categories("a", page(false, None))
        .await
        .expect("read");
    assert_eq!(first, vec![made[0].clone()], "z was not created");
    let next = store
        .security_categories("a", page(false, Some(made[0].id)))
        .await
        .expect("read");
    assert_eq!(next, vec![made[1].clone()]);
    let desc = store
        .security_categories("a", page(true, None))
        .await
        .expect("read");
    assert_eq!(desc, vec![made[1].clone()]);
    store
        .delete_security_categories("a", &[made[1].id])
        .await
        .expect("deleted");
    let recreated = store
        .create_security_categories("a", vec!["y".into()])
        .await
        .expect("a deleted name is free again");
    assert!(recreated[0].id > made[1].id, "ids are never reused");
}

async fn category_limit_is_all_or_nothing(store: &dyn IamStore) {
    let names = |from: usize, n: usize| (from..from + n).map(|i| format!("c{i}")).collect();
    store
        .create_security_categories("a", names(0, 999))
        .await
        .expect("999 fit");
    assert!(matches!(
        store.create_security_categories("a", names(999, 2)).await,
        Err(IamError::Limit(_))
    ));
    store
        .create_security_categories("a", names(999, 1))
        .await
        .expect("the thousandth fits");
}

#[tokio::test]
async fn sqlite_groups_round_trip_get_fresh_ids_and_stay_in_their_project() {
    let (_dir, store) = sqlite_iam().await;
    bounded(groups_round_trip_get_fresh_ids_and_stay_in_their_project(
        &*store,
    ))
    .await;
}

#[tokio::test]
async fn postgres_groups_round_trip_get_fresh_ids_and_stay_in_their_project() {
    let store = postgres_iam().await;
    bounded(groups_round_trip_get_fresh_ids_and_stay_in_their_project(
        &*store,
    ))
    .await;
}

#[tokio::test]
async fn sqlite_category_names_are_unique_and_deletes_all_or_nothing() {
    let (_dir, store) = sqlite_iam().await;
    bounded(category_names_are_unique_and_deletes_all_or_nothing(
        &*store,
    ))
    .await;
}

#[tokio::test]
async fn postgres_category_names_are_unique_and_deletes_all_or_nothing() {
    let store = postgres_iam().await;
    bounded(category_names_are_unique_and_deletes_all_or_nothing(
        &*store,
    ))
    .await;
}

#[tokio::test]
async fn sqlite_category_limit_is_all_or_nothing() {
    let (_dir, store) = sqlite_iam().await;
    bounded(category_limit_is_all_or_nothing(&*store)).await;
}

#[tokio::test]
async fn postgres_category_limit_is_all_or_nothing() {
    let store = postgres_iam().await;
    bounded(category_limit_is_all_or_nothing(&*store)).await;
}

/// Two nodes (two pools on one database) create the same category name at the same moment, many times:
/// each time exactly one succeeds and the other is told the name is taken. Likewise two nodes adding a
/// group to a project that has room for one more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_racing_nodes_create_a_category_name_once() {
    bounded(async {
        let url = fresh_database().await;
        let a = PgStore::connect(&url, PgOptions::default()).await.unwrap();
        let b = PgStore::connect(&url, PgOptions::default()).await.unwrap();
        for round in 0..30 {
            let name = format!("shared-{round}");
            let barrier = Arc::new(tokio::sync::Barrier::new(2));
            let race = |store: PgStore, barrier: Arc<tokio::sync::Barrier>, name: String| {
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.create_security_categories("p", vec![name]).await
                })
            };
            let (ra, rb) = tokio::join!(
                race(a.clone(), barrier.clone(), name.clone()),
                race(b.clone(), barrier.clone(), name.clone())
            );
            let results = [ra.unwrap(), rb.unwrap()];
            let won = results.iter().filter(|r| r.is_ok()).count();
            let lost = results
                .iter()
                .filter(|r| matches!(r, Err(IamError::NameTaken(n)) if *n == vec![name.clone()]))
                .count();
            assert_eq!((won, lost), (1, 1), "round {round}: {results:?}");

            let (ga, gb) = tokio::join!(
                a.create_groups("p", vec![group("g")], round + 1),
                b.create_groups("p", vec![group("g")], round + 1)
            );
            let ok = [ga.is_ok(), gb.is_ok()];
            assert_eq!(
                ok.iter().filter(|x| **x).count(),
                1,
                "round {round}: room for one more group"
            );
        }
        let all = a
            .security_categories(
                "p",
                CategoryPage {
                    descending: false,
                    after: None,
                    limit: 100,
                },
            )
            .await
            .unwrap();
        assert_eq!(all.len(), 30);
        assert_eq!(a.all_groups().await.unwrap().len(), 30);
    })
    .await;
}

/// Ten nodes starting at once on an empty database: every one starts, the schema is applied exactly
/// once, and a node started later finds nothing to apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_ten_nodes_starting_at_once_migrate_once() {
    bounded(async {
        let url = fresh_database().await;
        let starts: Vec<_> = (0..10)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { PgStore::connect(&url, PgOptions::default()).await })
            })
            .collect();
        for start in starts {
            start.await.unwrap().expect("every node starts");
        }
        let config = cabinet::store::postgres::parse_url(&url).unwrap();
        assert_eq!(
            migrate::migrate(&config).await.unwrap(),
            Vec::<i32>::new(),
            "nothing left to apply"
        );
        let (client, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
        tokio::spawn(connection);
        let versions: Vec<i32> = client
            .query(
                "SELECT version FROM cabinet_migrations ORDER BY version",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let known: Vec<i32> = migrate::MIGRATIONS.iter().map(|(v, _, _)| *v).collect();
        assert_eq!(versions, known);
        let trgm: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(trgm, 1);
    })
    .await;
}

/// A database migrated by a newer cabinet (a version this binary does not know) is refused, not
/// changed.
#[tokio::test]
async fn postgres_a_database_from_a_newer_version_is_refused() {
    bounded(async {
        let url = fresh_database().await;
        PgStore::connect(&url, PgOptions::default()).await.unwrap();
        let (client, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
        tokio::spawn(connection);
        client
            .execute(
                "INSERT INTO cabinet_migrations (version, name) VALUES (9999, 'future')",
                &[],
            )
            .await
            .unwrap();
        let refused = PgStore::connect(&url, PgOptions::default()).await;
        let message = refused.err().expect("refused").to_string();
        assert!(message.contains("newer"), "{message}");
    })
    .await;
}

fn file_spec(external_id: Option<&str>) -> FileSpec {
    FileSpec {
        name: "report.pdf".into(),
        external_id: external_id.map(Into::into),
        directory: Some("/plant/a".into()),
        mime_type: Some("application/pdf".into()),
        metadata: Some([("k".to_string(), "v".to_string())].into()),
        asset_ids: Some(vec![3, 1]),
        data_set_id: Some(7),
        source_created_time: Some(5),
        security_categories: None,
        labels: Some(vec!["l1".into()]),
        geo_location: Some(
            GeoLocation::parse(&serde_json::json!({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [10.5, 59.9]}
            }))
            .unwrap(),
        ),
        ..FileSpec::default()
    }
}

fn new_session() -> NewSession {
    NewSession {
        id: uuid::Uuid::new_v4().to_string(),
        parts: Some(3),
        expires_time: i64::MAX,
    }
}

fn project(name: &str) -> ProjectName {
    ProjectName::parse(name).unwrap()
}

/// Create, retrieve and delete on PostgreSQL keep the contract: every field round-trips, ids are
/// fresh, externalIds are unique per project, unknown identifiers are reported all at once in the form
/// given, and a delete is all or nothing.
#[tokio::test]
async fn postgres_files_create_retrieve_delete() {
    bounded(async {
        let store = PgStore::connect(&fresh_database().await, PgOptions::default())
            .await
            .unwrap();
        let all = FileScope::all();
        let p = project("plant");
        let a = store
            .create_file_in_scope(&p, file_spec(Some("a")), false, new_session(), 100, &all)
            .await
            .unwrap();
        let b = store
            .create_file_in_scope(&p, file_spec(None), false, new_session(), 101, &all)
            .await
            .unwrap();
        assert_ne!(a.id, b.id);
        assert!((1..=9007199254740991).contains(&a.id));
        let got = store
            .retrieve(
                &p,
                &[
                    Identifier::ExternalId("a".into()),
                    Identifier::Id(b.id),
                    Identifier::Id(a.id),
                ],
                false,
            )
            .await
            .unwrap();
        assert_eq!(got, vec![a.clone(), b.clone(), a.clone()]);
        assert_eq!(
            store
                .retrieve(&project("other"), &[Identifier::Id(a.id)], true)
                .await
                .unwrap(),
            vec![],
            "projects never see each other's files"
        );
        assert!(matches!(
            store
                .create_file_in_scope(&p, file_spec(Some("a")), false, new_session(), 102, &all)
                .await,
            Err(StoreError::Duplicated(d)) if d == vec![Identifier::ExternalId("a".into())]
        ));
        store
            .create_file_in_scope(
                &project("other"),
                file_spec(Some("a")),
                false,
                new_session(),
                102,
                &all,
            )
            .await
            .expect("another project may use the externalId");
        let over = FileSpec {
            name: "new.pdf".into(),
            ..FileSpec {
                external_id: Some("a".into()),
                ..FileSpec::default()
            }
        };
        let overwritten = store
            .create_file_in_scope(&p, over, true, new_session(), 103, &all)
            .await
            .unwrap();
        assert_eq!(
            (overwritten.id, overwritten.created_time),
            (a.id, a.created_time)
        );
        assert_eq!(overwritten.name, "new.pdf");
        assert_eq!(overwritten.directory, a.directory, "absent fields are kept");

        let missing = vec![
            Identifier::Id(424242),
            Identifier::ExternalId("nope".into()),
        ];
        let mut asked = missing.clone();
        asked.push(Identifier::Id(b.id));
        assert!(matches!(
            store.delete_in_scope(&p, &asked, false, &all).await,
            Err(StoreError::Missing(m)) if m == missing
        ));
        assert_eq!(
            store
                .retrieve(&p, &[Identifier::Id(b.id)], false)
                .await
                .unwrap()
                .len(),
            1,
            "nothing was deleted"
        );
        let deleted = store.delete_in_scope(&p, &asked, true, &all).await.unwrap();
        assert_eq!(deleted.len(), 1);
        assert_eq!(deleted[0].id, b.id);
        assert_eq!(deleted[0].sessions.len(), 1);
        assert!(store
            .retrieve(&p, &[Identifier::Id(b.id)], true)
            .await
            .unwrap()
            .is_empty());
        let c = store
            .create_file_in_scope(&p, file_spec(None), false, new_session(), 104, &all)
            .await
            .unwrap();
        assert!(c.id != b.id && c.id != a.id, "ids are never reused");
    })
    .await;
}

/// Two nodes create files at once: all ids distinct; racing creates of one externalId: exactly one
/// succeeds and the other is told it is duplicated; racing overwrites leave one file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_racing_nodes_create_files() {
    bounded(async {
        let url = fresh_database().await;
        let a = PgStore::connect(&url, PgOptions::default()).await.unwrap();
        let b = PgStore::connect(&url, PgOptions::default()).await.unwrap();
        let p = project("race");
        let mut ids = std::collections::HashSet::new();
        for round in 0..20 {
            let x = format!("x{round}");
            let barrier = Arc::new(tokio::sync::Barrier::new(2));
            let create = |store: PgStore, overwrite: bool, x: String, barrier: Arc<tokio::sync::Barrier>| {
                let p = p.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .create_file_in_scope(&p, file_spec(Some(&x)), overwrite, new_session(), 1, &FileScope::all())
                        .await
                })
            };
            let (ra, rb) = tokio::join!(
                create(a.clone(), false, x.clone(), barrier.clone()),
                create(b.clone(), false, x.clone(), barrier.clone())
            );
            let results = [ra.unwrap(), rb.unwrap()];
            let created: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
            let duplicated = results
                .iter()
                .filter(|r| matches!(r, Err(StoreError::Duplicated(d)) if *d == vec![Identifier::ExternalId(x.clone())]))
                .count();
            assert_eq!((created.len(), duplicated), (1, 1), "round {round}: {results:?}");
            assert!(ids.insert(created[0].id), "ids never repeat");

            let y = format!("y{round}");
            let (ra, rb) = tokio::join!(
                create(a.clone(), true, y.clone(), barrier.clone()),
                create(b.clone(), true, y.clone(), barrier.clone())
            );
            let (ra, rb) = (ra.unwrap().unwrap(), rb.unwrap().unwrap());
            assert_eq!(ra.id, rb.id, "round {round}: racing overwrites make one file");
            assert!(ids.insert(ra.id));
        }
    })
    .await;
}
