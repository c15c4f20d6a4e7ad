//! Small objects of the local store, packed into one SQLite database (`<data dir>/small-content.sqlite3`)
//! instead of one file each.
//!
//! Why: a file per object costs two syncs of its own (the data, then the directory after the rename), and
//! for a 4 KiB object those syncs are nearly all of the work. Here one writer thread commits the puts of
//! every request waiting at that moment in one transaction (group commit), so one sync of the WAL makes
//! a whole batch durable, as the metadata store's writer does (`store/sqlite/writer.rs`).
//!
//! The database: WAL, `synchronous = FULL` (a commit is on stable storage when it returns), incremental
//! auto-vacuum (the pages of deleted objects go back to the filesystem after the batch that deleted them,
//! so a delete frees disk space as deleting a file does), one table `objects (key, written, data)`.
//!
//! Reads use a small pool of read-only connections; each read sees a committed state, so an object is
//! either whole or absent. No object here is larger than [`PACKED_MAX`], so reading one whole into memory
//! stays within the store's memory bound.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

use super::{BlobError, Stored, StoredStream};

/// Objects of at most this many bytes are packed; larger ones are files. 64 KiB: up to here the syncs of
/// a file dominate a put, and an object of this size is cheap to hold whole in memory while its body is
/// read (the store reads at most this plus one chunk before it decides), to commit in a batch and to read
/// back whole.
pub const PACKED_MAX: usize = 64 * 1024;

/// The database's file name in the data directory.
pub const FILE_NAME: &str = "small-content.sqlite3";

/// Most jobs in one transaction: bounds the latency a batch adds to its first job (and, with
/// [`PACKED_MAX`], the bytes one commit writes).
const MAX_BATCH: usize = 512;

/// Idle read connections kept for reuse.
const MAX_IDLE_READERS: usize = 8;

/// Rows read per query of [`Packed::stale`]: a listing never holds a read transaction for long, so it
/// never keeps a checkpoint from catching up.
const LIST_PAGE: i64 = 1024;

/// Entries queued between the listing and the collector.
const LIST_QUEUE: usize = 1024;

/// The packed store: a handle to its writer thread and its readers. Cloning shares both.
#[derive(Clone)]
pub(super) struct Packed {
    path: Arc<PathBuf>,
    jobs: mpsc::Sender<Job>,
    idle: Arc<Mutex<Vec<Connection>>>,
    /// Transactions committed so far.
    commits: Arc<AtomicU64>,
}

impl std::fmt::Debug for Packed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packed").field("path", &self.path).finish()
    }
}

enum Op {
    Put {
        key: String,
        data: Bytes,
        written_ms: i64,
    },
    Delete {
        key: String,
    },
}

struct Job {
    op: Op,
    reply: oneshot::Sender<Result<(), BlobError>>,
}

/// A database error as a [`BlobError`]: out of space (`SQLITE_FULL`), or a fault of ours.
fn sql_error(e: rusqlite::Error) -> BlobError {
    sql_failure(&e)
}

/// [`sql_error`] by reference: each job of a failed batch gets its own copy of the failure.
fn sql_failure(e: &rusqlite::Error) -> BlobError {
    match e {
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.code == rusqlite::ErrorCode::DiskFull =>
        {
            BlobError::NoSpace {
                backend: "local disk",
            }
        }
        e => BlobError::Internal {
            backend: "local disk (packed)",
            source: Box::new(std::io::Error::other(e.to_string())),
        },
    }
}

fn stopped() -> BlobError {
    BlobError::Internal {
        backend: "local disk (packed)",
        source: Box::new(std::io::Error::other("the packed store's writer stopped")),
    }
}

/// Milliseconds since the Unix epoch.
fn epoch_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn open_connection(path: &Path, read_only: bool) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    if read_only {
        // The database is in WAL mode already: the writer's connection made it so before any reader.
        conn.execute_batch("PRAGMA query_only = 1; PRAGMA cache_size = -2048;")?;
    } else {
        // auto_vacuum and page_size only take effect before the first table is made; they are no-ops on
        // an existing database. 8 KiB pages hold a 4 KiB object in one page. The WAL is checkpointed
        // every 32 MiB, so that a checkpoint's sync of the database file is paid once per some thousand
        // small objects.
        conn.execute_batch(
            "PRAGMA auto_vacuum = INCREMENTAL; PRAGMA page_size = 8192; \
             PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
             PRAGMA wal_autocheckpoint = 4096; PRAGMA cache_size = -8192; \
             CREATE TABLE IF NOT EXISTS objects ( \
                 id INTEGER PRIMARY KEY, \
                 key TEXT NOT NULL UNIQUE, \
                 written INTEGER NOT NULL, \
                 data BLOB NOT NULL \
             );",
        )?;
    }
    Ok(conn)
}

impl Packed {
    /// Opens (creating if needed) the database at `path` and starts its writer thread, which ends when
    /// the last handle is dropped.
    pub(super) fn open(path: &Path) -> std::io::Result<Self> {
        let conn = open_connection(path, false).map_err(std::io::Error::other)?;
        // SQLite syncs the directory when it creates the WAL, not when it creates the database file:
        // sync it here, so that a new database's entry survives a crash too.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let commits = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&commits);
        std::thread::Builder::new()
            .name("packed-writer".into())
            .spawn(move || run_writer(conn, rx, &counted))?;
        Ok(Self {
            path: Arc::new(path.to_path_buf()),
            jobs: tx,
            idle: Arc::default(),
            commits,
        })
    }

    /// Transactions the writer committed so far.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Stores `data` under `key` (replacing what a retried put left there); durable when it returns `Ok`.
    /// Dropping the future before the batch begins stores nothing.
    pub(super) async fn put(&self, key: &str, data: Bytes) -> Result<(), BlobError> {
        self.submit(Op::Put {
            key: key.to_string(),
            data,
            written_ms: epoch_ms(SystemTime::now()),
        })
        .await
    }

    /// Deletes `key`; nothing to delete is not an error.
    pub(super) async fn delete(&self, key: &str) -> Result<(), BlobError> {
        self.submit(Op::Delete {
            key: key.to_string(),
        })
        .await
    }

    async fn submit(&self, op: Op) -> Result<(), BlobError> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { op, reply }).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// The object `key`, whole, or `None`. Blocking: call it on a blocking thread.
    pub(super) fn read(&self, key: &str) -> Result<Option<Bytes>, BlobError> {
        let conn = self.take_reader()?;
        let found = conn
            .prepare_cached("SELECT data FROM objects WHERE key = ?1")
            .and_then(|mut st| {
                st.query_row(params![key], |r| r.get::<_, Vec<u8>>(0))
                    .optional()
            })
            .map_err(sql_error);
        self.give_back(conn);
        Ok(found?.map(Bytes::from))
    }

    fn take_reader(&self) -> Result<Connection, BlobError> {
        let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match pooled {
            Some(conn) => Ok(conn),
            None => open_connection(&self.path, true).map_err(sql_error),
        }
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
        }
    }

    /// Every object written before `older_than`, streamed from a blocking thread in pages of
    /// [`LIST_PAGE`] rows; it stops once the receiver is dropped.
    pub(super) fn stale(&self, older_than: SystemTime) -> StoredStream {
        let (tx, mut rx) = tokio::sync::mpsc::channel(LIST_QUEUE);
        let this = self.clone();
        let cutoff = epoch_ms(older_than);
        tokio::task::spawn_blocking(move || {
            if let Err(e) = this.list(cutoff, &tx) {
                let _ = tx.blocking_send(Err(e));
            }
        });
        Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
    }

    fn list(
        &self,
        cutoff_ms: i64,
        tx: &tokio::sync::mpsc::Sender<Result<Stored, BlobError>>,
    ) -> Result<(), BlobError> {
        let mut after = i64::MIN;
        loop {
            let conn = self.take_reader()?;
            let page = conn
                .prepare_cached(
                    "SELECT id, key, written FROM objects WHERE id > ?1 ORDER BY id LIMIT ?2",
                )
                .and_then(|mut st| {
                    st.query_map(params![after, LIST_PAGE], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                        ))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(sql_error);
            self.give_back(conn);
            let page = page?;
            let Some((last, _, _)) = page.last() else {
                return Ok(());
            };
            after = *last;
            for (_, key, written) in page {
                if written < cutoff_ms && tx.blocking_send(Ok(Stored::Object(key))).is_err() {
                    return Ok(());
                }
            }
        }
    }
}

/// The writer thread: takes every job waiting, runs them in one transaction, commits once, answers all.
fn run_writer(conn: Connection, rx: mpsc::Receiver<Job>, commits: &AtomicU64) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // A put whose caller has gone stores nothing: its future was dropped before the batch began.
        batch.retain(|job| !(matches!(job.op, Op::Put { .. }) && job.reply.is_closed()));
        if batch.is_empty() {
            continue;
        }
        let outcome = commit_batch(&conn, &batch);
        if outcome.is_ok() {
            commits.fetch_add(1, Ordering::Relaxed);
        }
        if let Err(e) = &outcome {
            let _ = conn.execute_batch("ROLLBACK");
            tracing::error!(error = %e, jobs = batch.len(), "a batch of small objects was rolled back");
        }
        for job in batch {
            let answer = match &outcome {
                Ok(()) => Ok(()),
                Err(e) => Err(sql_failure(e)),
            };
            let _ = job.reply.send(answer);
        }
    }
}

fn commit_batch(conn: &Connection, batch: &[Job]) -> rusqlite::Result<()> {
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    let mut deleted = false;
    for job in batch {
        match &job.op {
            Op::Put {
                key,
                data,
                written_ms,
            } => {
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO objects (key, written, data) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![key, written_ms, data.as_ref()])?;
            }
            Op::Delete { key } => {
                deleted |= conn
                    .prepare_cached("DELETE FROM objects WHERE key = ?1")?
                    .execute(params![key])?
                    > 0;
            }
        }
    }
    if deleted {
        // Gives the freed pages back to the filesystem (the file shrinks at the next checkpoint).
        let mut vacuum = conn.prepare_cached("PRAGMA incremental_vacuum")?;
        let mut rows = vacuum.query([])?;
        while rows.next()?.is_some() {}
    }
    conn.prepare_cached("COMMIT")?.execute([])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn store() -> (tempfile::TempDir, Packed) {
        let dir = tempfile::tempdir().unwrap();
        let packed = Packed::open(&dir.path().join(FILE_NAME)).unwrap();
        (dir, packed)
    }

    async fn listed(packed: &Packed, older_than: SystemTime) -> Vec<String> {
        use futures_util::TryStreamExt;
        let all: Vec<Stored> = packed.stale(older_than).try_collect().await.unwrap();
        let mut keys: Vec<String> = all
            .into_iter()
            .map(|s| match s {
                Stored::Object(k) => k,
                Stored::Upload(u) => panic!("the packed store has no uploads: {u}"),
            })
            .collect();
        keys.sort();
        keys
    }

    #[tokio::test]
    async fn put_read_delete() {
        let (_dir, packed) = store();
        packed.put("a/1", Bytes::from_static(b"one")).await.unwrap();
        packed.put("a/empty", Bytes::new()).await.unwrap();
        let p = packed.clone();
        let (one, empty, none) = tokio::task::spawn_blocking(move || {
            (p.read("a/1"), p.read("a/empty"), p.read("a/none"))
        })
        .await
        .unwrap();
        assert_eq!(one.unwrap().unwrap(), Bytes::from_static(b"one"));
        assert_eq!(empty.unwrap().unwrap(), Bytes::new());
        assert!(none.unwrap().is_none());
        packed.delete("a/1").await.unwrap();
        packed.delete("a/1").await.unwrap();
        assert!(packed.read("a/1").unwrap().is_none());
    }

    #[tokio::test]
    async fn stale_lists_by_age_across_pages() {
        let (_dir, packed) = store();
        let n = LIST_PAGE as usize * 2 + 3;
        let keys: Vec<String> = (0..n).map(|i| format!("k/{i:05}")).collect();
        let puts = keys
            .iter()
            .map(|k| packed.put(k, Bytes::from(vec![1u8; 10])));
        futures_util::future::try_join_all(puts).await.unwrap();
        let future = SystemTime::now() + Duration::from_secs(60);
        let all = listed(&packed, future).await;
        assert_eq!(all.len(), n);
        assert_eq!(all[0], "k/00000");
        let past = SystemTime::now() - Duration::from_secs(60);
        assert!(listed(&packed, past).await.is_empty());
        packed.delete("k/00000").await.unwrap();
        assert_eq!(listed(&packed, future).await.len(), n - 1);
    }

    /// Many puts at once share commits.
    #[tokio::test]
    async fn concurrent_puts_share_a_commit() {
        let (_dir, packed) = store();
        let n = 200usize;
        let keys: Vec<String> = (0..n).map(|i| format!("c/{i}")).collect();
        let before = packed.commits();
        // join_all polls every put once before any waits: all are queued while the first batch commits.
        let puts = keys
            .iter()
            .enumerate()
            .map(|(i, k)| packed.put(k, Bytes::from(vec![i as u8; 4096])));
        for put in futures_util::future::join_all(puts).await {
            put.unwrap();
        }
        let commits = packed.commits() - before;
        assert!(
            commits <= n as u64 / 4,
            "{commits} commits for {n} concurrent puts"
        );
        for (i, k) in keys.iter().enumerate() {
            let got = packed.read(k).unwrap().unwrap();
            assert_eq!(got, Bytes::from(vec![i as u8; 4096]));
        }
    }

    #[tokio::test]
    async fn a_put_whose_caller_left_before_its_batch_stores_nothing() {
        let (_dir, packed) = store();
        let (reply, answer) = oneshot::channel();
        drop(answer);
        packed
            .jobs
            .send(Job {
                op: Op::Put {
                    key: "gone".into(),
                    data: Bytes::from_static(b"x"),
                    written_ms: 0,
                },
                reply,
            })
            .unwrap();
        packed.put("after", Bytes::from_static(b"y")).await.unwrap();
        assert!(packed.read("gone").unwrap().is_none());
        assert!(packed.read("after").unwrap().is_some());
    }

    #[tokio::test]
    async fn reopening_keeps_what_was_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        {
            let packed = Packed::open(&path).unwrap();
            packed
                .put("kept", Bytes::from_static(b"kept"))
                .await
                .unwrap();
        }
        let packed = Packed::open(&path).unwrap();
        assert_eq!(
            packed.read("kept").unwrap().unwrap(),
            Bytes::from_static(b"kept")
        );
    }
}
