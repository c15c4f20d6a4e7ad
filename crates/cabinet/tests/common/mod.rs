//! What the process-level test binaries share.

pub mod config;
pub mod postgres;
pub mod server;
pub mod stored;
