//! Client commands of the `cabinet` binary, which talk to a Files API over HTTP rather than serve one.

pub mod files;
