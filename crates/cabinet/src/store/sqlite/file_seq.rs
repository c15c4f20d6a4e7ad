//! Finding a file's row from its id without an index on `files.id`.
//!
//! A file's id is the keyed permutation of the id counter ([`IdPermutation`]), and since migration 0015
//! a file is inserted with `seq` = counter + 1. So the row of an id is found by inverting the
//! permutation: `file_seq(id)`, a SQL function registered on every connection of the store, gives the
//! seq, a rowid lookup. Creates no longer insert into a unique index on a random id (a random page of it
//! per create, written to the WAL at every group commit).
//!
//! Files whose seq does not follow from their id — every file created before migration 0015, and rows
//! that tests insert by hand — are listed in `file_seq_exceptions` (id → seq), which the lookup reads
//! first; a delete trigger keeps it in step. Ids stay unique without the index: the counters of the
//! listed files are all below the counter at the migration, and every later file's seq (counter + 1)
//! lies above them (the writer starts its counter at least at the highest seq).

use rusqlite::functions::FunctionFlags;
use rusqlite::Connection;

use crate::store::ids::IdPermutation;

/// Registers `file_seq(id)` on `conn`: the seq a file with that id has if it was created under the
/// permutation rule, or NULL for a value that is no id. It does not say whether such a file exists.
pub(crate) fn register(conn: &Connection, ids: &IdPermutation) -> rusqlite::Result<()> {
    let ids = ids.clone();
    conn.create_scalar_function(
        "file_seq",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        move |ctx| {
            let seq = match ctx.get_raw(0) {
                rusqlite::types::ValueRef::Integer(id) => ids
                    .counter_of(id)
                    .and_then(|n| i64::try_from(n).ok())
                    .map(|n| n + 1),
                _ => None,
            };
            Ok(seq)
        },
    )
}

/// The SQL condition that holds for the row of `files` (under the name `table`) whose id is the SQL
/// expression `id`: one rowid lookup (the seq of the exception list, else the permutation's), then a
/// check of the id itself, so an id that no file has matches nothing.
pub(crate) fn row_of_id(table: &str, id: &str) -> String {
    format!(
        "{table}.seq = coalesce((SELECT e.seq FROM file_seq_exceptions AS e WHERE e.id = {id}), \
         file_seq({id})) AND {table}.id = {id}"
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::super::{open_connection, SqliteStore, MIGRATIONS};
    use crate::auth::FileScope;
    use crate::domain::{FileSpec, Identifier, ProjectName};
    use crate::store::{MetadataStore, NewSession};

    fn session(id: &str) -> NewSession {
        NewSession {
            id: id.to_string(),
            parts: None,
            expires_time: i64::MAX,
        }
    }

    /// A database from before migration 0015, whose files have ids that no permutation gives their seqs,
    /// keeps finding, updating and deleting them after it; new files get seqs after theirs, and every
    /// lookup is a rowid lookup.
    #[tokio::test]
    async fn files_from_before_the_migration_are_found_through_the_exceptions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = open_connection(&path, false).unwrap();
            let before = MIGRATIONS.len() - 1;
            for sql in &MIGRATIONS[..before] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch(&format!("PRAGMA user_version = {before}"))
                .unwrap();
            conn.execute_batch(
                "INSERT INTO projects (id, name) VALUES (1, 'proj');
                 INSERT INTO files (seq, id, project_id, name, created_time, last_updated_time)
                     VALUES (1, 77, 1, 'first', 0, 0), (2, 5, 1, 'second', 0, 0), (4, 9007199254740991, 1, 'third', 0, 0);
                 INSERT INTO meta (key, value) VALUES ('id_counter', 3);",
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path, 11).unwrap();
        let project = ProjectName::parse("proj").unwrap();
        let scope = FileScope::all();
        let names = |files: Vec<crate::domain::FileRecord>| {
            files.into_iter().map(|f| f.name).collect::<Vec<_>>()
        };
        let old = [77, 5, 9007199254740991].map(Identifier::Id);
        let found = store.retrieve(&project, &old, false).await.unwrap();
        assert_eq!(names(found), ["first", "second", "third"]);

        let new = store
            .create_file_in_scope(
                &project,
                FileSpec {
                    name: "fourth".into(),
                    ..Default::default()
                },
                false,
                session("s1"),
                1,
                &scope,
            )
            .await
            .unwrap();
        let found = store
            .retrieve(&project, &[Identifier::Id(new.id)], false)
            .await
            .unwrap();
        assert_eq!(names(found), ["fourth"]);
        let deleted = store
            .delete_in_scope(&project, &[Identifier::Id(5)], false, &scope)
            .await
            .unwrap();
        assert_eq!(deleted.len(), 1);
        let missing = store
            .retrieve(&project, &[Identifier::Id(5), Identifier::Id(6)], true)
            .await
            .unwrap();
        assert!(missing.is_empty());

        let conn = open_connection(&path, true).unwrap();
        super::register(&conn, &crate::store::ids::IdPermutation::new(11)).unwrap();
        let seqs: Vec<(i64, i64)> = conn
            .prepare("SELECT id, seq FROM file_seq_exceptions ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            seqs,
            [(77, 1), (9007199254740991, 4)],
            "the delete took 5 out"
        );
        let new_seq: i64 = conn
            .query_row("SELECT seq FROM files WHERE name = 'fourth'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(
            new_seq, 5,
            "after the highest seq, though the counter said 3"
        );
        let plan: Vec<String> = conn
            .prepare(&format!(
                "EXPLAIN QUERY PLAN SELECT name FROM files WHERE {}",
                super::row_of_id("files", "?1")
            ))
            .unwrap()
            .query_map([new.id], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|l| l.starts_with("SEARCH files USING INTEGER PRIMARY KEY (rowid=?)")),
            "{plan:#?}"
        );
        assert!(!plan.iter().any(|l| l.starts_with("SCAN")), "{plan:#?}");
        let by_id: Option<String> = conn
            .query_row(
                &format!(
                    "SELECT name FROM files WHERE {}",
                    super::row_of_id("files", "?1")
                ),
                [new.id],
                |r| r.get(0),
            )
            .ok();
        assert_eq!(by_id.as_deref(), Some("fourth"));
    }
}
