//! What the nodes of one deployment share through PostgreSQL besides files (store/postgres/cluster.rs):
//! the root secret and the URL key ring. Each "node" is a store with a pool of its own on one database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use cabinet::signing::live::LiveKeys;
use cabinet::store::postgres::{PgOptions, PgStore};
use common::postgres::fresh_database;

async fn nodes(n: usize) -> Vec<PgStore> {
    let url = fresh_database().await;
    let mut stores = Vec::new();
    for _ in 0..n {
        stores.push(PgStore::connect(&url, PgOptions::default()).await.unwrap());
    }
    stores
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_at_once_agree_on_one_secret() {
    let stores = nodes(6).await;
    let secrets = futures_util::future::join_all(stores.iter().map(|s| s.shared_secret())).await;
    let derived: BTreeSet<[u8; 32]> = secrets
        .into_iter()
        .map(|s| s.unwrap().derive("check"))
        .collect();
    assert_eq!(derived.len(), 1, "every node reads the same secret");
    let again = stores[0].shared_secret().await.unwrap().derive("check");
    assert!(derived.contains(&again), "and keeps it");
    let other = nodes(1).await[0]
        .shared_secret()
        .await
        .unwrap()
        .derive("check");
    assert!(!derived.contains(&other), "another deployment gets its own");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_on_one_node_reaches_the_others_and_racing_rotations_lose_no_key() {
    let stores = nodes(2).await;
    let handle = tokio::runtime::Handle::current();
    let (a, b) = (
        stores[0].key_ring_store(handle.clone()),
        stores[1].key_ring_store(handle.clone()),
    );
    let keys_a = {
        let a = a.clone();
        tokio::task::spawn_blocking(move || LiveKeys::open([1; 32], a, 1_000))
            .await
            .unwrap()
            .unwrap()
    };
    let keys_b = {
        let b = b.clone();
        tokio::task::spawn_blocking(move || LiveKeys::open([1; 32], b, 1_000))
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(
        keys_a.current_id(),
        keys_b.current_id(),
        "one ring, made once"
    );
    let keys_b = Arc::new(keys_b);

    // Eight rotations at once, four through each node: each one's new key must survive.
    let mut rotations = Vec::new();
    for i in 0..8 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        rotations.push(tokio::task::spawn_blocking(move || {
            store
                .update(&mut |old| {
                    let mut ring = old.cloned().expect("a ring exists");
                    ring.rotate(2_000 + i);
                    Some(ring)
                })
                .unwrap()
                .current()
                .id
                .clone()
        }));
    }
    let mut made = BTreeSet::new();
    for r in rotations {
        made.insert(r.await.unwrap());
    }
    assert_eq!(made.len(), 8);
    let stored = {
        let a = a.clone();
        tokio::task::spawn_blocking(move || a.load())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
    };
    let ids: BTreeSet<String> = stored.keys().iter().map(|k| k.id.clone()).collect();
    assert!(
        made.is_subset(&ids),
        "no rotation lost another's key: {made:?} vs {ids:?}"
    );

    // Node B notices through the version and switches to the ring's current key.
    let refreshed = {
        let keys_b = keys_b.clone();
        tokio::task::spawn_blocking(move || keys_b.refresh())
            .await
            .unwrap()
            .unwrap()
    };
    assert!(refreshed, "the version changed");
    assert_eq!(keys_b.current_id(), Some(stored.current().id.clone()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cabinet_keys_rotates_and_lists_the_ring_in_postgresql() {
    let url = fresh_database().await;
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cabinet"))
            .args(args)
            .env_remove("CABINET_CONFIG")
            .env_remove("CABINET_DATA_DIR")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let first = run(&["keys", "rotate", "--metadata", &url]);
    let second = run(&["keys", "rotate", "--metadata", &url]);
    let id = |out: &str| {
        out.lines()
            .next()
            .and_then(|l| l.strip_prefix("new current key: "))
            .and_then(|l| l.split_whitespace().next())
            .unwrap()
            .to_string()
    };
    let (first, second) = (id(&first), id(&second));
    assert_ne!(first, second);
    let listed = run(&["keys", "list", "--metadata", &url]);
    assert!(
        listed.contains(&format!("{second}  ")) && listed.contains("current"),
        "{listed}"
    );
    assert!(listed.contains(&first), "{listed}");

    let store = PgStore::connect(&url, PgOptions::default()).await.unwrap();
    let ring = store.key_ring_store(tokio::runtime::Handle::current());
    let stored = tokio::task::spawn_blocking(move || ring.load())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.current().id,
        second,
        "the servers' ring is the one rotated"
    );
}
