//! Read connections. Reads run on tokio's blocking threads, so that a long query never stalls an async
//! worker, except point reads ([`Readers::read_point`]): a few index lookups take less time than the
//! hand-off to a blocking thread and back (two thread wake-ups), which dominated a one-id byids.
//! No connection is ever held across an await.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::rows::sql_err;
use crate::store::ids::IdPermutation;
use crate::store::StoreError;

/// Idle connections kept for reuse; more are opened under load and closed when returned to a full pool.
const MAX_IDLE: usize = 8;

/// A small pool of read-only connections to one database file.
#[derive(Clone)]
pub(crate) struct Readers {
    path: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<Connection>>>,
    /// For `file_seq(id)` on each connection.
    ids: IdPermutation,
}

impl Readers {
    pub(crate) fn new(path: PathBuf, ids: IdPermutation) -> Self {
        Self {
            path: Arc::new(path),
            idle: Arc::new(Mutex::new(Vec::new())),
            ids,
        }
    }

    /// Runs `f` on a read connection in a blocking thread. Each call sees a consistent committed state.
    pub(crate) async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = this.take()?;
            let result = f(&conn);
            this.give_back(conn);
            result
        })
        .await
        .map_err(|e| StoreError::internal("sqlite reader", e))?
    }

    /// Runs `f` on the calling thread. Only for reads bounded to a few index lookups (a handful of ids,
    /// one session): anything that may walk many rows goes through [`Readers::read`].
    pub(crate) fn read_point<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Connection) -> Result<R, StoreError>,
    {
        let conn = self.take()?;
        let result = f(&conn);
        self.give_back(conn);
        result
    }

    fn take(&self) -> Result<Connection, StoreError> {
        let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match pooled {
            Some(conn) => Ok(conn),
            None => super::open_connection(&self.path, true)
                .and_then(|conn| {
                    super::file_seq::register(&conn, &self.ids)?;
                    Ok(conn)
                })
                .map_err(sql_err),
        }
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
    }
}
