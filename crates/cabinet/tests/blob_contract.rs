//! The `BlobStore` contract, one test body per clause, run against every content store: the local disk
//! and S3 (a real SeaweedFS on loopback, see `common/s3.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/s3.rs"]
mod s3_server;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use cabinet::blob::local::LocalBlobs;
use cabinet::blob::s3::S3Blobs;
use cabinet::blob::{BlobError, BlobStore, ByteStream, Stored};
use futures_util::{StreamExt, TryStreamExt};

const MIB: usize = 1024 * 1024;

/// A store and what keeps it alive.
struct Subject {
    store: Arc<dyn BlobStore>,
    _dir: tempfile::TempDir,
}

fn local() -> Subject {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalBlobs::open(dir.path()).expect("local store");
    Subject {
        store: Arc::new(store),
        _dir: dir,
    }
}

fn s3() -> Subject {
    let server = s3_server::SeaweedFs::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = S3Blobs::open(&server.settings(), &dir.path().join("spool")).expect("S3 store");
    Subject {
        store: Arc::new(store),
        _dir: dir,
    }
}

/// Runs the contract clause `$body` (an async fn taking `&dyn BlobStore`) against each store.
macro_rules! contract {
    ($name:ident) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn local() {
                let subject = super::local();
                tokio::time::timeout(
                    Duration::from_secs(120),
                    super::$name(subject.store.as_ref()),
                )
                .await
                .expect("in time");
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn s3() {
                let subject = super::s3();
                tokio::time::timeout(
                    Duration::from_secs(120),
                    super::$name(subject.store.as_ref()),
                )
                .await
                .expect("in time");
            }
        }
    };
}

/// Deterministic content of `len` bytes.
fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// `data` as a stream of chunks of at most 64 KiB.
fn stream_of(data: &[u8]) -> ByteStream {
    let chunks: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(64 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures_util::stream::iter(chunks))
}

/// `data`, then a failure, as a client that goes away mid-upload.
fn failing_after(data: &[u8]) -> ByteStream {
    let head = stream_of(data);
    let tail = futures_util::stream::once(async {
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        ))
    });
    Box::pin(head.chain(tail))
}

async fn read(store: &dyn BlobStore, key: &str, range: Option<(u64, u64)>) -> Vec<u8> {
    let stream = store.get(key, range).await.expect("get");
    let chunks: Vec<Bytes> = stream.try_collect().await.expect("read");
    chunks.concat()
}

fn key(name: &str) -> String {
    format!("p/{:03x}/1/{name}-{}", 1, uuid::Uuid::new_v4().simple())
}

async fn put_get_round_trip_small_and_large(store: &dyn BlobStore) {
    for len in [0, 1, 100_000, 19 * MIB + 7] {
        let data = content(len, 3);
        let k = key("s");
        let size = store
            .put(&k, stream_of(&data), u64::MAX)
            .await
            .expect("put");
        assert_eq!(size, len as u64);
        assert!(
            read(store, &k, None).await == data,
            "content of {len} bytes"
        );
    }
}
contract!(put_get_round_trip_small_and_large);

async fn ranges_are_inclusive(store: &dyn BlobStore) {
    let data = content(300_000, 5);
    let k = key("r");
    store
        .put(&k, stream_of(&data), u64::MAX)
        .await
        .expect("put");
    assert_eq!(read(store, &k, Some((0, 0))).await, data[0..1]);
    assert_eq!(
        read(store, &k, Some((1000, 250_000))).await,
        data[1000..=250_000]
    );
    assert_eq!(
        read(store, &k, Some((299_999, 299_999))).await,
        data[299_999..]
    );
}
contract!(ranges_are_inclusive);

async fn missing_objects_are_not_found(store: &dyn BlobStore) {
    assert!(matches!(
        store.get(&key("none"), None).await.err(),
        Some(BlobError::NotFound)
    ));
    store.delete(&key("none")).await.expect("deleting nothing");
    store
        .delete_parts("no-such-upload")
        .await
        .expect("deleting no parts");
}
contract!(missing_objects_are_not_found);

async fn delete_removes(store: &dyn BlobStore) {
    let k = key("d");
    store
        .put(&k, stream_of(b"gone soon"), u64::MAX)
        .await
        .expect("put");
    store.delete(&k).await.expect("delete");
    assert!(matches!(
        store.get(&k, None).await.err(),
        Some(BlobError::NotFound)
    ));
    store.delete(&k).await.expect("again");
}
contract!(delete_removes);

async fn too_large_leaves_nothing(store: &dyn BlobStore) {
    for len in [1000, 12 * MIB] {
        let k = key("big");
        let limit = len as u64 - 1;
        let err = store
            .put(&k, stream_of(&content(len, 1)), limit)
            .await
            .err();
        assert!(
            matches!(err, Some(BlobError::TooLarge { limit: l }) if l == limit),
            "{err:?}"
        );
        assert!(matches!(
            store.get(&k, None).await.err(),
            Some(BlobError::NotFound)
        ));
    }
}
contract!(too_large_leaves_nothing);

async fn interrupted_put_leaves_nothing(store: &dyn BlobStore) {
    for len in [1000, 12 * MIB] {
        let k = key("cut");
        let err = store
            .put(&k, failing_after(&content(len, 2)), u64::MAX)
            .await
            .err();
        assert!(matches!(err, Some(BlobError::Aborted(_))), "{err:?}");
        assert!(matches!(
            store.get(&k, None).await.err(),
            Some(BlobError::NotFound)
        ));
    }
}
contract!(interrupted_put_leaves_nothing);

async fn dropped_put_leaves_nothing(store: &dyn BlobStore) {
    let k = key("dropped");
    // A body that sends 12 MiB and then never ends: the put is cancelled while it waits.
    let head = stream_of(&content(12 * MIB, 4));
    let body: ByteStream = Box::pin(head.chain(futures_util::stream::pending()));
    let cancelled =
        tokio::time::timeout(Duration::from_millis(1500), store.put(&k, body, u64::MAX)).await;
    assert!(cancelled.is_err(), "the put cannot have finished");
    assert!(matches!(
        store.get(&k, None).await.err(),
        Some(BlobError::NotFound)
    ));
}
contract!(dropped_put_leaves_nothing);

async fn multipart_parts_assemble_in_order(store: &dyn BlobStore) {
    let upload = uuid::Uuid::new_v4().simple().to_string();
    let begun = key("mp");
    store.begin_parts(&upload, &begun).await.expect("begin");
    let parts = [
        content(5 * MIB, 10),
        content(5 * MIB + 3, 11),
        content(1234, 12),
    ];
    assert_eq!(
        store.part_sizes(&upload, 3).await.expect("sizes"),
        vec![None, None, None]
    );
    // Out of order, and part 1 sent twice (the second attempt wins).
    store
        .put_part(&upload, 2, stream_of(&parts[2]), u64::MAX)
        .await
        .expect("part 2");
    store
        .put_part(&upload, 1, stream_of(&content(6 * MIB, 99)), u64::MAX)
        .await
        .expect("part 1, first attempt");
    assert_eq!(
        store.part_sizes(&upload, 3).await.expect("sizes"),
        vec![None, Some(6 * MIB as u64), Some(1234)]
    );
    store
        .put_part(&upload, 1, stream_of(&parts[1]), u64::MAX)
        .await
        .expect("part 1");
    store
        .put_part(&upload, 0, stream_of(&parts[0]), u64::MAX)
        .await
        .expect("part 0");
    assert_eq!(
        store.part_sizes(&upload, 3).await.expect("sizes"),
        vec![Some(5 * MIB as u64), Some(5 * MIB as u64 + 3), Some(1234)]
    );
    let fresh = key("assembled");
    let made = store.assemble(&upload, 3, &fresh).await.expect("assemble");
    assert!(
        made.key == fresh || made.key == begun,
        "the object is at one of the two keys: {}",
        made.key
    );
    assert_eq!(made.size, parts.iter().map(|p| p.len() as u64).sum::<u64>());
    assert!(read(store, &made.key, None).await == parts.concat());
    store.delete_parts(&upload).await.expect("delete parts");
    assert!(
        read(store, &made.key, None).await == parts.concat(),
        "the object outlives its parts"
    );
    assert_eq!(
        store.part_sizes(&upload, 3).await.expect("sizes"),
        vec![None, None, None]
    );
}
contract!(multipart_parts_assemble_in_order);

async fn part_limits_hold(store: &dyn BlobStore) {
    let upload = uuid::Uuid::new_v4().simple().to_string();
    store
        .begin_parts(&upload, &key("lim"))
        .await
        .expect("begin");
    let err = store
        .put_part(&upload, 0, stream_of(&content(1000, 1)), 999)
        .await
        .err();
    assert!(
        matches!(err, Some(BlobError::TooLarge { limit: 999 })),
        "{err:?}"
    );
    let err = store
        .put_part(&upload, 0, failing_after(&content(1000, 1)), u64::MAX)
        .await
        .err();
    assert!(matches!(err, Some(BlobError::Aborted(_))), "{err:?}");
    assert_eq!(
        store.part_sizes(&upload, 1).await.expect("sizes"),
        vec![None]
    );
    store.delete_parts(&upload).await.expect("delete parts");
}
contract!(part_limits_hold);

async fn assembling_consumed_or_missing_parts_is_not_found(store: &dyn BlobStore) {
    let upload = uuid::Uuid::new_v4().simple().to_string();
    store
        .begin_parts(&upload, &key("gone"))
        .await
        .expect("begin");
    store
        .put_part(&upload, 0, stream_of(b"only part"), u64::MAX)
        .await
        .expect("part");
    store.delete_parts(&upload).await.expect("delete parts");
    let err = store.assemble(&upload, 1, &key("never")).await.err();
    assert!(matches!(err, Some(BlobError::NotFound)), "{err:?}");
}
contract!(assembling_consumed_or_missing_parts_is_not_found);

async fn stale_lists_old_objects_and_uploads(store: &dyn BlobStore) {
    let k = key("old");
    store
        .put(&k, stream_of(b"old content"), u64::MAX)
        .await
        .expect("put");
    let upload = uuid::Uuid::new_v4().simple().to_string();
    store
        .begin_parts(&upload, &key("oldmp"))
        .await
        .expect("begin");
    store
        .put_part(&upload, 0, stream_of(b"a part"), u64::MAX)
        .await
        .expect("part");
    let future = SystemTime::now() + Duration::from_secs(3600);
    let all: Vec<Stored> = store.stale(future).try_collect().await.expect("stale");
    assert!(all.contains(&Stored::Object(k.clone())), "{all:?}");
    assert!(all.contains(&Stored::Upload(upload.clone())), "{all:?}");
    let past = SystemTime::now() - Duration::from_secs(3600);
    let none: Vec<Stored> = store.stale(past).try_collect().await.expect("stale");
    assert!(!none.contains(&Stored::Object(k)), "{none:?}");
    assert!(!none.contains(&Stored::Upload(upload.clone())), "{none:?}");
    store.delete_parts(&upload).await.expect("delete parts");
    let after: Vec<Stored> = store.stale(future).try_collect().await.expect("stale");
    assert!(!after.contains(&Stored::Upload(upload)), "{after:?}");
}
contract!(stale_lists_old_objects_and_uploads);

/// Objects on both sides of the local store's packing threshold (`blob/packed.rs`), sent in pieces that
/// the threshold falls inside of: whole and ranged reads, the size limit, a delete, and a small put
/// dropped while its body stalls.
async fn sizes_around_the_packing_threshold(store: &dyn BlobStore) {
    let threshold = cabinet::blob::packed::PACKED_MAX;
    for len in [4096, threshold - 1, threshold, threshold + 1] {
        let data = content(len, 7);
        let pieces = || -> ByteStream {
            let chunks: Vec<Result<Bytes, std::io::Error>> = data
                .chunks(1000)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            Box::pin(futures_util::stream::iter(chunks))
        };
        let k = key("t");
        let err = store.put(&k, pieces(), len as u64 - 1).await.err();
        assert!(
            matches!(err, Some(BlobError::TooLarge { .. })),
            "{len}: {err:?}"
        );
        let size = store.put(&k, pieces(), len as u64).await.expect("put");
        assert_eq!(size, len as u64);
        assert!(read(store, &k, None).await == data, "{len} bytes");
        let last = len as u64 - 1;
        assert_eq!(read(store, &k, Some((0, 0))).await, data[..1]);
        assert_eq!(
            read(store, &k, Some((17, last - 1))).await,
            data[17..len - 1]
        );
        assert_eq!(read(store, &k, Some((last, last))).await, data[len - 1..]);
        store.delete(&k).await.expect("delete");
        assert!(matches!(
            store.get(&k, None).await.err(),
            Some(BlobError::NotFound)
        ));
    }
    let k = key("stalled-small");
    let body: ByteStream =
        Box::pin(stream_of(b"ten bytes.").chain(futures_util::stream::pending()));
    let cancelled =
        tokio::time::timeout(Duration::from_millis(300), store.put(&k, body, u64::MAX)).await;
    assert!(cancelled.is_err(), "the put cannot have finished");
    assert!(matches!(
        store.get(&k, None).await.err(),
        Some(BlobError::NotFound)
    ));
}
contract!(sizes_around_the_packing_threshold);
