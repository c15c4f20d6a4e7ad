//! What a data directory's local content store holds: content files under `blobs/` and the objects of
//! the packed store (`blob/packed.rs`), which keeps small objects in a database instead of files.
#![allow(dead_code)]

use std::path::Path;

/// The keys of every object stored in `data_dir`, files and packed objects alike, sorted.
pub fn stored_objects(data_dir: &Path) -> Vec<String> {
    let blobs = data_dir.join("blobs");
    let mut keys: Vec<String> = files_under(&blobs)
        .into_iter()
        .filter_map(|p| Some(p.strip_prefix(&blobs).ok()?.to_str()?.to_string()))
        .collect();
    keys.extend(packed_keys(data_dir));
    keys.sort();
    keys
}

/// The keys in the packed store of `data_dir`; none if it has no packed store.
pub fn packed_keys(data_dir: &Path) -> Vec<String> {
    let db = data_dir.join(cabinet::blob::packed::FILE_NAME);
    if !db.exists() {
        return Vec::new();
    }
    let conn = rusqlite::Connection::open(&db).expect("open the packed store");
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .expect("busy timeout");
    let mut st = conn
        .prepare("SELECT key FROM objects ORDER BY key")
        .expect("query the packed store");
    let keys = st
        .query_map([], |r| r.get::<_, String>(0))
        .expect("read the packed store")
        .collect::<Result<Vec<_>, _>>()
        .expect("read the packed store");
    keys
}

/// Every file below `dir`, at any depth; none if `dir` does not exist.
pub fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
