//! The write side of the metadata store contract (store/mod.rs) on both backends: upload sessions,
//! publishing content, updates, the collectors' reads, expiry, and list/count/search over what was
//! written. Each property is one test body run on SQLite and on a real PostgreSQL server
//! (tests/common/postgres.rs); then what only a shared database has: the same writes racing from two
//! nodes (two stores, each with a pool of its own, on one database), which must end as one SQLite writer
//! would have left them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use cabinet::app::{Application, ServeConfig};
use cabinet::auth::{CategoryAccess, FileScope, FilesAccess};
use cabinet::domain::{
    ContentRef, FileFilter, FileSpec, FileUpdate, Identifier, ProjectName, UPLOAD_URL_TTL_MS,
};
use cabinet::store::backend::MetadataBackend;
use cabinet::store::postgres::{PgOptions, PgStore};
use cabinet::store::sqlite::SqliteStore;
use cabinet::store::{MetadataStore, NewSession, PageRequest, Partition, Published, StoreError};
use common::postgres::fresh_database;
use serde_json::json;

/// Every test is bounded: a hung lock or server fails it instead of stalling the run.
const LIMIT: std::time::Duration = std::time::Duration::from_secs(90);

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("the test took too long")
}

fn sqlite() -> (tempfile::TempDir, Arc<dyn MetadataStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("m.sqlite3"), 1).unwrap();
    (dir, Arc::new(store))
}

async fn postgres() -> Arc<dyn MetadataStore> {
    Arc::new(
        PgStore::connect(&fresh_database().await, PgOptions::default())
            .await
            .unwrap(),
    )
}

fn project(name: &str) -> ProjectName {
    ProjectName::parse(name).unwrap()
}

fn spec(name: &str, external_id: Option<&str>) -> FileSpec {
    FileSpec {
        name: name.into(),
        external_id: external_id.map(Into::into),
        ..FileSpec::default()
    }
}

fn session(id: &str, parts: Option<u32>, expires_time: i64) -> NewSession {
    NewSession {
        id: id.into(),
        parts,
        expires_time,
    }
}

/// Content as the API names it: the session's id is the last segment's part before `-`.
fn content(session: &str) -> ContentRef {
    ContentRef {
        key: format!("p/files/{session}-{}", uuid::Uuid::new_v4().simple()),
        size: 3,
    }
}

fn update(item: serde_json::Value) -> FileUpdate {
    FileUpdate::parse(&item).unwrap()
}

/// Sessions and publishing: a multipart session completes once; content from an older session never
/// replaces newer content; expired, unknown and deleted sessions are gone; each publish reports the
/// content it replaced.
async fn sessions_and_publish(store: &dyn MetadataStore) {
    let p = project("pub");
    let week = UPLOAD_URL_TTL_MS;
    let older = "0000000000a1";
    let newer = "0000000000b2";
    let f = store
        .create_file(
            &p,
            spec("f", Some("f")),
            false,
            session(older, Some(2), week),
            10,
        )
        .await
        .unwrap();
    let s = store.session(&p, f.id, older).await.unwrap().unwrap();
    assert_eq!(
        (s.file_id, s.parts, s.completed_time),
        (f.id, Some(2), None)
    );
    assert!(store
        .session(&project("other"), f.id, older)
        .await
        .unwrap()
        .is_none());
    assert!(store.session(&p, f.id + 1, older).await.unwrap().is_none());

    let by_id = Identifier::Id(f.id);
    store
        .open_session(
            &p,
            &Identifier::ExternalId("f".into()),
            session(newer, None, week),
        )
        .await
        .unwrap();
    let c_new = content(newer);
    assert_eq!(
        store
            .publish_content(&p, f.id, newer, c_new.clone(), 20)
            .await
            .unwrap(),
        Published::Replaced { previous: None }
    );
    assert!(matches!(
        store
            .publish_content(&p, f.id, older, content(older), 21)
            .await,
        Err(StoreError::Superseded)
    ));
    let got = store
        .retrieve(&p, std::slice::from_ref(&by_id), false)
        .await
        .unwrap();
    assert_eq!(got[0].content.as_ref(), Some(&c_new));
    assert_eq!(
        (got[0].uploaded_time, got[0].last_updated_time),
        (Some(20), 20)
    );

    // A multipart session of the same age completes once.
    let third = "0000000000c3";
    store
        .open_session(&p, &by_id, session(third, Some(3), week))
        .await
        .unwrap();
    let c3 = content(third);
    assert_eq!(
        store
            .publish_content(&p, f.id, third, c3.clone(), 30)
            .await
            .unwrap(),
        Published::Replaced {
            previous: Some(c_new)
        }
    );
    assert_eq!(
        store
            .publish_content(&p, f.id, third, content(third), 31)
            .await
            .unwrap(),
        Published::AlreadyCompleted
    );
    assert_eq!(
        store
            .session(&p, f.id, third)
            .await
            .unwrap()
            .unwrap()
            .completed_time,
        Some(30)
    );
    assert_eq!(
        store
            .open_sessions(&[third.into(), newer.into(), "nope".into()])
            .await
            .unwrap(),
        vec![newer.to_string()],
        "completed and unknown sessions are not open"
    );
    assert_eq!(
        store.content_keys(&[f.id + 1, f.id]).await.unwrap(),
        vec![(f.id, c3.key.clone())]
    );

    // Expired, unknown, and gone with the file.
    let late = "0000000000d4";
    store
        .open_session(&p, &by_id, session(late, None, 40))
        .await
        .unwrap();
    assert!(matches!(
        store
            .publish_content(&p, f.id, late, content(late), 41)
            .await,
        Err(StoreError::SessionGone)
    ));
    assert!(matches!(
        store
            .publish_content(&p, f.id, "0000000000e5", content("x"), 41)
            .await,
        Err(StoreError::SessionGone)
    ));
    let fresh = "0000000000f6";
    store
        .open_session(&p, &by_id, session(fresh, None, week))
        .await
        .unwrap();
    let deleted = store
        .delete(&p, std::slice::from_ref(&by_id), false)
        .await
        .unwrap();
    assert_eq!(deleted[0].content, Some(c3));
    let mut gone = deleted[0].sessions.clone();
    gone.sort();
    assert_eq!(gone, [older, newer, third, late, fresh]);
    assert!(matches!(
        store
            .publish_content(&p, f.id, fresh, content(fresh), 50)
            .await,
        Err(StoreError::SessionGone)
    ));
    assert!(matches!(
        store.open_session(&p, &by_id, session("s", None, week)).await,
        Err(StoreError::Missing(m)) if m == vec![by_id.clone()]
    ));
    assert!(store.content_keys(&[f.id]).await.unwrap().is_empty());
}

/// Updates: all or nothing, unknown targets all at once as given, externalId clashes (with a file
/// outside the batch or within it), swaps, limits, and one record per file named twice.
async fn updates(store: &dyn MetadataStore) {
    let p = project("upd");
    let week = UPLOAD_URL_TTL_MS;
    let mut ids = vec![];
    for x in ["a", "b", "c"] {
        let f = store
            .create_file(
                &p,
                spec(x, Some(x)),
                false,
                session(&format!("s-{x}"), None, week),
                1,
            )
            .await
            .unwrap();
        ids.push(f.id);
    }
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    assert!(matches!(
        store.update(&p, vec![
            update(json!({"id": a, "update": {"directory": {"set": "/x"}}})),
            update(json!({"id": 424242, "update": {}})),
            update(json!({"externalId": "zz", "update": {}})),
        ], 5).await,
        Err(StoreError::Missing(m)) if m == vec![Identifier::Id(424242), Identifier::ExternalId("zz".into())]
    ));
    assert!(matches!(
        store.update(&p, vec![
            update(json!({"id": a, "update": {"directory": {"set": "/x"}}})),
            update(json!({"id": b, "update": {"externalId": {"set": "c"}}})),
        ], 5).await,
        Err(StoreError::Duplicated(d)) if d == vec![Identifier::ExternalId("c".into())]
    ));
    assert!(matches!(
        store.update(&p, vec![
            update(json!({"id": a, "update": {"externalId": {"set": "q"}}})),
            update(json!({"id": b, "update": {"externalId": {"set": "q"}}})),
        ], 5).await,
        Err(StoreError::Duplicated(d)) if d == vec![Identifier::ExternalId("q".into())]
    ));
    let low: Vec<i64> = (1..=600).collect();
    let high: Vec<i64> = (601..=1200).collect();
    assert!(matches!(
        store
            .update(
                &p,
                vec![
                    update(json!({"id": a, "update": {"directory": {"set": "/x"}}})),
                    update(json!({"id": b, "update": {"assetIds": {"add": low}}})),
                    update(json!({"externalId": "b", "update": {"assetIds": {"add": high}}})),
                ],
                5
            )
            .await,
        Err(StoreError::Invalid(e)) if e.field == "items[2].update.assetIds"
    ));
    let unchanged = store
        .retrieve(&p, &[Identifier::Id(a)], false)
        .await
        .unwrap();
    assert_eq!(
        (
            unchanged[0].directory.as_deref(),
            unchanged[0].last_updated_time
        ),
        (None, 1),
        "failed updates changed nothing"
    );

    let done = store
        .update(
            &p,
            vec![
                update(json!({"id": a, "update": {"externalId": {"set": "b"}}})),
                update(json!({"externalId": "b", "update": {"externalId": {"set": "a"}}})),
                update(json!({"externalId": "c", "update": {"metadata": {"set": {"k": "1"}}}})),
                update(json!({"id": c, "update": {"metadata": {"add": {"j": "2"}}}})),
            ],
            7,
        )
        .await
        .unwrap();
    assert_eq!(
        done.iter()
            .map(|f| (f.id, f.external_id.clone().unwrap()))
            .collect::<Vec<_>>(),
        vec![
            (a, "b".into()),
            (b, "a".into()),
            (c, "c".into()),
            (c, "c".into())
        ],
        "a swap within one request is fine; targets resolve against the files before the request"
    );
    assert_eq!(
        done[2], done[3],
        "a file named twice answers as it is after both"
    );
    assert_eq!(done[2].metadata.len(), 2);
    assert!(done.iter().all(|f| f.last_updated_time == 7));
    let again = store
        .retrieve(&p, &[Identifier::ExternalId("a".into())], false)
        .await
        .unwrap();
    assert_eq!(again[0].id, b);

    // Scope: a data-set-scoped caller cannot move a file into a data set outside its scope.
    let scoped = FileScope {
        data_sets: FilesAccess::DataSets([1].into()),
        categories: CategoryAccess::All,
    };
    assert!(matches!(
        store
            .update_in_scope(
                &p,
                vec![update(
                    json!({"id": a, "update": {"dataSetId": {"set": 1}}})
                )],
                8,
                &scoped
            )
            .await,
        Err(StoreError::OutOfScope)
    ));
    assert!(matches!(
        store
            .update_in_scope(
                &p,
                vec![update(json!({"id": 424242, "update": {}}))],
                8,
                &scoped
            )
            .await,
        Err(StoreError::OutOfScope)
    ));
}

/// Expiry: files without content go a week after their creation unless a session could still deliver
/// some; expired sessions go; each call removes at most a batch.
async fn expiry(store: &dyn MetadataStore) {
    let p = project("exp");
    let week = UPLOAD_URL_TTL_MS;
    let empty = store
        .create_file(&p, spec("empty", None), false, session("s1", None, week), 0)
        .await
        .unwrap();
    let full = store
        .create_file(&p, spec("full", None), false, session("s2", None, week), 0)
        .await
        .unwrap();
    store
        .publish_content(&p, full.id, "s2", content("s2"), 10)
        .await
        .unwrap();
    let relinked = store
        .create_file(
            &p,
            spec("relinked", None),
            false,
            session("s3", None, week),
            0,
        )
        .await
        .unwrap();
    store
        .open_session(
            &p,
            &Identifier::Id(relinked.id),
            session("s4", None, 3 * week),
        )
        .await
        .unwrap();
    let early = store.expire(week - 1).await.unwrap();
    assert!(early.files.is_empty() && early.sessions.is_empty());
    let later = store.expire(week + 1).await.unwrap();
    assert_eq!(
        later.files.iter().map(|f| f.id).collect::<Vec<_>>(),
        vec![empty.id]
    );
    assert_eq!(later.files[0].sessions, vec!["s1".to_string()]);
    let mut expired = later.sessions.clone();
    expired.sort();
    assert_eq!(expired, ["s2", "s3"]);
    assert_eq!(store.count(&p, &FileFilter::default()).await.unwrap(), 2);
    let much_later = store.expire(3 * week + 1).await.unwrap();
    assert_eq!(
        much_later.files.iter().map(|f| f.id).collect::<Vec<_>>(),
        vec![relinked.id]
    );
    assert_eq!(much_later.files[0].sessions, vec!["s4".to_string()]);
    assert_eq!(store.count(&p, &FileFilter::default()).await.unwrap(), 1);

    // More than a batch: repeated calls take it all.
    for i in 0..1005 {
        store
            .create_file(
                &p,
                spec(&format!("n{i}"), None),
                false,
                session(&format!("b{i}"), None, week),
                0,
            )
            .await
            .unwrap();
    }
    let mut files = 0;
    let mut sessions = 0;
    loop {
        let e = store.expire(week + 1).await.unwrap();
        if e.files.is_empty() && e.sessions.is_empty() {
            break;
        }
        assert!(e.files.len() <= 1000);
        files += e.files.len();
        sessions += e.files.iter().map(|f| f.sessions.len()).sum::<usize>() + e.sessions.len();
    }
    assert_eq!((files, sessions), (1005, 1005));
    assert_eq!(store.count(&p, &FileFilter::default()).await.unwrap(), 1);
}

/// List, count and search over written files: listing order, cursors, partitions, filters, name tiers.
async fn reads(store: &dyn MetadataStore) {
    let p = project("read");
    let week = UPLOAD_URL_TTL_MS;
    let names = [
        "pump station.pdf",
        "Pump",
        "station pump.txt",
        "pmup.doc",
        "other.pdf",
    ];
    let mut ids = vec![];
    for (i, n) in names.iter().enumerate() {
        let mut s = spec(n, None);
        s.mime_type = Some(
            if n.ends_with(".pdf") {
                "application/pdf"
            } else {
                "text/plain"
            }
            .into(),
        );
        ids.push(
            store
                .create_file(
                    &p,
                    s,
                    false,
                    session(&format!("r{i}"), None, week),
                    i as i64,
                )
                .await
                .unwrap()
                .id,
        );
    }
    let page = |limit, after, partition| PageRequest {
        filter: FileFilter::default(),
        limit,
        after,
        partition,
    };
    let first = store.list(&p, page(2, None, None)).await.unwrap();
    assert_eq!(
        first.items.iter().map(|f| f.id).collect::<Vec<_>>(),
        ids[..2]
    );
    let rest = store.list(&p, page(10, first.next, None)).await.unwrap();
    assert_eq!(
        rest.items.iter().map(|f| f.id).collect::<Vec<_>>(),
        ids[2..]
    );
    assert_eq!(rest.next, None);
    let mut parts: Vec<i64> = vec![];
    for index in 0..3 {
        let part = store
            .list(&p, page(10, None, Some(Partition { index, count: 3 })))
            .await
            .unwrap();
        parts.extend(part.items.iter().map(|f| f.id));
    }
    parts.sort();
    let mut all = ids.clone();
    all.sort();
    assert_eq!(parts, all, "partitions hold every file once");
    let pdf = FileFilter {
        mime_type: Some("application/pdf".into()),
        ..FileFilter::default()
    };
    assert_eq!(store.count(&p, &pdf).await.unwrap(), 2);
    assert_eq!(store.count(&project("none"), &pdf).await.unwrap(), 0);
    let found: Vec<String> = store
        .search(&p, &FileFilter::default(), Some("pump"), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(
        found,
        ["Pump", "pump station.pdf", "station pump.txt", "pmup.doc"]
    );
    let found: Vec<String> = store
        .search(&p, &pdf, Some("pump"), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(found, ["pump station.pdf"]);
    assert_eq!(store.search(&p, &pdf, None, 10).await.unwrap().len(), 2);
}

#[tokio::test]
async fn sqlite_sessions_and_publish() {
    let (_dir, store) = sqlite();
    bounded(sessions_and_publish(store.as_ref())).await;
}

#[tokio::test]
async fn postgres_sessions_and_publish() {
    bounded(async { sessions_and_publish(postgres().await.as_ref()).await }).await;
}

#[tokio::test]
async fn sqlite_updates() {
    let (_dir, store) = sqlite();
    bounded(updates(store.as_ref())).await;
}

#[tokio::test]
async fn postgres_updates() {
    bounded(async { updates(postgres().await.as_ref()).await }).await;
}

#[tokio::test]
async fn sqlite_expiry() {
    let (_dir, store) = sqlite();
    bounded(expiry(store.as_ref())).await;
}

#[tokio::test]
async fn postgres_expiry() {
    bounded(async { expiry(postgres().await.as_ref()).await }).await;
}

#[tokio::test]
async fn sqlite_reads() {
    let (_dir, store) = sqlite();
    bounded(reads(store.as_ref())).await;
}

#[tokio::test]
async fn postgres_reads() {
    bounded(async { reads(postgres().await.as_ref()).await }).await;
}

/// Two nodes.
async fn two_nodes() -> (PgStore, PgStore) {
    let url = fresh_database().await;
    (
        PgStore::connect(&url, PgOptions::default()).await.unwrap(),
        PgStore::connect(&url, PgOptions::default()).await.unwrap(),
    )
}

/// Runs `a` and `b` at the same moment, each on a task of its own.
async fn race<A, B, TA, TB>(a: A, b: B) -> (TA, TB)
where
    A: std::future::Future<Output = TA> + Send + 'static,
    B: std::future::Future<Output = TB> + Send + 'static,
    TA: Send + 'static,
    TB: Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let (ba, bb) = (barrier.clone(), barrier);
    let ta = tokio::spawn(async move {
        ba.wait().await;
        a.await
    });
    let tb = tokio::spawn(async move {
        bb.wait().await;
        b.await
    });
    let (ra, rb) = tokio::join!(ta, tb);
    (ra.unwrap(), rb.unwrap())
}

/// Two nodes complete uploads of one file at once, from an older and a newer session: the newer
/// content always ends up current, and every replaced content is reported exactly once (so none is
/// leaked or deleted while in use). A multipart session completed on both completes once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_racing_publishes() {
    bounded(async {
        let (a, b) = two_nodes().await;
        let p = project("race");
        let week = UPLOAD_URL_TTL_MS;
        for round in 0..15 {
            let older = format!("00000000{round:04x}0");
            let newer = format!("00000000{round:04x}1");
            let f = a
                .create_file_in_scope(
                    &p,
                    spec("f", None),
                    false,
                    session(&older, None, week),
                    1,
                    &FileScope::all(),
                )
                .await
                .unwrap();
            MetadataStore::open_session(
                &a,
                &p,
                &Identifier::Id(f.id),
                session(&newer, Some(2), week),
            )
            .await
            .unwrap();
            let (c_old, c_new) = (content(&older), content(&newer));
            let (pa, pb) = (p.clone(), p.clone());
            let (na, nb) = (a.clone(), b.clone());
            let (o, n) = (older.clone(), newer.clone());
            let (co, cn) = (c_old.clone(), c_new.clone());
            let (r_old, r_new) = race(
                async move { na.publish_content(&pa, f.id, &o, co, 5).await },
                async move { nb.publish_content(&pb, f.id, &n, cn, 5).await },
            )
            .await;
            let now = MetadataStore::retrieve(&b, &p, &[Identifier::Id(f.id)], false)
                .await
                .unwrap();
            assert_eq!(now[0].content.as_ref(), Some(&c_new), "round {round}");
            match r_old {
                Ok(Published::Replaced { previous: None }) => {
                    assert_eq!(
                        r_new.unwrap(),
                        Published::Replaced {
                            previous: Some(c_old)
                        }
                    );
                }
                Err(StoreError::Superseded) => {
                    assert_eq!(r_new.unwrap(), Published::Replaced { previous: None });
                }
                other => panic!("round {round}: {other:?}"),
            }
            let (pa, pb) = (p.clone(), p.clone());
            let (na, nb) = (a.clone(), b.clone());
            let (n1, n2) = (newer.clone(), newer.clone());
            let (r1, r2) = race(
                async move { na.publish_content(&pa, f.id, &n1, content(&n1), 6).await },
                async move { nb.publish_content(&pb, f.id, &n2, content(&n2), 6).await },
            )
            .await;
            assert_eq!(r1.unwrap(), Published::AlreadyCompleted);
            assert_eq!(r2.unwrap(), Published::AlreadyCompleted);
        }
    })
    .await;
}

/// Two nodes give two files one externalId at once: one update succeeds, the other is told it is
/// duplicated, and the externalId ends on one file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_racing_updates_of_one_external_id() {
    bounded(async {
        let (a, b) = two_nodes().await;
        let p = project("race");
        for round in 0..15 {
            let mk = |n: &str| spec(n, None);
            let f1 = a.create_file_in_scope(&p, mk("1"), false, session(&format!("u{round}a"), None, 9), 1, &FileScope::all()).await.unwrap();
            let f2 = a.create_file_in_scope(&p, mk("2"), false, session(&format!("u{round}b"), None, 9), 1, &FileScope::all()).await.unwrap();
            let x = format!("x{round}");
            let (pa, pb) = (p.clone(), p.clone());
            let (na, nb) = (a.clone(), b.clone());
            let (u1, u2) = (
                update(json!({"id": f1.id, "update": {"externalId": {"set": x}}})),
                update(json!({"id": f2.id, "update": {"externalId": {"set": x}}})),
            );
            let (r1, r2) = race(
                async move { MetadataStore::update(&na, &pa, vec![u1], 2).await },
                async move { MetadataStore::update(&nb, &pb, vec![u2], 2).await },
            )
            .await;
            let ok = [&r1, &r2].iter().filter(|r| r.is_ok()).count();
            let dup = [&r1, &r2]
                .iter()
                .filter(|r| matches!(r, Err(StoreError::Duplicated(d)) if *d == vec![Identifier::ExternalId(x.clone())]))
                .count();
            assert_eq!((ok, dup), (1, 1), "round {round}: {r1:?} {r2:?}");
        }
    })
    .await;
}

/// A delete on one node and a new upload session on the other: either the session comes first and goes
/// with the file, or the file is gone and the session is refused; never a session of a deleted file.
/// Two nodes expiring at once remove every expired file once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_racing_deletes_sessions_and_expiry() {
    bounded(async {
        let (a, b) = two_nodes().await;
        let p = project("race");
        let week = UPLOAD_URL_TTL_MS;
        for round in 0..15 {
            let f = a
                .create_file_in_scope(
                    &p,
                    spec("f", None),
                    false,
                    session(&format!("d{round}"), None, week),
                    1,
                    &FileScope::all(),
                )
                .await
                .unwrap();
            let id = Identifier::Id(f.id);
            let s = format!("d{round}-late");
            let (pa, pb) = (p.clone(), p.clone());
            let (na, nb) = (a.clone(), b.clone());
            let (ia, ib) = (id.clone(), id.clone());
            let s2 = s.clone();
            let (deleted, opened) = race(
                async move { MetadataStore::delete(&na, &pa, &[ia], false).await },
                async move {
                    MetadataStore::open_session(&nb, &pb, &ib, session(&s2, None, week)).await
                },
            )
            .await;
            let deleted = deleted.unwrap();
            match opened {
                Ok(_) => assert!(deleted[0].sessions.contains(&s), "round {round}"),
                Err(StoreError::Missing(_)) => assert!(!deleted[0].sessions.contains(&s)),
                Err(e) => panic!("round {round}: {e:?}"),
            }
            assert!(MetadataStore::open_sessions(&a, &[s])
                .await
                .unwrap()
                .is_empty());
        }

        let q = project("expire");
        for i in 0..2500 {
            a.create_file_in_scope(
                &q,
                spec("e", None),
                false,
                session(&format!("e{i}"), None, 5),
                0,
                &FileScope::all(),
            )
            .await
            .unwrap();
        }
        let drain = |store: PgStore| async move {
            let mut ids = vec![];
            loop {
                let e = MetadataStore::expire(&store, week + 10).await.unwrap();
                if e.files.is_empty() && e.sessions.is_empty() {
                    return ids;
                }
                ids.extend(e.files.iter().map(|f| f.id));
            }
        };
        let (ea, eb) = race(drain(a.clone()), drain(b.clone())).await;
        let mut all: Vec<i64> = ea.into_iter().chain(eb).collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(
            (n, all.len()),
            (2500, 2500),
            "each expired file is removed once"
        );
    })
    .await;
}

/// `cabinet serve --metadata postgres://…` opens the PostgreSQL store (migrating a fresh database) and
/// serves from it; a database it cannot reach fails the start with a message that keeps the password out.
#[tokio::test]
async fn serve_runs_on_postgres_metadata() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let url = fresh_database().await;
        let mut config = ServeConfig::new("127.0.0.1:0", dir.path().join("data"));
        config.metadata = url.parse::<MetadataBackend>().unwrap();
        let app = Application::build(config)
            .await
            .expect("starts on PostgreSQL");
        let addr = app.local_addr();
        let server = tokio::spawn(app.run_until(std::future::pending()));
        let http = reqwest::Client::new();
        let created: serde_json::Value = http
            .post(format!("http://{addr}/api/v1/projects/plant/files"))
            .bearer_auth("t")
            .json(&json!({"name": "on-postgres.txt", "externalId": "pg"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let store = PgStore::connect(&url, PgOptions::default()).await.unwrap();
        let stored = MetadataStore::retrieve(
            &store,
            &project("plant"),
            &[Identifier::ExternalId("pg".into())],
            false,
        )
        .await
        .unwrap();
        assert_eq!(
            json!(stored[0].id),
            created["id"],
            "the file is in PostgreSQL"
        );
        server.abort();

        let mut config = ServeConfig::new("127.0.0.1:0", dir.path().join("other"));
        config.metadata = "postgres://cabinet:hunter2@127.0.0.1:1/cabinet"
            .parse::<MetadataBackend>()
            .unwrap();
        let err = format!(
            "{:#}",
            Application::build(config).await.err().expect("refused")
        );
        assert!(err.contains("127.0.0.1"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    })
    .await;
}
