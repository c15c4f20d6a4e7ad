//! Content on the local disk, under `<data dir>/blobs`. Every write goes to a staging file in
//! `<data dir>/staging`, is synced, and is then renamed into place (and the directory synced), so an object
//! is either whole and durable or absent, whatever happens to the process.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use std::io::Write;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;

use super::*;

/// Window size of downloads: large, so that a transfer costs few system calls and wake-ups.
const READ_CHUNK: usize = 512 * 1024;

/// Chunks queued between a download's reader thread and the response: bounds memory per download.
const READ_QUEUE: usize = 4;

/// Chunks queued between an upload and its writer thread: bounds memory per upload.
const WRITE_QUEUE: usize = 8;

/// The local-disk [`BlobStore`].
#[derive(Debug, Clone)]
pub struct LocalBlobs {
    root: PathBuf,
    objects: PathBuf,
    parts: PathBuf,
    staging: PathBuf,
    /// Staging files a write of this process still owns: the orphan collector leaves them alone.
    live_staging: LiveStaging,
}

/// The set of staging files in use.
pub(super) type LiveStaging = Arc<Mutex<HashSet<PathBuf>>>;

/// A disk error as a [`BlobError`]: out of space, or a fault of ours.
pub(super) fn io_error(e: std::io::Error) -> BlobError {
    internal(e)
}

fn internal(e: std::io::Error) -> BlobError {
    if is_out_of_space(&e) {
        return BlobError::NoSpace {
            backend: "local disk",
        };
    }
    BlobError::Internal {
        backend: "local disk",
        source: Box::new(e),
    }
}

/// ENOSPC or EDQUOT: the disk (or the user's quota) is full.
pub fn is_out_of_space(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull
        || e.kind() == std::io::ErrorKind::QuotaExceeded
        || matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

/// Removes a staging file when dropped, unless it was published: an aborted or cancelled upload leaves
/// nothing behind.
struct Staged {
    path: PathBuf,
    published: bool,
    live: LiveStaging,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_file(&self.path);
        }
        if let Ok(mut live) = self.live.lock() {
            live.remove(&self.path);
        }
    }
}

impl LocalBlobs {
    /// A store under `root`; creates its directories and removes what interrupted writes left in staging.
    pub fn open(root: &Path) -> std::io::Result<Self> {
        let this = Self {
            root: root.to_path_buf(),
            objects: root.join("blobs"),
            parts: root.join("parts"),
            staging: root.join("staging"),
            live_staging: LiveStaging::default(),
        };
        if this.staging.exists() {
            std::fs::remove_dir_all(&this.staging)?;
        }
        for dir in [&this.objects, &this.parts, &this.staging] {
            std::fs::create_dir_all(dir)?;
        }
        Ok(this)
    }

    fn object_path(&self, key: &str) -> PathBuf {
        self.objects.join(key)
    }

    fn part_path(&self, upload: &str, index: u32) -> PathBuf {
        self.parts.join(upload).join(format!("{index:05}"))
    }

    fn new_staging(&self) -> Staged {
        let path = self.staging.join(uuid::Uuid::new_v4().simple().to_string());
        if let Ok(mut live) = self.live_staging.lock() {
            live.insert(path.clone());
        }
        Staged {
            path,
            published: false,
            live: self.live_staging.clone(),
        }
    }

    /// Streams `body` into a synced staging file; returns it and its size. A blocking thread owns the
    /// file and writes whatever chunks have arrived in one vectored write, so the async side never waits
    /// on the disk and no chunk is copied on the way.
    async fn stage(
        &self,
        mut body: ByteStream,
        max_bytes: u64,
    ) -> Result<(Staged, u64), BlobError> {
        let staged = self.new_staging();
        let path = staged.path.clone();
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(WRITE_QUEUE);
        let writer = tokio::task::spawn_blocking(move || write_chunks(&path, rx));
        let mut size: u64 = 0;
        let mut failure = None;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    failure = Some(BlobError::Aborted(e));
                    break;
                }
            };
            size += chunk.len() as u64;
            if size > max_bytes {
                failure = Some(BlobError::TooLarge { limit: max_bytes });
                break;
            }
            // A full queue means the disk is behind: this waits for room. A closed one means the writer
            // failed; its error is collected below.
            if tx.send(chunk).await.is_err() {
                break;
            }
        }
        drop(tx);
        let written = writer
            .await
            .map_err(|e| internal(std::io::Error::other(e)))?;
        if let Some(failure) = failure {
            return Err(failure);
        }
        written.map_err(internal)?;
        Ok((staged, size))
    }

    /// Renames a synced staging file to `dest` and syncs its directory, and every directory the publish
    /// had to create up to the store's root, making the rename durable.
    async fn publish(&self, mut staged: Staged, dest: PathBuf) -> Result<(), BlobError> {
        let source = staged.path.clone();
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let dir = dest.parent().unwrap_or(Path::new("/"));
            create_dirs_durably(dir, &root)?;
            std::fs::rename(&source, &dest)?;
            std::fs::File::open(dir)?.sync_all()
        })
        .await
        .map_err(|e| internal(std::io::Error::other(e)))?
        .map_err(internal)?;
        staged.published = true;
        Ok(())
    }
}

/// Creates `dir` and its missing ancestors below `root`, then syncs each created directory's parent, so
/// that the new entries survive a crash. Returns how many directories it created.
fn create_dirs_durably(dir: &Path, root: &Path) -> std::io::Result<usize> {
    let mut missing = Vec::new();
    let mut at = dir;
    while !at.exists() && at.starts_with(root) && at != root {
        missing.push(at.to_path_buf());
        match at.parent() {
            Some(parent) => at = parent,
            None => break,
        }
    }
    if missing.is_empty() {
        return Ok(0);
    }
    std::fs::create_dir_all(dir)?;
    // Deepest first: each directory's entry lives in its parent.
    for created in &missing {
        if let Some(parent) = created.parent() {
            std::fs::File::open(parent)?.sync_all()?;
        }
    }
    Ok(missing.len())
}

/// The writer thread of [`LocalBlobs::stage`]: appends chunks as they come, in batches, then syncs.
/// Writeback is started for every this many bytes written, so the final sync has little left to wait for.
const WRITEBACK_WINDOW: u64 = 8 * 1024 * 1024;

fn write_chunks(path: &Path, mut rx: tokio::sync::mpsc::Receiver<Bytes>) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    let mut batch: Vec<Bytes> = Vec::with_capacity(WRITE_QUEUE);
    let (mut written, mut flushed) = (0u64, 0u64);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        write_all_vectored(&mut file, &batch)?;
        written += batch.iter().map(|c| c.len() as u64).sum::<u64>();
        batch.clear();
        if written - flushed >= WRITEBACK_WINDOW {
            start_writeback(&file, flushed, written - flushed);
            flushed = written;
        }
    }
    file.sync_data()
}

/// Asks the kernel to start writing a range to disk now, without waiting: the upload keeps streaming
/// while the disk works, instead of the whole file waiting for the final sync.
#[cfg(target_os = "linux")]
fn start_writeback(file: &std::fs::File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: sync_file_range only reads its integer arguments; the descriptor is open for the call.
    unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            offset as i64,
            len as i64,
            libc::SYNC_FILE_RANGE_WRITE,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &std::fs::File, _offset: u64, _len: u64) {}

fn write_all_vectored(file: &mut std::fs::File, chunks: &[Bytes]) -> std::io::Result<()> {
    let mut slices: Vec<std::io::IoSlice<'_>> =
        chunks.iter().map(|c| std::io::IoSlice::new(c)).collect();
    let mut slices = slices.as_mut_slice();
    while !slices.is_empty() {
        let n = file.write_vectored(slices)?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        std::io::IoSlice::advance_slices(&mut slices, n);
    }
    Ok(())
}

/// The reader thread of a download: hands the file (or the range) to the response in windows of
/// [`READ_CHUNK`] mapped from the page cache, until it is done or the client went away (the channel
/// closed). A mapped window is written to the socket straight from the page cache: one copy fewer per byte
/// than reading into a buffer first, which was a third of a download's CPU. Each window is unmapped once
/// the response has sent it, so the memory a download holds stays bounded by the queue.
fn read_chunks(
    file: std::fs::File,
    range: Option<(u64, u64)>,
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
) {
    let size = match file.metadata() {
        Ok(m) => m.len(),
        Err(e) => {
            let _ = tx.blocking_send(Err(e));
            return;
        }
    };
    // Never map past the end of the file: touching such a page would kill the process (SIGBUS).
    let (mut pos, end) = match range {
        Some((first, last)) => (first, last.saturating_add(1).min(size)),
        None => (0, size),
    };
    while pos < end {
        let want = (end - pos).min(READ_CHUNK as u64);
        match map_window(&file, pos, want) {
            Ok(window) => {
                if tx.blocking_send(Ok(window)).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
        pos += want;
    }
}

/// `len` bytes of `file` from `pos`, mapped read-only and paged in (`MAP_POPULATE`), as `Bytes` that unmap
/// when dropped.
fn map_window(file: &std::fs::File, pos: u64, len: u64) -> std::io::Result<Bytes> {
    const PAGE: u64 = 4096;
    let start = pos - pos % PAGE;
    let skip = (pos - start) as usize;
    let mapped_len = usize::try_from(len).map_err(std::io::Error::other)? + skip;
    // SAFETY: content files are written once under staging/ and renamed into place; nothing writes to or
    // truncates them afterwards (a new upload gets a new key), and `pos + len` is within the file's size,
    // so the mapping stays valid and unchanged for its lifetime. Deleting the file meanwhile only unlinks
    // it; the mapping keeps the data alive.
    let map = unsafe {
        memmap2::MmapOptions::new()
            .offset(start)
            .len(mapped_len)
            .populate()
            .map(file)?
    };
    Ok(Bytes::from_owner(map).slice(skip..))
}

/// A receiver as a stream.
fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[async_trait]
impl BlobStore for LocalBlobs {
    async fn put(&self, key: &str, body: ByteStream, max_bytes: u64) -> Result<u64, BlobError> {
        let (staged, size) = self.stage(body, max_bytes).await?;
        self.publish(staged, self.object_path(key)).await?;
        Ok(size)
    }

    async fn put_part(
        &self,
        upload: &str,
        index: u32,
        body: ByteStream,
        max_bytes: u64,
    ) -> Result<u64, BlobError> {
        let (staged, size) = self.stage(body, max_bytes).await?;
        self.publish(staged, self.part_path(upload, index)).await?;
        Ok(size)
    }

    async fn part_sizes(&self, upload: &str, parts: u32) -> Result<Vec<Option<u64>>, BlobError> {
        let mut sizes = Vec::with_capacity(parts as usize);
        for index in 0..parts {
            match tokio::fs::metadata(self.part_path(upload, index)).await {
                Ok(m) => sizes.push(Some(m.len())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => sizes.push(None),
                Err(e) => return Err(internal(e)),
            }
        }
        Ok(sizes)
    }

    async fn assemble(&self, upload: &str, parts: u32, key: &str) -> Result<u64, BlobError> {
        let staged = self.new_staging();
        let sources: Vec<PathBuf> = (0..parts).map(|i| self.part_path(upload, i)).collect();
        let target = staged.path.clone();
        // std::io::copy between files uses copy_file_range on Linux: the kernel moves the bytes, and no
        // part ever passes through this process's memory.
        let joined = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
            let mut out = std::fs::File::create(&target)?;
            let mut size = 0;
            for source in sources {
                let mut part = std::fs::File::open(source)?;
                size += std::io::copy(&mut part, &mut out)?;
            }
            out.sync_data()?;
            Ok(size)
        })
        .await
        .map_err(|e| internal(std::io::Error::other(e)))?;
        let size = match joined {
            Ok(size) => size,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(BlobError::NotFound),
            Err(e) => return Err(internal(e)),
        };
        let dest = self.object_path(key);
        self.publish(staged, dest).await?;
        Ok(size)
    }

    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<ByteStream, BlobError> {
        let path = self.object_path(key);
        let file = match tokio::task::spawn_blocking(move || std::fs::File::open(path)).await {
            Ok(Ok(f)) => f,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BlobError::NotFound)
            }
            Ok(Err(e)) => return Err(internal(e)),
            Err(e) => return Err(internal(std::io::Error::other(e))),
        };
        let (tx, rx) = tokio::sync::mpsc::channel(READ_QUEUE);
        tokio::task::spawn_blocking(move || read_chunks(file, range, tx));
        Ok(Box::pin(tokio_stream_from(rx)))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.object_path(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(internal(e)),
        }
    }

    async fn delete_parts(&self, upload: &str) -> Result<(), BlobError> {
        match tokio::fs::remove_dir_all(self.parts.join(upload)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(internal(e)),
        }
    }

    fn stale(&self, older_than: std::time::SystemTime) -> StoredStream {
        super::local_scan::stale(
            super::local_scan::Layout {
                objects: self.objects.clone(),
                parts: self.parts.clone(),
                staging: self.staging.clone(),
                live_staging: self.live_staging.clone(),
            },
            older_than,
        )
    }
}
