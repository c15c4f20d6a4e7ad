//! The single writer: one thread owns the write connection and commits the jobs of many requests in one
//! transaction (group commit), so a durable commit's fsync is paid once per batch, not once per request.
//!
//! Two kinds of job keep a failing job from taking the others down:
//! - [`Writer::write`] jobs must fail before they change anything (they read and check first). They run
//!   bare, which keeps SQLite from journaling pages for a savepoint and FTS5 from flushing per job.
//! - [`Writer::write_atomic`] jobs may fail after changing rows; each runs in its own savepoint.
//!
//! Should a bare job break its promise, the whole batch is rolled back and every job in it fails: nothing
//! half-done is ever committed.
//!
//! Before each commit the writer brings the name-search index up to date with the batch's files
//! ([`super::name_index::drain`]), once for the whole batch.
//!
//! Checkpoints (copying the WAL back into the database file) stay SQLite's automatic ones, run by the
//! writer after a commit once the WAL passes 8192 pages (32 MiB, set in `open_connection`; a page that
//! many batches rewrite is copied once per checkpoint). Only a checkpoint that catches up with the WAL lets
//! it start again from its beginning, and one running beside a busy writer never does, so the WAL would
//! grow without bound.

use std::sync::mpsc;

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::store::ids::IdPermutation;
use crate::store::StoreError;

/// What a job gets to work with: the connection, inside an open transaction, and the id allocator.
pub(crate) struct WriteCtx<'a> {
    pub(crate) conn: &'a Connection,
    counter: &'a mut u64,
    ids: &'a IdPermutation,
}

impl WriteCtx<'_> {
    /// A new file's seq and id, never handed out before: the seq is the counter + 1 and the id its
    /// permutation, so the row is found from the id alone (`file_seq.rs`).
    pub(crate) fn next_file(&mut self) -> (i64, i64) {
        let n = *self.counter;
        *self.counter += 1;
        (n as i64 + 1, self.ids.id_for(n))
    }
}

type Finish = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// Runs a job; returns its own failure (if any, for the batch to learn from) and how to answer it.
type Run = Box<dyn FnOnce(&mut WriteCtx<'_>) -> (Result<(), StoreError>, Finish) + Send>;

struct Job {
    atomic: bool,
    run: Run,
}

/// Most jobs in one transaction: bounds the latency a batch adds to its first job.
const MAX_BATCH: usize = 1024;

/// The handle request handlers use to queue writes.
#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
    /// Jobs per committed batch, for `cabinet_sqlite_commit_batch_size`.
    pub(crate) batch_sizes: prometheus_client::metrics::histogram::Histogram,
}

impl Writer {
    /// Starts the writer thread on `conn`, which must already be migrated.
    pub(crate) fn start(conn: Connection, ids: IdPermutation) -> Result<Self, StoreError> {
        let internal = |e| StoreError::internal("sqlite", e);
        let counter: u64 = conn
            .query_row("SELECT value FROM meta WHERE key = 'id_counter'", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|v| v as u64)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(0),
                e => Err(e),
            })
            .map_err(internal)?;
        // A new file's seq is the counter + 1, which must lie above every seq there is: rows written
        // before seqs followed the counter may have had a seq above it.
        let last_seq: i64 = conn
            .query_row("SELECT coalesce(max(seq), 0) FROM files", [], |r| r.get(0))
            .map_err(internal)?;
        let counter = counter.max(last_seq.max(0) as u64);
        let (tx, rx) = mpsc::channel::<Job>();
        let batch_sizes = crate::metrics::batch_size_histogram();
        let sizes = batch_sizes.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, rx, counter, ids, sizes))
            .map_err(|e| StoreError::internal("sqlite", e))?;
        Ok(Self {
            jobs: tx,
            batch_sizes,
        })
    }

    /// Runs `f` in the next batch and returns its result once the batch is durable. `f` must return
    /// `Err` only before it has changed anything.
    pub(crate) async fn write<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R, StoreError> + Send + 'static,
    {
        self.submit(false, f).await
    }

    /// Runs `f` in the next batch inside a savepoint: if it fails, its changes are rolled back and the
    /// batch commits without them.
    pub(crate) async fn write_atomic<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R, StoreError> + Send + 'static,
    {
        self.submit(true, f).await
    }

    async fn submit<R, F>(&self, atomic: bool, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let run: Run = Box::new(move |ctx| {
            let result = f(ctx);
            let outcome = match &result {
                Ok(_) => Ok(()),
                Err(e) => Err(e.clone()),
            };
            let finish: Finish = Box::new(move |commit| {
                let _ = tx.send(commit.and(result));
            });
            (outcome, finish)
        });
        self.jobs.send(Job { atomic, run }).map_err(|_| {
            StoreError::internal(
                "sqlite writer",
                std::io::Error::other("the writer thread stopped"),
            )
        })?;
        rx.await
            .map_err(|e| StoreError::internal("sqlite writer", e))?
    }
}

fn run(
    conn: Connection,
    rx: mpsc::Receiver<Job>,
    mut counter: u64,
    ids: IdPermutation,
    batch_sizes: prometheus_client::metrics::histogram::Histogram,
) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        batch_sizes.observe(batch.len() as f64);
        let start_counter = counter;
        if let Err(e) = conn
            .prepare_cached("BEGIN IMMEDIATE")
            .and_then(|mut st| st.execute([]))
        {
            // Dropping the jobs drops their reply channels: every caller sees the write fail.
            tracing::error!(error = %e, "could not begin a write transaction");
            continue;
        }
        let mut finishes = Vec::with_capacity(batch.len());
        let mut poisoned = None;
        for job in batch {
            let mut ctx = WriteCtx {
                conn: &conn,
                counter: &mut counter,
                ids: &ids,
            };
            if job.atomic {
                let (ok, finish) = run_in_savepoint(&mut ctx, job.run);
                match ok {
                    Ok(()) => finishes.push(finish),
                    Err(e) => {
                        // The savepoint could not be rolled back: the transaction is in an unknown state.
                        poisoned = Some(e);
                        finishes.push(finish);
                    }
                }
            } else {
                let before = conn.total_changes();
                let (outcome, finish) = (job.run)(&mut ctx);
                if let Err(e) = outcome {
                    if conn.total_changes() != before || matches!(e, StoreError::NoSpace { .. }) {
                        // A full disk can fail a statement halfway: the whole batch goes, and every job
                        // in it learns that the disk is full rather than of an internal fault.
                        poisoned = Some(match e {
                            e @ StoreError::NoSpace { .. } => e,
                            _ => StoreError::internal(
                                "sqlite writer",
                                std::io::Error::other("a write job failed after changing rows"),
                            ),
                        });
                    }
                }
                finishes.push(finish);
            }
        }
        let commit = match poisoned {
            Some(e) => Err(e),
            None => super::name_index::drain(&conn)
                .and_then(|()| persist_counter(&conn, start_counter, counter))
                .and_then(|()| {
                    conn.prepare_cached("COMMIT")
                        .and_then(|mut st| st.execute([]))
                        .map(|_| ())
                })
                .map_err(super::rows::sql_err),
        };
        if let Err(e) = &commit {
            let _ = conn.execute_batch("ROLLBACK");
            tracing::error!(error = %e, "a write batch was rolled back");
        }
        for finish in finishes {
            finish(commit.clone());
        }
    }
}

/// Runs an atomic job in a savepoint. The outer `Result` is `Err` only if the savepoint itself failed.
fn run_in_savepoint(ctx: &mut WriteCtx<'_>, run: Run) -> (Result<(), StoreError>, Finish) {
    let conn = ctx.conn;
    let exec = |sql: &str| {
        conn.prepare_cached(sql)
            .and_then(|mut st| st.execute([]))
            .map(|_| ())
    };
    if let Err(e) = exec("SAVEPOINT job") {
        let err = StoreError::internal("sqlite", e);
        let reply = err.clone();
        return (Err(err), Box::new(move |_| drop(reply)));
    }
    let (outcome, finish) = run(ctx);
    let end = if outcome.is_ok() {
        exec("RELEASE job")
    } else {
        exec("ROLLBACK TO job").and_then(|()| exec("RELEASE job"))
    };
    (end.map_err(super::rows::sql_err), finish)
}

fn persist_counter(conn: &Connection, before: u64, after: u64) -> rusqlite::Result<()> {
    if before == after {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES ('id_counter', ?1) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([after as i64])?;
    Ok(())
}
