//! The bounds a server keeps so that no client, with or without a token, can take it down for everyone:
//! connection timeouts, a cap on concurrent transfers, and the free space kept in reserve. One struct so
//! that `cabinet serve`, the tests and the documentation name the same figures.

use std::time::Duration;

/// Every guard of a running server. [`Guards::default`] is what `cabinet serve` uses.
#[derive(Debug, Clone)]
pub struct Guards {
    /// A connection must deliver a request's whole header within this time, or it is closed. The clock
    /// starts at accept for a new connection, and at the first byte of the next request on a kept-alive
    /// one. Covers HTTP/1 and HTTP/2 alike (an HTTP/2 connection must open a stream in this time).
    pub header_read_timeout: Duration,
    /// Uploads are refused (507) while less than this many bytes would stay free; `None`: 256 MiB, at
    /// most 2 % of the filesystem ([`crate::disk::DiskGuard`]).
    pub min_free_bytes: Option<u64>,
    /// Bytes held back in a preallocated file, released when a delete finds the disk full; `None`:
    /// 32 MiB, at most 1 % of the filesystem.
    pub disk_reserve_bytes: Option<u64>,
    /// Content, staged files and parts that no file or upload refers to are removed once they are this
    /// old: longer than any publish takes between writing its bytes and committing its metadata.
    pub orphan_grace: Duration,
    /// How often the janitor runs (expiry, then the orphan collector); it also runs at start-up.
    pub janitor_interval: Duration,
    /// A kept-alive connection that sends nothing for this long after its last response is closed.
    pub idle_timeout: Duration,
    /// A response write that makes no progress for this long (the client does not read) closes the
    /// connection: an unread download frees its slot and its memory. Over HTTP/2, where a client can also
    /// stall a response by granting no flow-control window, a response frame the connection does not
    /// take within this time does the same.
    pub write_stall_timeout: Duration,
    /// A request body (an upload, or JSON) that delivers no byte for this long, while the server waits
    /// for it, fails: the request is answered 400, nothing is stored, and the connection is closed.
    pub body_idle_timeout: Duration,
    /// The least rate, in bytes per second, a request body must keep, averaged over each span of
    /// [`Guards::body_idle_timeout`] the server spends waiting for it (time the server spends writing to
    /// disk does not count against the client). 0 turns the check off.
    pub min_body_rate: u64,
    /// Content uploads (`PUT` of an upload URL) in progress at once; one more is answered 503 with
    /// `Retry-After` at once instead of queueing.
    pub max_uploads: usize,
    /// Content downloads (`GET` of a download URL) in progress at once, until their body is sent; one more
    /// is answered 503 with `Retry-After`.
    pub max_downloads: usize,
    /// Least time between two JWKS refreshes that tokens with an unknown `kid` trigger (a key the IdP
    /// has just rotated in is picked up by the first token after it; forged `kid`s cannot hammer the IdP).
    pub jwks_refetch_interval: Duration,
    /// A JWKS fetch that takes longer fails, and the cached keys stay.
    pub jwks_fetch_timeout: Duration,
}

impl Default for Guards {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(30),
            min_free_bytes: None,
            disk_reserve_bytes: None,
            orphan_grace: Duration::from_secs(3600),
            janitor_interval: Duration::from_secs(3600),
            idle_timeout: Duration::from_secs(60),
            write_stall_timeout: Duration::from_secs(60),
            body_idle_timeout: Duration::from_secs(30),
            min_body_rate: 1024,
            max_uploads: 256,
            max_downloads: 256,
            jwks_refetch_interval: Duration::from_secs(5),
            jwks_fetch_timeout: Duration::from_secs(3),
        }
    }
}
