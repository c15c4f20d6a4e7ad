//! `expire` of the SQLite store: what outlived its week.

use rusqlite::params;

use super::file_seq::row_of_id;
use super::rows::sql_err;
use super::writer::WriteCtx;
use crate::domain::UPLOAD_URL_TTL_MS;
use crate::store::{DeletedFile, Expired, StoreError};

/// Most files and most sessions removed by one call, so one call is one short transaction.
const BATCH: i64 = 1000;

/// Deletes files created more than a week before `now` that never got content and have no session left
/// that could still deliver some, then sessions past their expiry.
pub(super) fn expire(ctx: &mut WriteCtx<'_>, now: i64) -> Result<Expired, StoreError> {
    let conn = ctx.conn;
    let ids: Vec<i64> = conn
        .prepare_cached(
            "SELECT id FROM files WHERE uploaded_time IS NULL AND created_time < ?1 \
             AND NOT EXISTS (SELECT 1 FROM upload_sessions s WHERE s.file_seq = files.seq AND s.expires_time >= ?2) \
             LIMIT ?3",
        )
        .and_then(|mut st| {
            st.query_map(params![now - UPLOAD_URL_TTL_MS, now, BATCH], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(sql_err)?;
    let mut files = Vec::with_capacity(ids.len());
    for id in ids {
        let sessions = conn
            .prepare_cached(&format!(
                "DELETE FROM upload_sessions \
                 WHERE file_seq = (SELECT seq FROM files WHERE {}) RETURNING id",
                row_of_id("files", "?1")
            ))
            .and_then(|mut st| {
                st.query_map([id], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<String>>>()
            })
            .map_err(sql_err)?;
        conn.prepare_cached(&format!(
            "DELETE FROM files WHERE {}",
            row_of_id("files", "?1")
        ))
        .and_then(|mut st| st.execute([id]))
        .map_err(sql_err)?;
        files.push(DeletedFile {
            id,
            content: None,
            sessions,
        });
    }
    let sessions = conn
        .prepare_cached(
            "DELETE FROM upload_sessions WHERE id IN \
             (SELECT id FROM upload_sessions WHERE expires_time < ?1 LIMIT ?2) RETURNING id",
        )
        .and_then(|mut st| {
            st.query_map(params![now, BATCH], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .map_err(sql_err)?;
    Ok(Expired { files, sessions })
}

#[cfg(test)]
mod tests {
    use crate::domain::{ContentRef, FileSpec, ProjectName, UPLOAD_URL_TTL_MS};
    use crate::store::sqlite::SqliteStore;
    use crate::store::{MetadataStore, NewSession, PageRequest};

    fn session(id: &str, expires_time: i64) -> NewSession {
        NewSession {
            id: id.into(),
            parts: None,
            expires_time,
        }
    }

    /// Deleting a file takes its sessions with it (found through the file's position), and only its own.
    #[tokio::test]
    async fn a_deleted_file_takes_its_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("m.sqlite3"), 1).unwrap();
        let p = ProjectName::parse("del").unwrap();
        let spec = |n: &str| FileSpec {
            name: n.into(),
            ..Default::default()
        };
        let week = UPLOAD_URL_TTL_MS;
        let a = store
            .create_file(&p, spec("a"), false, session("a1", week), 0)
            .await
            .unwrap();
        let b = store
            .create_file(&p, spec("b"), false, session("b1", week), 0)
            .await
            .unwrap();
        store
            .open_session(
                &p,
                &crate::domain::Identifier::Id(a.id),
                session("a2", week),
            )
            .await
            .unwrap();
        let deleted = store
            .delete(&p, &[crate::domain::Identifier::Id(a.id)], false)
            .await
            .unwrap();
        let mut sessions = deleted[0].sessions.clone();
        sessions.sort();
        assert_eq!(sessions, ["a1", "a2"]);
        assert!(store.session(&p, b.id, "b1").await.unwrap().is_some());
        assert!(store.session(&p, a.id, "a2").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn files_without_content_go_after_a_week_and_uploaded_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("m.sqlite3"), 1).unwrap();
        let p = ProjectName::parse("exp").unwrap();
        let week = UPLOAD_URL_TTL_MS;
        let spec = |n: &str| FileSpec {
            name: n.into(),
            ..Default::default()
        };
        let empty = store
            .create_file(&p, spec("empty"), false, session("s1", week), 0)
            .await
            .unwrap();
        let full = store
            .create_file(&p, spec("full"), false, session("s2", week), 0)
            .await
            .unwrap();
        store
            .publish_content(
                &p,
                full.id,
                "s2",
                ContentRef {
                    key: "k".into(),
                    size: 1,
                },
                10,
            )
            .await
            .unwrap();
        let relinked = store
            .create_file(&p, spec("relinked"), false, session("s3", week), 0)
            .await
            .unwrap();
        store
            .open_session(
                &p,
                &crate::domain::Identifier::Id(relinked.id),
                session("s4", 3 * week),
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
        assert_eq!(expired, vec!["s2".to_string(), "s3".to_string()]);
        let page = PageRequest {
            filter: Default::default(),
            limit: 10,
            after: None,
            partition: None,
        };
        let left: Vec<i64> = store
            .list(&p, page.clone())
            .await
            .unwrap()
            .items
            .iter()
            .map(|f| f.id)
            .collect();
        assert_eq!(
            left.len(),
            2,
            "the uploaded file and the one with a live session stay"
        );

        let much_later = store.expire(3 * week + 1).await.unwrap();
        assert_eq!(
            much_later.files.iter().map(|f| f.id).collect::<Vec<_>>(),
            vec![relinked.id]
        );
        assert_eq!(store.list(&p, page).await.unwrap().items.len(), 1);
    }
}
