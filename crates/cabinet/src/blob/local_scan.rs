//! The local store's side of the orphan collector: walks the object and part directories for entries
//! older than a cutoff, and removes staging files that no write owns any more.
//!
//! The walk runs on one blocking thread and hands entries over a bounded channel, so memory stays bounded
//! however many objects the store holds, and it stops as soon as the collector stops listening.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::local::LiveStaging;
use super::{BlobError, Stored, StoredStream};

/// Entries queued between the walk and the collector.
const QUEUE: usize = 1024;

/// The directories of a local store.
pub(super) struct Layout {
    pub(super) objects: PathBuf,
    pub(super) parts: PathBuf,
    pub(super) staging: PathBuf,
    pub(super) live_staging: LiveStaging,
}

type Sender = tokio::sync::mpsc::Sender<Result<Stored, BlobError>>;

pub(super) fn stale(layout: Layout, older_than: SystemTime) -> StoredStream {
    let (tx, mut rx) = tokio::sync::mpsc::channel(QUEUE);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = walk(&layout, older_than, &tx) {
            let _ = tx.blocking_send(Err(super::local::io_error(e)));
        }
    });
    Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

fn walk(layout: &Layout, older_than: SystemTime, tx: &Sender) -> std::io::Result<()> {
    remove_stale_staging(layout, older_than)?;
    // Parts: one directory per upload, named by its id; the newest part's time counts.
    for entry in read_dir_or_empty(&layout.parts)? {
        let entry = entry?;
        let Some(upload) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if newest_mtime(&entry.path())? < older_than
            && tx.blocking_send(Ok(Stored::Upload(upload))).is_err()
        {
            return Ok(());
        }
    }
    walk_objects(&layout.objects, &layout.objects, older_than, tx).map(|_| ())
}

/// Returns `false` once the collector stopped listening.
fn walk_objects(
    root: &Path,
    dir: &Path,
    older_than: SystemTime,
    tx: &Sender,
) -> std::io::Result<bool> {
    for entry in read_dir_or_empty(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            if !walk_objects(root, &path, older_than, tx)? {
                return Ok(false);
            }
        } else if kind.is_file() && entry.metadata()?.modified()? < older_than {
            let Some(key) = path
                .strip_prefix(root)
                .ok()
                .and_then(Path::to_str)
                .map(str::to_string)
            else {
                continue;
            };
            if tx.blocking_send(Ok(Stored::Object(key))).is_err() {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn remove_stale_staging(layout: &Layout, older_than: SystemTime) -> std::io::Result<()> {
    for entry in read_dir_or_empty(&layout.staging)? {
        let entry = entry?;
        let path = entry.path();
        let owned = layout
            .live_staging
            .lock()
            .map(|live| live.contains(&path))
            .unwrap_or(true);
        if owned || entry.metadata()?.modified()? >= older_than {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::info!(path = %path.display(), "removed an abandoned staging file"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The latest modification time of `dir` and the files in it.
fn newest_mtime(dir: &Path) -> std::io::Result<SystemTime> {
    let mut newest = std::fs::metadata(dir)?.modified()?;
    for entry in read_dir_or_empty(dir)? {
        if let Ok(modified) = entry?.metadata().and_then(|m| m.modified()) {
            newest = newest.max(modified);
        }
    }
    Ok(newest)
}

/// The entries of `dir`; none if it does not exist (any more).
fn read_dir_or_empty(dir: &Path) -> std::io::Result<Vec<std::io::Result<std::fs::DirEntry>>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => Ok(entries.collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(vec![]),
        Err(e) => Err(e),
    }
}
