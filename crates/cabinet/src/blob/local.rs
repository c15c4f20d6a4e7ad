//! Content on the local disk, under `<data dir>/blobs`. Every write goes to a staging file in
//! `<data dir>/staging`, is synced, and is then renamed into place (and the directory synced), so an object
//! is either whole and durable or absent, whatever happens to the process.
//!
//! Objects of at most [`PACKED_MAX`] bytes are the exception: they go to the packed store
//! ([`super::packed`]), which makes many of them durable with one sync. A put reads its body up to that
//! size plus one chunk to decide; `get` and `delete` look for a key's file first and then in the packed
//! store (a key is written once, so it is in one of the two), and `stale` lists both.

use std::collections::HashSet;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::packed::{Packed, PACKED_MAX};
use super::*;

/// Window size of downloads: large, so that a transfer costs few system calls and wake-ups.
const READ_CHUNK: usize = 512 * 1024;

/// Bytes of an upload gathered from the network while the previous batch is written: with that batch,
/// bounds the memory an upload holds.
const WRITE_BATCH: usize = 1024 * 1024;

/// Most chunks in one vectored write (well under the system's IOV_MAX).
const WRITE_BATCH_CHUNKS: usize = 64;

/// Blocking disk sections of this store that run at once. A transfer takes a blocking thread only for a
/// short piece of disk work (one batch written, one window mapped), never while it waits for its client;
/// this bound keeps even a disk-bound crowd of transfers from taking tokio's whole blocking pool, which
/// metadata reads need.
const DISK_SECTIONS: usize = 64;

/// Multipart assemblies that copy at once: each holds a blocking thread for as long as its copy takes
/// (seconds for gigabytes), so they are few, and more wait without holding one.
const ASSEMBLIES: usize = 4;

/// The local-disk [`BlobStore`].
#[derive(Debug, Clone)]
pub struct LocalBlobs {
    root: PathBuf,
    objects: PathBuf,
    parts: PathBuf,
    staging: PathBuf,
    /// Staging files a write of this process still owns: the orphan collector leaves them alone.
    live_staging: LiveStaging,
    /// Admits [`DISK_SECTIONS`] blocking disk sections at once.
    disk: Arc<Semaphore>,
    /// Admits [`ASSEMBLIES`] multipart assemblies at once.
    assemblies: Arc<Semaphore>,
    /// Where objects of at most [`PACKED_MAX`] bytes are.
    packed: Packed,
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
    /// A store under `root`; creates its directories and the packed store's database, and removes what
    /// interrupted writes left in staging.
    pub fn open(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root)?;
        let this = Self {
            root: root.to_path_buf(),
            objects: root.join("blobs"),
            parts: root.join("parts"),
            staging: root.join("staging"),
            live_staging: LiveStaging::default(),
            disk: Arc::new(Semaphore::new(DISK_SECTIONS)),
            assemblies: Arc::new(Semaphore::new(ASSEMBLIES)),
            packed: Packed::open(&root.join(super::packed::FILE_NAME))?,
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

    /// Streams `body` into a synced staging file; returns it and its size. Chunks are gathered on the
    /// async side while the previous batch is written in one vectored write in a short blocking section,
    /// so the network and the disk overlap, no chunk is copied, and no thread waits for the client.
    async fn stage(
        &self,
        mut body: ByteStream,
        max_bytes: u64,
    ) -> Result<(Staged, u64), BlobError> {
        let staged = self.new_staging();
        let mut file = Some(self.create_staging(&staged.path).await?);
        let mut writing: Option<Pin<Box<dyn Future<Output = WriteOutcome> + Send>>> = None;
        let (mut batch, mut batched): (Vec<Bytes>, usize) = (Vec::new(), 0);
        let (mut size, mut body_done) = (0u64, false);
        loop {
            if writing.is_none() && !batch.is_empty() {
                if let Some(mut f) = file.take() {
                    let chunks = std::mem::take(&mut batch);
                    batched = 0;
                    writing = Some(Box::pin(on_disk(Arc::clone(&self.disk), move || {
                        let written = f.append(&chunks);
                        (f, written)
                    })));
                }
            }
            if body_done && writing.is_none() {
                break;
            }
            let gather = !body_done && batched < WRITE_BATCH && batch.len() < WRITE_BATCH_CHUNKS;
            tokio::select! {
                outcome = async {
                    match writing.as_mut() {
                        Some(w) => w.await,
                        None => std::future::pending().await,
                    }
                }, if writing.is_some() => {
                    writing = None;
                    let (f, written) = outcome?;
                    written.map_err(internal)?;
                    file = Some(f);
                }
                chunk = body.next(), if gather => match chunk {
                    None => body_done = true,
                    Some(Err(e)) => return Err(BlobError::Aborted(e)),
                    Some(Ok(chunk)) => {
                        size += chunk.len() as u64;
                        if size > max_bytes {
                            return Err(BlobError::TooLarge { limit: max_bytes });
                        }
                        batched += chunk.len();
                        if !chunk.is_empty() {
                            batch.push(chunk);
                        }
                    }
                },
                else => return Err(internal(std::io::Error::other("upload staging lost its file"))),
            }
        }
        let f =
            file.ok_or_else(|| internal(std::io::Error::other("upload staging lost its file")))?;
        on_disk(Arc::clone(&self.disk), move || f.file.sync_data())
            .await?
            .map_err(internal)?;
        Ok((staged, size))
    }

    /// Creates the staging file at `path`. Should the upload be dropped while the file is being created,
    /// the blocking section removes it itself: the upload's [`Staged`] guard may have run already.
    async fn create_staging(&self, path: &Path) -> Result<StagingFile, BlobError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let path = path.to_path_buf();
        on_disk(Arc::clone(&self.disk), move || {
            if let Err(Ok(_orphan)) = tx.send(std::fs::File::create(&path)) {
                let _ = std::fs::remove_file(&path);
            }
        })
        .await?;
        let file = rx
            .await
            .map_err(|e| internal(std::io::Error::other(e)))?
            .map_err(internal)?;
        Ok(StagingFile {
            file,
            written: 0,
            flushed: 0,
        })
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

/// Runs `f`, a short piece of disk work, on a blocking thread, with at most [`DISK_SECTIONS`] running at
/// once. The section ends when `f` does, even if the caller stops waiting for it.
async fn on_disk<R: Send + 'static>(
    disk: Arc<Semaphore>,
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<R, BlobError> {
    let permit = disk
        .acquire_owned()
        .await
        .map_err(|e| internal(std::io::Error::other(e)))?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f()
    })
    .await
    .map_err(|e| internal(std::io::Error::other(e)))
}

/// A batch write's result: the file handed back, and whether the write succeeded.
type WriteOutcome = Result<(StagingFile, std::io::Result<()>), BlobError>;

/// An upload's staging file between batches. It moves into a blocking section for each write and back.
/// Writeback is started for every [`WRITEBACK_WINDOW`] bytes written, so the final sync has little left
/// to wait for.
struct StagingFile {
    file: std::fs::File,
    written: u64,
    flushed: u64,
}

const WRITEBACK_WINDOW: u64 = 8 * 1024 * 1024;

impl StagingFile {
    /// Appends `batch` in one vectored write.
    fn append(&mut self, batch: &[Bytes]) -> std::io::Result<()> {
        write_all_vectored(&mut self.file, batch)?;
        self.written += batch.iter().map(|c| c.len() as u64).sum::<u64>();
        if self.written - self.flushed >= WRITEBACK_WINDOW {
            start_writeback(&self.file, self.flushed, self.written - self.flushed);
            self.flushed = self.written;
        }
        Ok(())
    }
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

/// A download's body: the file (or the range) in windows of [`READ_CHUNK`] mapped from the page cache, one
/// per short blocking section, the next one mapped while the response sends the current. A mapped window
/// goes to the socket from the page cache by `sendfile` ([`crate::zerocopy`]), or, where that path is
/// not taken, is written from the mapping: either way no copy into a buffer of ours, which was a third of
/// a download's CPU. Each window is unmapped once the response has sent it, so a download holds at most
/// two, and no thread while its client is slow.
struct Windows {
    file: Arc<std::fs::File>,
    disk: Arc<Semaphore>,
    /// The next byte to map, and the end of the range (exclusive, never past the end of the file).
    pos: u64,
    end: u64,
    next: Option<JoinHandle<Result<std::io::Result<Bytes>, BlobError>>>,
}

impl Windows {
    /// Starts mapping the window at `pos`; the task runs on whether or not the stream is polled.
    fn map_next(&mut self) {
        let want = (self.end - self.pos).min(READ_CHUNK as u64);
        let (file, pos) = (Arc::clone(&self.file), self.pos);
        self.next = Some(tokio::spawn(on_disk(Arc::clone(&self.disk), move || {
            map_window(&file, pos, want)
        })));
        self.pos += want;
    }
}

impl Stream for Windows {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.next.is_none() {
            if this.pos >= this.end {
                return Poll::Ready(None);
            }
            this.map_next();
        }
        let Some(next) = this.next.as_mut() else {
            return Poll::Ready(None);
        };
        let joined = match Pin::new(next).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(joined) => joined,
        };
        this.next = None;
        let window = joined
            .map_err(std::io::Error::other)
            .and_then(|mapped| mapped.map_err(std::io::Error::other))
            .and_then(|window| window);
        match window {
            Ok(window) => {
                if this.pos < this.end {
                    this.map_next();
                }
                Poll::Ready(Some(Ok(window)))
            }
            Err(e) => {
                this.pos = this.end;
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}

impl Drop for Windows {
    fn drop(&mut self) {
        if let Some(next) = self.next.take() {
            next.abort();
        }
    }
}

/// `len` bytes of `file` from `pos`, mapped read-only but not paged in, as `Bytes` that unmap when dropped.
/// The window is registered for zero-copy sending ([`crate::zerocopy`]): the connection's socket sends it
/// with `sendfile` from the page cache, so its pages are never mapped into the process (a download's
/// resident memory stays flat). The read from the disk is started here, off the runtime's threads.
fn map_window(file: &Arc<std::fs::File>, pos: u64, len: u64) -> std::io::Result<Bytes> {
    // SAFETY: content files are written once under staging/ and renamed into place; nothing writes to or
    // truncates them afterwards (a new upload gets a new key), and `pos + len` is within the file's size,
    // so the mapping stays valid and unchanged for its lifetime. Deleting the file meanwhile only unlinks
    // it; the mapping (and the open file sendfile reads) keeps the data alive.
    unsafe { crate::zerocopy::map(file, pos, len) }
}

/// Where [`BlobStore::get`] found an object.
enum Found {
    File(std::fs::File, u64),
    Packed(Bytes),
}

/// What [`gather_small`] read.
enum Gathered {
    /// The whole body, at most [`PACKED_MAX`] bytes.
    Small(Bytes),
    /// The first chunks of a longer body, which continues in the stream.
    Large(Vec<Bytes>),
}

/// Reads `body` until it ends or has passed [`PACKED_MAX`] bytes, so memory stays within that and one
/// chunk. Fails as a put does: [`BlobError::TooLarge`] past `max_bytes`, [`BlobError::Aborted`] if the
/// body fails.
async fn gather_small(body: &mut ByteStream, max_bytes: u64) -> Result<Gathered, BlobError> {
    let (mut chunks, mut size) = (Vec::new(), 0u64);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(BlobError::Aborted)?;
        size += chunk.len() as u64;
        if size > max_bytes {
            return Err(BlobError::TooLarge { limit: max_bytes });
        }
        if !chunk.is_empty() {
            chunks.push(chunk);
        }
        if size > PACKED_MAX as u64 {
            return Ok(Gathered::Large(chunks));
        }
    }
    Ok(Gathered::Small(match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.swap_remove(0),
        _ => Bytes::from(chunks.concat()),
    }))
}

#[async_trait]
impl BlobStore for LocalBlobs {
    async fn put(&self, key: &str, mut body: ByteStream, max_bytes: u64) -> Result<u64, BlobError> {
        let head = match gather_small(&mut body, max_bytes).await? {
            Gathered::Small(data) => {
                let size = data.len() as u64;
                self.packed.put(key, data).await?;
                return Ok(size);
            }
            Gathered::Large(head) => head,
        };
        let body: ByteStream =
            Box::pin(futures_util::stream::iter(head.into_iter().map(Ok)).chain(body));
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

    async fn assemble(
        &self,
        upload: &str,
        parts: u32,
        key: &str,
    ) -> Result<super::Assembled, BlobError> {
        let staged = self.new_staging();
        let sources: Vec<PathBuf> = (0..parts).map(|i| self.part_path(upload, i)).collect();
        let target = staged.path.clone();
        // std::io::copy between files uses copy_file_range on Linux: the kernel moves the bytes, and no
        // part ever passes through this process's memory.
        let permit = Arc::clone(&self.assemblies)
            .acquire_owned()
            .await
            .map_err(|e| internal(std::io::Error::other(e)))?;
        let joined = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
            let _permit = permit;
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
        Ok(super::Assembled {
            key: key.to_string(),
            size,
        })
    }

    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<ByteStream, BlobError> {
        let path = self.object_path(key);
        let (packed, key) = (self.packed.clone(), key.to_string());
        let opened = on_disk(Arc::clone(&self.disk), move || {
            match std::fs::File::open(path) {
                Ok(file) => {
                    let size = file.metadata().map_err(internal)?.len();
                    Ok(Found::File(file, size))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => match packed.read(&key)? {
                    Some(data) => Ok(Found::Packed(data)),
                    None => Err(BlobError::NotFound),
                },
                Err(e) => Err(internal(e)),
            }
        })
        .await??;
        let (file, size) = match opened {
            Found::File(file, size) => (file, size),
            Found::Packed(data) => {
                let len = data.len() as u64;
                let (pos, end) = match range {
                    Some((first, last)) => (first.min(len), last.saturating_add(1).min(len)),
                    None => (0, len),
                };
                let window = data.slice(pos as usize..end.max(pos) as usize);
                let chunk = (!window.is_empty()).then_some(Ok(window));
                return Ok(Box::pin(futures_util::stream::iter(chunk)));
            }
        };
        // Never map past the end of the file: touching such a page would kill the process (SIGBUS).
        let (pos, end) = match range {
            Some((first, last)) => (first, last.saturating_add(1).min(size)),
            None => (0, size),
        };
        Ok(Box::pin(Windows {
            file: Arc::new(file),
            disk: Arc::clone(&self.disk),
            pos,
            end,
            next: None,
        }))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.object_path(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.packed.delete(key).await,
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
        let files = super::local_scan::stale(
            super::local_scan::Layout {
                objects: self.objects.clone(),
                parts: self.parts.clone(),
                staging: self.staging.clone(),
                live_staging: self.live_staging.clone(),
            },
            older_than,
        );
        // The packed objects once the files are listed: one walk at a time.
        let packed = self.packed.clone();
        let packed = futures_util::stream::once(async move { packed.stale(older_than) }).flatten();
        Box::pin(files.chain(packed))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn body_of(bytes: Vec<u8>) -> ByteStream {
        Box::pin(futures_util::stream::iter([Ok(Bytes::from(bytes))]))
    }

    /// More than the packed store takes (so the upload is staged in a file), then nothing, ever: a client
    /// that stalled.
    fn stalled_body() -> ByteStream {
        Box::pin(
            futures_util::stream::iter([Ok(Bytes::from(vec![b'x'; PACKED_MAX + 1]))])
                .chain(futures_util::stream::pending()),
        )
    }

    async fn read_all(mut stream: ByteStream) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        out
    }

    /// With only two blocking threads, uploads whose client stalls and downloads nobody reads, four times
    /// as many, must leave the store free to serve others: no transfer waits for its client on a thread.
    /// A dropped upload leaves nothing in staging.
    #[test]
    fn stalled_transfers_hold_no_thread() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(2)
            .enable_all()
            .build()
            .unwrap();
        // A failure must not wait for threads that wait forever when the runtime is dropped.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(async {
                tokio::time::timeout(
                    Duration::from_secs(10),
                    stalled_transfers_leave_the_store_free(),
                )
                .await
                .expect("the store serves others while transfers stall")
            })
        }));
        runtime.shutdown_timeout(Duration::from_secs(1));
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }

    /// The body of [`stalled_transfers_hold_no_thread`], on its constrained runtime.
    async fn stalled_transfers_leave_the_store_free() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Arc::new(LocalBlobs::open(dir.path()).unwrap());
        let big = vec![7u8; 3 * READ_CHUNK];
        blobs.put("big", body_of(big), u64::MAX).await.unwrap();

        let mut stalled = Vec::new();
        for i in 0..8 {
            let blobs = Arc::clone(&blobs);
            stalled.push(tokio::spawn(async move {
                blobs.put(&format!("s{i}"), stalled_body(), u64::MAX).await
            }));
        }
        let mut unread = Vec::new();
        for _ in 0..8 {
            let mut download = blobs.get("big", None).await.unwrap();
            assert!(download.next().await.unwrap().is_ok());
            unread.push(download);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;

        let served = tokio::time::timeout(Duration::from_secs(5), async {
            blobs
                .put("other", body_of(b"hello".to_vec()), u64::MAX)
                .await
                .unwrap();
            read_all(blobs.get("other", None).await.unwrap()).await
        })
        .await
        .expect("the store serves others while transfers stall");
        assert_eq!(served, b"hello");
        let staging = || {
            std::fs::read_dir(dir.path().join("staging"))
                .unwrap()
                .count()
        };
        assert_eq!(staging(), 8, "the stalled uploads are not in progress");

        for upload in &stalled {
            upload.abort();
        }
        for upload in stalled {
            assert!(upload.await.unwrap_err().is_cancelled());
        }
        drop(unread);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(staging(), 0, "dropped uploads left staging files");
    }
}
