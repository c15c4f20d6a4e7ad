//! Name search of the SQLite store.

use rusqlite::Connection;

use crate::domain::{FileFilter, FileRecord};
use crate::store::StoreError;

/// At most `limit` files of the project matching `filter`, ranked by how well their name matches `name`.
pub(super) fn search_files(
    _conn: &Connection,
    _project_id: i64,
    _filter: &FileFilter,
    _name: Option<&str>,
    _limit: usize,
) -> Result<Vec<FileRecord>, StoreError> {
    Err(StoreError::internal("sqlite", std::io::Error::other("search is not implemented yet")))
}
