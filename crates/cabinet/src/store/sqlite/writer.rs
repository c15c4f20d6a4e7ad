//! The single writer: one thread owns the write connection and commits the jobs of many requests in one
//! transaction (group commit), so a durable commit's fsync is paid once per batch, not once per request.
//! Each job runs inside its own savepoint, so a failing job rolls back alone and the others commit.

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
    /// A fresh file id, never handed out before.
    pub(crate) fn next_id(&mut self) -> i64 {
        let id = self.ids.id_for(*self.counter);
        *self.counter += 1;
        id
    }
}

type Finish = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
type Job = Box<dyn FnOnce(&mut WriteCtx<'_>) -> (bool, Finish) + Send>;

/// Most jobs in one transaction: bounds the latency a batch adds to its first job.
const MAX_BATCH: usize = 1024;

/// The handle request handlers use to queue writes.
#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread on `conn`, which must already be migrated.
    pub(crate) fn start(conn: Connection, ids: IdPermutation) -> Result<Self, StoreError> {
        let counter: u64 = conn
            .query_row("SELECT value FROM meta WHERE key = 'id_counter'", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|v| v as u64)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(0),
                e => Err(e),
            })
            .map_err(|e| StoreError::internal("sqlite", e))?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, rx, counter, ids))
            .map_err(|e| StoreError::internal("sqlite", e))?;
        Ok(Self { jobs: tx })
    }

    /// Runs `f` in the next batch and returns its result once the batch is durable. If `f` fails, its
    /// changes are rolled back and the batch commits without them.
    pub(crate) async fn write<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |ctx| {
            let result = f(ctx);
            let ok = result.is_ok();
            let finish: Finish = Box::new(move |commit| {
                let _ = tx.send(commit.and(result));
            });
            (ok, finish)
        });
        self.jobs.send(job).map_err(|_| {
            StoreError::internal(
                "sqlite writer",
                std::io::Error::other("the writer thread stopped"),
            )
        })?;
        rx.await
            .map_err(|e| StoreError::internal("sqlite writer", e))?
    }
}

fn run(conn: Connection, rx: mpsc::Receiver<Job>, mut counter: u64, ids: IdPermutation) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let start_counter = counter;
        let mut finishes = Vec::with_capacity(batch.len());
        let begun = conn.execute_batch("BEGIN IMMEDIATE");
        if let Err(e) = begun {
            // Dropping the jobs drops their reply channels: every caller sees the write fail.
            tracing::error!(error = %e, "could not begin a write transaction");
            drop(batch);
            continue;
        }
        for job in batch {
            let savepoint = conn.execute_batch("SAVEPOINT job");
            let mut ctx = WriteCtx {
                conn: &conn,
                counter: &mut counter,
                ids: &ids,
            };
            let (ok, finish) = job(&mut ctx);
            let end = match (savepoint, ok) {
                (Ok(()), true) => conn.execute_batch("RELEASE job"),
                (Ok(()), false) => conn.execute_batch("ROLLBACK TO job; RELEASE job"),
                (Err(e), _) => Err(e),
            };
            match end {
                Ok(()) => finishes.push(finish),
                Err(e) => finish(Err(StoreError::internal("sqlite", e))),
            }
        }
        let commit = persist_counter(&conn, start_counter, counter)
            .and_then(|()| conn.execute_batch("COMMIT"))
            .map_err(|e| StoreError::internal("sqlite", e));
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
            tracing::error!(error = ?commit, "a write batch failed to commit");
        }
        for finish in finishes {
            finish(commit.clone());
        }
    }
}

fn persist_counter(conn: &Connection, before: u64, after: u64) -> rusqlite::Result<()> {
    if before == after {
        return Ok(());
    }
    conn.prepare_cached("INSERT INTO meta (key, value) VALUES ('id_counter', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value")?
        .execute([after as i64])?;
    Ok(())
}
