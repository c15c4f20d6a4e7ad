//! The bounds a server keeps so that no client, with or without a token, can take it down for everyone:
//! connection timeouts, a cap on concurrent transfers, and the free space kept in reserve. One struct so
//! that `cabinet serve`, the tests and the documentation name the same figures.

use std::time::Duration;

/// Every guard of a running server. [`Guards::default`] is what `cabinet serve` uses.
#[derive(Debug, Clone)]
pub struct Guards {
    /// A connection must deliver a request's whole header within this time, or it is closed.
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
}

impl Default for Guards {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(30),
            min_free_bytes: None,
            disk_reserve_bytes: None,
            orphan_grace: Duration::from_secs(3600),
            janitor_interval: Duration::from_secs(3600),
        }
    }
}
