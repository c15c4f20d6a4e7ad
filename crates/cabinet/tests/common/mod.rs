//! What the process-level test binaries share.

pub mod postgres;
pub mod server;
