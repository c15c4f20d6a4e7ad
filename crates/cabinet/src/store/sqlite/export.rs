//! Reading a whole data directory's database out, for `cabinet migrate` (src/migrate.rs): files in
//! listing (seq) order with their seq and project, the id counter, and the IAM rows as stored.
//!
//! It reads through a plain connection of its own (no writer thread, nothing written) and refuses a
//! database whose schema is older or newer than this binary's: a server of this version migrates it when
//! it starts, and the migration must read the columns it knows.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{file_from_row, sql_err, FILE_COLUMNS};
use super::{open_connection, MIGRATIONS};
use crate::domain::FileRecord;
use crate::store::datasets::DataSet;
use crate::store::labels::Label;
use crate::store::StoreError;

/// A file as the migration copies it: its place in listing order, its project, the record.
#[derive(Debug, Clone)]
pub struct ExportedFile {
    /// The SQLite rowid: listing order, and what cursors hold.
    pub seq: i64,
    /// The project's name.
    pub project: String,
    /// Every field, times and content reference included.
    pub file: FileRecord,
}

/// A stored group exactly as SQLite holds it: the JSON columns as their text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    /// Its id (at least 2^48).
    pub id: i64,
    /// The project's name.
    pub project: String,
    /// The group's name.
    pub name: String,
    /// The IdP group id, if any.
    pub source_id: Option<String>,
    /// The members (JSON text), if managed in cabinet.
    pub members: Option<String>,
    /// The capabilities (JSON text).
    pub capabilities: String,
    /// The metadata (JSON text).
    pub metadata: String,
    /// The application ids (JSON text), if limited.
    pub app_ids: Option<String>,
    /// When it was created (ms).
    pub created_time: i64,
}

/// A security category as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryRow {
    /// Its id; files refer to it.
    pub id: i64,
    /// The project's name.
    pub project: String,
    /// Its name, unique in the project.
    pub name: String,
}

/// How many columns [`FILE_COLUMNS`] names: the seq and project follow them.
const FILE_COLUMN_COUNT: usize = 19;

/// A read-only view of a data directory's `metadata.sqlite3`.
pub struct SqliteExport {
    conn: Connection,
}

impl SqliteExport {
    /// Opens the database at `path`, which must exist and have exactly this binary's schema.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if !path.is_file() {
            return Err(StoreError::internal(
                "sqlite",
                std::io::Error::other(format!("{} does not exist", path.display())),
            ));
        }
        let conn = open_connection(path, true).map_err(sql_err)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql_err)?;
        if version != MIGRATIONS.len() as i64 {
            return Err(StoreError::internal(
                "sqlite",
                std::io::Error::other(format!(
                    "{} has schema version {version}, this cabinet reads version {}: start this \
                     version of `cabinet serve` on the data directory once (it upgrades the schema), \
                     stop it, and migrate again",
                    path.display(),
                    MIGRATIONS.len()
                )),
            ));
        }
        Ok(Self { conn })
    }

    /// The next value of the id counter: every file id ever handed out is the permutation of a counter
    /// below it.
    pub fn id_counter(&self) -> Result<u64, StoreError> {
        let value: Option<i64> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'id_counter'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql_err)?;
        Ok(value.unwrap_or(0).max(0) as u64)
    }

    /// How many files there are, and the highest seq (0 without files).
    pub fn file_count_and_last_seq(&self) -> Result<(u64, i64), StoreError> {
        self.conn
            .query_row(
                "SELECT count(*), coalesce(max(seq), 0) FROM files",
                [],
                |r| Ok((r.get::<_, i64>(0)?.max(0) as u64, r.get(1)?)),
            )
            .map_err(sql_err)
    }

    /// Up to `limit` files with a seq above `after`, in seq order.
    pub fn files_after(&self, after: i64, limit: usize) -> Result<Vec<ExportedFile>, StoreError> {
        let sql = format!(
            "SELECT {}, files.seq, projects.name FROM files \
             JOIN projects ON projects.id = files.project_id \
             WHERE files.seq > ?1 ORDER BY files.seq LIMIT ?2",
            qualified_file_columns()
        );
        let mut st = self.conn.prepare_cached(&sql).map_err(sql_err)?;
        let rows = st
            .query_map(params![after, limit as i64], |row| {
                Ok(ExportedFile {
                    seq: row.get(FILE_COLUMN_COUNT)?,
                    project: row.get(FILE_COLUMN_COUNT + 1)?,
                    file: file_from_row(row)?,
                })
            })
            .map_err(sql_err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(sql_err)
    }

    /// Every project's name (projects exist from their first write, even if they hold no file now).
    pub fn projects(&self) -> Result<Vec<String>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT name FROM projects ORDER BY id")
            .map_err(sql_err)?;
        let rows = st.query_map([], |r| r.get(0)).map_err(sql_err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(sql_err)
    }

    /// Every stored group, by id.
    pub fn groups(&self) -> Result<Vec<GroupRow>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT id, project, name, source_id, members, capabilities, metadata, app_ids, \
                 created_time FROM iam_groups ORDER BY id",
            )
            .map_err(sql_err)?;
        let rows = st
            .query_map([], |r| {
                Ok(GroupRow {
                    id: r.get(0)?,
                    project: r.get(1)?,
                    name: r.get(2)?,
                    source_id: r.get(3)?,
                    members: r.get(4)?,
                    capabilities: r.get(5)?,
                    metadata: r.get(6)?,
                    app_ids: r.get(7)?,
                    created_time: r.get(8)?,
                })
            })
            .map_err(sql_err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(sql_err)
    }

    /// Every asset with its project, by id, and the last asset id handed out.
    pub fn assets(&self) -> Result<(Vec<(String, crate::store::assets::Asset)>, i64), StoreError> {
        super::assets::export_all(&self.conn)
    }

    /// Every security category, by id.
    pub fn categories(&self) -> Result<Vec<CategoryRow>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT id, project, name FROM iam_security_categories ORDER BY id")
            .map_err(sql_err)?;
        let rows = st
            .query_map([], |r| {
                Ok(CategoryRow {
                    id: r.get(0)?,
                    project: r.get(1)?,
                    name: r.get(2)?,
                })
            })
            .map_err(sql_err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(sql_err)
    }

    /// The highest id AUTOINCREMENT ever handed out in `table` (deleted rows included), 0 if none.
    pub fn last_handed_out(&self, table: &str) -> Result<i64, StoreError> {
        let value: Option<i64> = self
            .conn
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = ?1",
                [table],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err)?;
        Ok(value.unwrap_or(0))
    }

    /// Every data set, by id, with its project.
    pub fn data_sets(&self) -> Result<Vec<(String, DataSet)>, StoreError> {
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {}, project FROM data_sets ORDER BY id",
                super::datasets::COLUMNS
            ))
            .map_err(sql_err)?;
        let rows = st
            .query_map([], |r| {
                Ok((super::datasets::raw_row(r)?, r.get::<_, String>(8)?))
            })
            .map_err(sql_err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql_err)?;
        rows.into_iter()
            .map(|(raw, project)| Ok((project, super::datasets::decode(raw)?)))
            .collect()
    }

    /// Every label definition, in listing order, with its project.
    pub fn labels(&self) -> Result<Vec<(String, Label)>, StoreError> {
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {}, project FROM labels ORDER BY seq",
                super::labels::COLUMNS
            ))
            .map_err(sql_err)?;
        let rows = st
            .query_map([], |r| {
                Ok((r.get::<_, String>(6)?, super::labels::label(r)?))
            })
            .map_err(sql_err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql_err)?;
        Ok(rows)
    }
}

/// [`FILE_COLUMNS`] prefixed with `files.` (the join also has `id` and `name` columns).
fn qualified_file_columns() -> String {
    FILE_COLUMNS
        .split(',')
        .map(|c| format!("files.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}
