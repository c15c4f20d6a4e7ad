//! The rest of the write side of [`MetadataStore`](crate::store::MetadataStore) on PostgreSQL, with the
//! SQLite store's semantics: upload sessions, publishing content, updates, and the collectors' reads and
//! expiry.
//!
//! # Concurrency across nodes
//! SQLite has one writer, so each write sees the files as the previous one left them. Here every write is
//! one READ COMMITTED transaction that first locks the rows of the files it reads to decide
//! (`SELECT … FOR UPDATE`, in `seq` order so that two writers never wait for each other in a cycle):
//! a write that depends on a file waits for any other write of that file to commit, then reads what it
//! left. The order of locks is always the file, then its sessions, as in delete.
//! - Two uploads completing one file: the second waits, then sees the first one's content (and is
//!   [`StoreError::Superseded`] when that came from a newer session) or, for one multipart session
//!   completed twice, [`Published::AlreadyCompleted`].
//! - An update naming an externalId another node assigns at the same moment: the unique index makes one
//!   of the two wait and fail; that one starts again and then finds the holder, so it is
//!   [`StoreError::Duplicated`] as on SQLite. Deadlocks and serialization failures start again too.
//! - Expiry takes its batch with `SKIP LOCKED` (nodes expiring at once take disjoint batches, and a file
//!   being written is left for the next round) and checks each file again once it holds the lock, so a
//!   session opened meanwhile keeps its file.

use std::collections::{HashMap, HashSet};

use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

use super::files::{
    file_from_row, hide_missing, insert_session, project_id, resolve_all, write_file, Tx,
    FILE_COLUMNS,
};
use super::{pg_err, PgStore, BACKEND};
use crate::auth::FileScope;
use crate::domain::{
    content_key_session, is_newer_session, ContentRef, FileRecord, FileUpdate, Identifier,
    ProjectName, UPLOAD_URL_TTL_MS,
};
use crate::store::{DeletedFile, Expired, NewSession, Published, SessionRecord, StoreError};

/// How often a write that lost a race (a unique index, a deadlock) starts again before it gives up.
const ATTEMPTS: usize = 5;

/// Most files and most sessions removed by one call of `expire`, so that one call is one short
/// transaction.
const EXPIRE_BATCH: i64 = 1000;

const SESSION_COLUMNS: &str = "id, file_id, parts, expires_time, completed_time";

fn session_from_row(row: &Row) -> Result<SessionRecord, StoreError> {
    let parts: Option<i32> = row.try_get(2).map_err(pg_err)?;
    Ok(SessionRecord {
        id: row.try_get(0).map_err(pg_err)?,
        file_id: row.try_get(1).map_err(pg_err)?,
        parts: parts.map(|p| p.max(0) as u32),
        expires_time: row.try_get(3).map_err(pg_err)?,
        completed_time: row.try_get(4).map_err(pg_err)?,
    })
}

/// Whether `e` is a lost race that the same write, started again, may win or report properly.
fn lost_race(e: &StoreError) -> bool {
    let StoreError::Internal { source, .. } = e else {
        return false;
    };
    source
        .downcast_ref::<tokio_postgres::Error>()
        .and_then(tokio_postgres::Error::code)
        .is_some_and(|code| {
            *code == SqlState::UNIQUE_VIOLATION
                || *code == SqlState::T_R_DEADLOCK_DETECTED
                || *code == SqlState::T_R_SERIALIZATION_FAILURE
        })
}

fn gave_up() -> StoreError {
    StoreError::internal(
        BACKEND,
        std::io::Error::other("a write kept losing races with other writers"),
    )
}

impl PgStore {
    /// [`MetadataStore::open_session_in_scope`](crate::store::MetadataStore::open_session_in_scope) on
    /// PostgreSQL. The file stays locked until the session is in, so a concurrent delete either runs
    /// first (and this is [`StoreError::Missing`]) or takes the new session with it.
    pub async fn open_session_in_scope(
        &self,
        project: &ProjectName,
        file: &Identifier,
        session: NewSession,
        scope: &FileScope,
    ) -> Result<FileRecord, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let pid = project_id(&tx, project.as_str()).await?;
        let found = resolve_all(&tx, pid, std::slice::from_ref(file), false, true)
            .await
            .map_err(|e| hide_missing(e, scope))?;
        let (Some(pid), Some(record)) = (pid, found.into_iter().next()) else {
            return Err(hide_missing(StoreError::Missing(vec![file.clone()]), scope));
        };
        if !scope.covers(&record) {
            return Err(StoreError::OutOfScope);
        }
        insert_session(&tx, pid, record.id, &session, crate::clock::now_ms()).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(record)
    }

    /// [`MetadataStore::session`](crate::store::MetadataStore::session) on PostgreSQL.
    pub async fn session(
        &self,
        project: &ProjectName,
        file_id: i64,
        session_id: &str,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM upload_sessions WHERE id = $1 \
                     AND project_id = (SELECT id FROM projects WHERE name = $2) AND file_id = $3"
                ),
                &[&session_id, &project.as_str(), &file_id],
            )
            .await
            .map_err(pg_err)?;
        row.as_ref().map(session_from_row).transpose()
    }

    /// [`MetadataStore::publish_content`](crate::store::MetadataStore::publish_content) on PostgreSQL:
    /// the file and then the session are locked, so publishes of one file apply one after the other,
    /// each deciding on what the previous one committed.
    pub async fn publish_content(
        &self,
        project: &ProjectName,
        file_id: i64,
        session_id: &str,
        content: ContentRef,
        now: i64,
    ) -> Result<Published, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let pid = project_id(&tx, project.as_str())
            .await?
            .ok_or(StoreError::SessionGone)?;
        let file = tx
            .query_opt(
                &format!(
                    "SELECT {FILE_COLUMNS} FROM files WHERE project_id = $1 AND id = $2 FOR UPDATE"
                ),
                &[&pid, &file_id],
            )
            .await
            .map_err(pg_err)?;
        let session = tx
            .query_opt(
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM upload_sessions \
                     WHERE id = $1 AND project_id = $2 AND file_id = $3 FOR UPDATE"
                ),
                &[&session_id, &pid, &file_id],
            )
            .await
            .map_err(pg_err)?;
        let session = session
            .as_ref()
            .map(session_from_row)
            .transpose()?
            .ok_or(StoreError::SessionGone)?;
        if session.completed_time.is_some() {
            return Ok(Published::AlreadyCompleted);
        }
        if session.expires_time < now {
            return Err(StoreError::SessionGone);
        }
        let mut file = file
            .as_ref()
            .map(file_from_row)
            .transpose()?
            .ok_or(StoreError::SessionGone)?;
        let current_session = file
            .content
            .as_ref()
            .and_then(|c| content_key_session(&c.key));
        if current_session.is_some_and(|c| is_newer_session(c, session_id)) {
            return Err(StoreError::Superseded);
        }
        let previous = file.content.replace(content);
        file.uploaded_time = Some(now);
        file.last_updated_time = now;
        write_file(&tx, pid, &file, None).await.map_err(pg_err)?;
        if session.parts.is_some() {
            tx.execute(
                "UPDATE upload_sessions SET completed_time = $1 WHERE id = $2",
                &[&now, &session_id],
            )
            .await
            .map_err(pg_err)?;
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(Published::Replaced { previous })
    }

    /// [`MetadataStore::update_in_scope`](crate::store::MetadataStore::update_in_scope) on PostgreSQL,
    /// with the rules of the SQLite store's `update_files` (store/sqlite/update.rs): targets resolved
    /// against the files as they were before the request, items naming one file applied in order to one
    /// record, all or nothing.
    pub async fn update_in_scope(
        &self,
        project: &ProjectName,
        items: Vec<FileUpdate>,
        now: i64,
        scope: &FileScope,
    ) -> Result<Vec<FileRecord>, StoreError> {
        if items.is_empty() {
            return Ok(vec![]);
        }
        for _ in 0..ATTEMPTS {
            match self.update_once(project, &items, now, scope).await {
                Err(e) if lost_race(&e) => continue,
                other => return other,
            }
        }
        Err(gave_up())
    }

    async fn update_once(
        &self,
        project: &ProjectName,
        items: &[FileUpdate],
        now: i64,
        scope: &FileScope,
    ) -> Result<Vec<FileRecord>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let pid = project_id(&tx, project.as_str()).await?;
        let targets: Vec<Identifier> = items.iter().map(|u| u.target.clone()).collect();
        let found = resolve_all(&tx, pid, &targets, false, true)
            .await
            .map_err(|e| hide_missing(e, scope))?;
        let Some(pid) = pid else {
            return Err(hide_missing(StoreError::Missing(targets), scope));
        };
        // A file outside the caller's scope is refused before any patch is checked, so no validation
        // message says anything about it.
        if found.iter().any(|f| !scope.covers(f)) {
            return Err(StoreError::OutOfScope);
        }

        // One working copy per distinct file, in the order the request first names them.
        let mut files: Vec<FileRecord> = Vec::new();
        let mut original_external_ids: Vec<Option<String>> = Vec::new();
        let mut slot_of_file: HashMap<i64, usize> = HashMap::new();
        let mut slot_of_item: Vec<usize> = Vec::with_capacity(items.len());
        for (i, (item, file)) in items.iter().zip(found).enumerate() {
            let slot = match slot_of_file.get(&file.id) {
                Some(&slot) => slot,
                None => {
                    slot_of_file.insert(file.id, files.len());
                    original_external_ids.push(file.external_id.clone());
                    files.push(file);
                    files.len() - 1
                }
            };
            let record = files.get_mut(slot).ok_or_else(lost_copy)?;
            item.patch
                .apply(record)
                .map_err(|e| StoreError::Invalid(e.within(&format!("items[{i}].update"))))?;
            slot_of_item.push(slot);
        }
        // Moving a file into a data set needs WRITE there too, and giving it a security category needs
        // membership of that category.
        if files.iter().any(|f| !scope.covers(f)) {
            return Err(StoreError::OutOfScope);
        }
        check_external_ids(&tx, pid, &files, &original_external_ids, &slot_of_file).await?;

        // Free the externalIds that change before writing any file, so that a swap within the batch
        // does not trip the unique index halfway.
        for (file, original) in files.iter().zip(&original_external_ids) {
            if original.is_some() && file.external_id != *original {
                tx.execute(
                    "UPDATE files SET external_id = NULL WHERE project_id = $1 AND id = $2",
                    &[&pid, &file.id],
                )
                .await
                .map_err(pg_err)?;
            }
        }
        for file in &mut files {
            file.last_updated_time = now;
            write_file(&tx, pid, file, None).await.map_err(pg_err)?;
        }
        tx.commit().await.map_err(pg_err)?;
        slot_of_item
            .into_iter()
            .map(|slot| files.get(slot).cloned().ok_or_else(lost_copy))
            .collect()
    }

    /// [`MetadataStore::content_keys`](crate::store::MetadataStore::content_keys) on PostgreSQL.
    pub async fn content_keys(&self, file_ids: &[i64]) -> Result<Vec<(i64, String)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, content_key FROM files \
                 WHERE id = ANY($1) AND content_key IS NOT NULL",
                &[&file_ids],
            )
            .await
            .map_err(pg_err)?;
        let mut keys: HashMap<i64, String> = HashMap::with_capacity(rows.len());
        for row in rows {
            keys.insert(
                row.try_get(0).map_err(pg_err)?,
                row.try_get(1).map_err(pg_err)?,
            );
        }
        // In the order asked, as on SQLite.
        Ok(file_ids
            .iter()
            .filter_map(|id| keys.remove(id).map(|key| (*id, key)))
            .collect())
    }

    /// [`MetadataStore::open_sessions`](crate::store::MetadataStore::open_sessions) on PostgreSQL.
    pub async fn open_sessions(&self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id FROM upload_sessions WHERE id = ANY($1) AND completed_time IS NULL",
                &[&ids],
            )
            .await
            .map_err(pg_err)?;
        let open = rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<HashSet<String>, _>>()
            .map_err(pg_err)?;
        Ok(ids
            .iter()
            .filter(|id| open.contains(*id))
            .cloned()
            .collect())
    }

    /// [`MetadataStore::expire`](crate::store::MetadataStore::expire) on PostgreSQL.
    pub async fn expire(&self, now: i64) -> Result<Expired, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        // The condition is checked twice: to choose the batch, and again on each locked row in a new
        // statement (with a new snapshot), which sees a session committed in between.
        let condition = "uploaded_time IS NULL AND created_time < $1 AND NOT EXISTS \
             (SELECT 1 FROM upload_sessions s WHERE s.file_id = files.id AND s.expires_time >= $2)";
        let cutoff = now - UPLOAD_URL_TTL_MS;
        let candidates: Vec<i64> = tx
            .query(
                &format!(
                    "SELECT id FROM files WHERE {condition} ORDER BY seq LIMIT $3 \
                     FOR UPDATE SKIP LOCKED"
                ),
                &[&cutoff, &now, &EXPIRE_BATCH],
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(pg_err)?;
        let mut files = Vec::new();
        if !candidates.is_empty() {
            let deleted: Vec<i64> = tx
                .query(
                    &format!("DELETE FROM files WHERE id = ANY($3) AND {condition} RETURNING id"),
                    &[&cutoff, &now, &candidates],
                )
                .await
                .map_err(pg_err)?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()
                .map_err(pg_err)?;
            let mut sessions: HashMap<i64, Vec<String>> = HashMap::new();
            for row in tx
                .query(
                    "DELETE FROM upload_sessions WHERE file_id = ANY($1) RETURNING file_id, id",
                    &[&deleted],
                )
                .await
                .map_err(pg_err)?
            {
                sessions
                    .entry(row.try_get(0).map_err(pg_err)?)
                    .or_default()
                    .push(row.try_get(1).map_err(pg_err)?);
            }
            files = deleted
                .into_iter()
                .map(|id| DeletedFile {
                    id,
                    content: None,
                    sessions: sessions.remove(&id).unwrap_or_default(),
                })
                .collect();
        }
        let sessions = tx
            .query(
                "DELETE FROM upload_sessions WHERE id IN \
                 (SELECT id FROM upload_sessions WHERE expires_time < $1 LIMIT $2 \
                  FOR UPDATE SKIP LOCKED) RETURNING id",
                &[&now, &EXPIRE_BATCH],
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<Vec<String>, _>>()
            .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
        Ok(Expired { files, sessions })
    }
}

fn lost_copy() -> StoreError {
    StoreError::internal(BACKEND, std::io::Error::other("lost a working copy"))
}

/// Fails with every externalId that would be on two files after the update: two files of the batch, or
/// a file of the batch and one outside it (store/sqlite/update.rs, `check_external_ids`).
async fn check_external_ids(
    tx: &Tx<'_>,
    pid: i64,
    files: &[FileRecord],
    original_external_ids: &[Option<String>],
    in_batch: &HashMap<i64, usize>,
) -> Result<(), StoreError> {
    let mut clashes = crate::store::batch::external_ids_twice(files);
    for (file, original) in files.iter().zip(original_external_ids) {
        let Some(x) = &file.external_id else { continue };
        if Some(x) == original.as_ref() || clashes.contains(x) {
            continue;
        }
        // A holder inside the batch gives the externalId up (else the loop above caught it).
        let holder: Option<i64> = tx
            .query_opt(
                "SELECT id FROM files WHERE project_id = $1 AND external_id = $2",
                &[&pid, x],
            )
            .await
            .map_err(pg_err)?
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(pg_err)?;
        if holder.is_some_and(|h| h != file.id && !in_batch.contains_key(&h)) {
            clashes.push(x.clone());
        }
    }
    if clashes.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Duplicated(
            clashes.into_iter().map(Identifier::ExternalId).collect(),
        ))
    }
}
