//! Content storage. The API layer talks only to the [`BlobStore`] trait, so a backend (the local disk now,
//! S3-compatible stores later) plugs in without touching a handler.
#![warn(missing_docs)]

pub mod local;
mod local_scan;
pub mod metered;
pub mod packed;
pub mod s3;

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;

/// A stream of content bytes. An `Err` item means the producer failed (for an upload: the client went
/// away), and whatever consumes the stream must then leave no trace.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// What a blob store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// No object (or part) under that key.
    #[error("no such object")]
    NotFound,
    /// The body was longer than allowed; nothing was stored.
    #[error("the content is longer than {limit} bytes")]
    TooLarge {
        /// The limit that was passed.
        limit: u64,
    },
    /// The body stream failed (the client disconnected); nothing was stored.
    #[error("the upload was interrupted: {0}")]
    Aborted(std::io::Error),
    /// The backend is out of space (ENOSPC, a quota); nothing was stored.
    #[error("{backend} is out of space")]
    NoSpace {
        /// Which backend is full.
        backend: &'static str,
    },
    /// A fault of the backend; the message goes to the log, never to a client.
    #[error("{backend} failed: {source}")]
    Internal {
        /// Which backend failed.
        backend: &'static str,
        /// The underlying error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Something stored that the orphan collector weighs against the metadata store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// A published object, by key.
    Object(String),
    /// The stored parts of a multipart upload, by upload (session) id.
    Upload(String),
}

/// What [`BlobStore::stale`] yields, in no particular order.
pub type StoredStream = Pin<Box<dyn Stream<Item = Result<Stored, BlobError>> + Send>>;

/// What [`BlobStore::assemble`] made: the object's key and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assembled {
    /// Where the object is: the key passed to `assemble`, or, for a store that fixes the place when the
    /// upload begins (S3: a multipart upload completes to the key it was created for), the key passed to
    /// [`BlobStore::begin_parts`].
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Where file content lives.
///
/// # Contract
/// - Keys are opaque strings of `[A-Za-z0-9._/-]` made by the caller; a key is written at most once in
///   normal operation (each completed upload gets a fresh key), so readers never see a key change under them.
/// - `put`, `put_part` and `assemble` are atomic and durable: when they return `Ok`, the whole object is
///   on stable storage and visible; when they fail or their future is dropped, nothing is visible and no
///   partial data remains under the key.
/// - Content is streamed: no method holds a whole object in memory.
/// - Deleting something that does not exist is not an error.
///
/// The server wraps its store in [`metered::MeteredBlobs`], which forwards every method, default ones
/// included: a method added here must be forwarded there too.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores `body` as the object `key`. Fails with [`BlobError::TooLarge`] past `max_bytes`. Returns the size.
    async fn put(&self, key: &str, body: ByteStream, max_bytes: u64) -> Result<u64, BlobError>;

    /// Opens the multipart upload `upload` (a session id), whose parts [`BlobStore::assemble`] may later
    /// publish as the object `key`, a fresh key like any other. Called once, when the session is opened
    /// and before any part arrives; a store that fixes the object's place at this point (S3) returns `key`
    /// from `assemble` whatever key that is given. Stores that need nothing here keep the default.
    /// On failure nothing is left that [`BlobStore::delete_parts`] could not remove.
    async fn begin_parts(&self, upload: &str, key: &str) -> Result<(), BlobError> {
        let _ = (upload, key);
        Ok(())
    }

    /// Stores part `index` of the multipart upload `upload`, replacing an earlier attempt at the same part.
    async fn put_part(
        &self,
        upload: &str,
        index: u32,
        body: ByteStream,
        max_bytes: u64,
    ) -> Result<u64, BlobError>;

    /// The size of each part `0..parts` of `upload`, `None` for a part not stored (yet).
    async fn part_sizes(&self, upload: &str, parts: u32) -> Result<Vec<Option<u64>>, BlobError>;

    /// Concatenates parts `0..parts` of `upload`, in order, into a new object: `key`, or the key given to
    /// [`BlobStore::begin_parts`] (see [`Assembled::key`]). [`BlobError::NotFound`] when a part is missing
    /// or the parts were consumed by an earlier `assemble`. The parts stay (local) or are consumed (S3)
    /// until [`BlobStore::delete_parts`], which must be called either way.
    async fn assemble(&self, upload: &str, parts: u32, key: &str) -> Result<Assembled, BlobError>;

    /// Streams the object `key`, or the inclusive byte range `(first, last)` of it, which must lie inside it.
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<ByteStream, BlobError>;

    /// Deletes the object `key`.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;

    /// Deletes every stored part of `upload`.
    async fn delete_parts(&self, upload: &str) -> Result<(), BlobError>;

    /// For the orphan collector: every object and every multipart upload last written before
    /// `older_than`, streamed (the store may hold millions). Staged writes that never completed and are
    /// that old are removed on the way, except those a write of this process still owns.
    fn stale(&self, older_than: std::time::SystemTime) -> StoredStream;
}
