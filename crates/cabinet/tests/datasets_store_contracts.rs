//! The contracts of store/datasets.rs and store/labels.rs checked against every backend: one test body
//! per property, run on SQLite and on a real PostgreSQL server (tests/common/postgres.rs), plus a race
//! between two PostgreSQL nodes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use cabinet::domain::{Identifier, TimeRange};
use cabinet::store::datasets::{
    DataSetFields, DataSetFilter, DataSetPatch, DataSetStore, MetadataChange,
};
use cabinet::store::labels::{LabelFilter, LabelStore, NewLabel};
use cabinet::store::postgres::{PgOptions, PgStore};
use cabinet::store::sqlite::SqliteStore;
use cabinet::store::StoreError;
use common::postgres::fresh_database;

const LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("the test took too long")
}

fn sqlite() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("m.sqlite3"), 1).expect("opens");
    (dir, store)
}

async fn postgres() -> PgStore {
    PgStore::connect(&fresh_database().await, PgOptions::default())
        .await
        .expect("connects")
}

fn ds(external_id: Option<&str>, n: usize) -> DataSetFields {
    DataSetFields {
        external_id: external_id.map(str::to_string),
        name: Some(format!("set {n}")),
        description: None,
        metadata: [("n".to_string(), (n % 2).to_string())].into(),
        write_protected: n.is_multiple_of(3),
    }
}

fn x(s: &str) -> Identifier {
    Identifier::ExternalId(s.into())
}

async fn data_sets_contract(store: &dyn DataSetStore) {
    let a = store
        .create_data_sets("p", vec![ds(Some("a"), 0), ds(None, 1)], 100)
        .await
        .unwrap();
    assert!(a[0].id >= 1 && a[1].id > a[0].id && a[1].id <= 9007199254740991);
    assert_eq!((a[0].created_time, a[0].last_updated_time), (100, 100));
    // Taken or repeated externalIds: Duplicated naming them, nothing created.
    let e = store
        .create_data_sets(
            "p",
            vec![ds(Some("b"), 2), ds(Some("a"), 3), ds(Some("b"), 4)],
            101,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Duplicated(ids) if *ids == vec![x("a"), x("b")]),
        "{e:?}"
    );
    assert_eq!(store.scan_data_sets("p", 0, 100).await.unwrap(), a);
    // Another project has its own externalIds and sees nothing of this one.
    let other = store
        .create_data_sets("q", vec![ds(Some("a"), 0)], 100)
        .await
        .unwrap();
    assert!(store
        .retrieve_data_sets("q", &[Identifier::Id(a[0].id)], true)
        .await
        .unwrap()
        .is_empty());
    let got = store
        .retrieve_data_sets("p", &[Identifier::Id(a[1].id), x("a")], false)
        .await
        .unwrap();
    assert_eq!(got, vec![a[1].clone(), a[0].clone()]);
    let e = store
        .retrieve_data_sets(
            "p",
            &[
                x("zz"),
                Identifier::Id(a[0].id),
                Identifier::Id(other[0].id + 1000),
            ],
            false,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Missing(ids) if *ids == vec![x("zz"), Identifier::Id(other[0].id + 1000)]),
        "{e:?}"
    );

    // Updates: every field, all or nothing, swaps allowed.
    let patch = DataSetPatch {
        external_id: Some(Some("a2".into())),
        name: Some(None),
        description: Some(Some("d".into())),
        metadata: MetadataChange::Change {
            add: [("k".to_string(), "v".to_string())].into(),
            remove: vec!["n".into()],
        },
        write_protected: Some(true),
    };
    let up = store
        .update_data_sets("p", vec![(x("a"), patch)], 200)
        .await
        .unwrap();
    assert_eq!(up[0].fields.external_id.as_deref(), Some("a2"));
    assert_eq!(up[0].fields.name, None);
    assert_eq!(
        up[0].fields.metadata,
        [("k".to_string(), "v".to_string())].into()
    );
    assert!(up[0].fields.write_protected);
    assert_eq!((up[0].created_time, up[0].last_updated_time), (100, 200));
    let set_x = |v: &str| DataSetPatch {
        external_id: Some(Some(v.into())),
        ..Default::default()
    };
    let swapped = store
        .update_data_sets(
            "p",
            vec![
                (x("a2"), set_x("b2")),
                (Identifier::Id(a[1].id), set_x("a2")),
            ],
            300,
        )
        .await
        .unwrap();
    assert_eq!(swapped[0].fields.external_id.as_deref(), Some("b2"));
    assert_eq!(swapped[1].fields.external_id.as_deref(), Some("a2"));
    let before = store.scan_data_sets("p", 0, 100).await.unwrap();
    let e = store
        .update_data_sets(
            "p",
            vec![(x("b2"), set_x("c")), (Identifier::Id(a[1].id), set_x("c"))],
            400,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Duplicated(ids) if *ids == vec![x("c")]),
        "{e:?}"
    );
    let e = store
        .update_data_sets(
            "p",
            vec![(x("b2"), set_x("d")), (x("nope"), set_x("e"))],
            400,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Missing(ids) if *ids == vec![x("nope")]),
        "{e:?}"
    );
    let huge = DataSetPatch {
        metadata: MetadataChange::Set([("k".to_string(), "v".repeat(10_241))].into()),
        ..Default::default()
    };
    let e = store
        .update_data_sets("p", vec![(x("b2"), huge)], 400)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");
    assert_eq!(store.scan_data_sets("p", 0, 100).await.unwrap(), before);

    // Listing filters a walk in id order, and counts agree with the reference meaning.
    let more: Vec<DataSetFields> = (0..10).map(|n| ds(Some(&format!("m{n}")), n)).collect();
    store.create_data_sets("p", more, 500).await.unwrap();
    let every = store.scan_data_sets("p", 0, 1000).await.unwrap();
    assert_eq!(every.len(), 12);
    assert!(every.windows(2).all(|w| w[0].id < w[1].id));
    let filters = [
        DataSetFilter::default(),
        DataSetFilter {
            external_id_prefix: Some("m".into()),
            ..Default::default()
        },
        DataSetFilter {
            write_protected: Some(true),
            metadata: [("n".to_string(), "0".to_string())].into(),
            ..Default::default()
        },
        DataSetFilter {
            created_time: Some(TimeRange {
                min: Some(500),
                max: None,
            }),
            ..Default::default()
        },
        DataSetFilter {
            last_updated_time: Some(TimeRange {
                min: Some(150),
                max: Some(350),
            }),
            ..Default::default()
        },
    ];
    for filter in filters {
        let expected: Vec<_> = every
            .iter()
            .filter(|d| filter.matches(d))
            .cloned()
            .collect();
        assert_eq!(
            store.count_data_sets("p", &filter).await.unwrap(),
            expected.len() as u64
        );
        let mut got = Vec::new();
        let mut after = 0;
        loop {
            let (page, more) = store.list_data_sets("p", &filter, after, 3).await.unwrap();
            assert!(page.len() <= 3);
            got.extend(page.iter().cloned());
            match (more, page.last()) {
                (true, Some(last)) => after = last.id,
                _ => break,
            }
        }
        assert_eq!(got, expected, "{filter:?}");
    }
}

fn label(x: &str, data_set_id: Option<i64>) -> NewLabel {
    NewLabel {
        external_id: x.into(),
        name: format!("name of {x}"),
        description: Some("d".into()),
        data_set_id,
    }
}

async fn labels_contract(store: &dyn LabelStore) {
    let made = store
        .create_labels("p", vec![label("A", Some(1)), label("B", None)], 100)
        .await
        .unwrap();
    assert!(made[1].seq > made[0].seq);
    let e = store
        .create_labels(
            "p",
            vec![label("C", None), label("A", None), label("C", None)],
            101,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Duplicated(ids) if *ids == vec![x("A"), x("C")]),
        "{e:?}"
    );
    assert_eq!(store.scan_labels("p", 0, 100).await.unwrap(), made);
    store
        .create_labels("q", vec![label("A", None)], 100)
        .await
        .unwrap();
    let got = store
        .retrieve_labels("p", &["B".into(), "A".into()], false)
        .await
        .unwrap();
    assert_eq!(got, vec![made[1].clone(), made[0].clone()]);
    let e = store
        .retrieve_labels("p", &["Z".into(), "A".into()], false)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Missing(ids) if *ids == vec![x("Z")]),
        "{e:?}"
    );
    let e = store
        .delete_labels("p", &["A".into(), "Z".into()])
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Missing(ids) if *ids == vec![x("Z")]),
        "{e:?}"
    );
    assert_eq!(store.scan_labels("p", 0, 100).await.unwrap().len(), 2);
    store.delete_labels("p", &["A".into()]).await.unwrap();
    assert_eq!(
        store.scan_labels("p", 0, 100).await.unwrap(),
        vec![made[1].clone()]
    );
    // Positions are never reused: a re-created label comes last.
    let again = store
        .create_labels("p", vec![label("A", Some(2))], 200)
        .await
        .unwrap();
    assert!(again[0].seq > made[1].seq);
    assert_eq!(store.scan_labels("q", 0, 100).await.unwrap().len(), 1);

    let many: Vec<NewLabel> = (0..20)
        .map(|n| {
            label(
                &format!("L{n}"),
                if n % 2 == 0 { Some(n % 3) } else { None },
            )
        })
        .collect();
    store.create_labels("p", many, 300).await.unwrap();
    let every = store.scan_labels("p", 0, 1000).await.unwrap();
    for filter in [
        LabelFilter::default(),
        LabelFilter {
            external_id_prefix: Some("L1".into()),
            ..Default::default()
        },
        LabelFilter {
            data_set_ids: Some(vec![0, 2]),
            ..Default::default()
        },
        LabelFilter {
            name: Some("name of L3".into()),
            ..Default::default()
        },
    ] {
        let expected: Vec<_> = every
            .iter()
            .filter(|l| filter.matches(&l.label))
            .cloned()
            .collect();
        let mut got = Vec::new();
        let mut after = 0;
        loop {
            let (page, more) = store.list_labels("p", &filter, after, 4).await.unwrap();
            got.extend(page.iter().cloned());
            match (more, page.last()) {
                (true, Some(last)) => after = last.seq,
                _ => break,
            }
        }
        assert_eq!(got, expected, "{filter:?}");
    }
}

#[tokio::test]
async fn sqlite_data_sets_contract() {
    let (_dir, store) = sqlite();
    bounded(data_sets_contract(&store)).await;
}

#[tokio::test]
async fn postgres_data_sets_contract() {
    let store = postgres().await;
    bounded(data_sets_contract(&store)).await;
}

#[tokio::test]
async fn sqlite_labels_contract() {
    let (_dir, store) = sqlite();
    bounded(labels_contract(&store)).await;
}

#[tokio::test]
async fn postgres_labels_contract() {
    let store = postgres().await;
    bounded(labels_contract(&store)).await;
}

/// Two nodes creating the same data set and label externalIds at once: one of each wins.
#[tokio::test]
async fn postgres_racing_nodes_create_an_external_id_once() {
    bounded(async {
        let url = fresh_database().await;
        let nodes: Vec<Arc<PgStore>> = futures_join(&url).await;
        let mut tasks = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            let node = node.clone();
            tasks.push(tokio::spawn(async move {
                let d = node
                    .create_data_sets("p", vec![ds(Some("same"), i)], 1)
                    .await
                    .is_ok();
                let l = node
                    .create_labels("p", vec![label("same", None)], 1)
                    .await
                    .is_ok();
                (d, l)
            }));
        }
        let mut wins = (0, 0);
        for t in tasks {
            let (d, l) = t.await.unwrap();
            wins.0 += usize::from(d);
            wins.1 += usize::from(l);
        }
        assert_eq!(wins, (1, 1));
    })
    .await;
}

async fn futures_join(url: &str) -> Vec<Arc<PgStore>> {
    let mut nodes = Vec::new();
    for _ in 0..4 {
        nodes.push(Arc::new(
            PgStore::connect(url, PgOptions::default())
                .await
                .expect("connects"),
        ));
    }
    nodes
}
