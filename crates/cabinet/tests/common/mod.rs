//! What the process-level test binaries share.

pub mod server;
