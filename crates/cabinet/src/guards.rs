//! The bounds a server keeps so that no client, with or without a token, can take it down for everyone:
//! connection timeouts, a cap on concurrent transfers, and the free space kept in reserve. One struct so
//! that `cabinet serve`, the tests and the documentation name the same figures.

use std::time::Duration;

/// Every guard of a running server. [`Guards::default`] is what `cabinet serve` uses.
#[derive(Debug, Clone)]
pub struct Guards {
    /// A connection must deliver a request's whole header within this time, or it is closed.
    pub header_read_timeout: Duration,
}

impl Default for Guards {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(30),
        }
    }
}
