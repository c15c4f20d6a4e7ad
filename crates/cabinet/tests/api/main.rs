//! HTTP-level tests of the Files API against the real server on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
#[path = "../common/postgres.rs"]
mod postgres_server;
#[path = "../common/s3.rs"]
mod s3_server;
#[path = "../common/stored.rs"]
mod stored;

mod access;
mod assets;
mod assets_access;
mod bounds;
mod collector;
mod conditional;
mod console;
mod content;
mod create;
mod dataset_scope;
mod datasets;
mod delete;
mod direct;
mod disk_full;
mod errors;
mod faults;
mod guards;
mod iam;
mod labels;
mod list;
mod multipart;
mod oidc;
mod openapi;
mod ops;
mod projects;
mod query;
mod retrieve;
mod search;
mod security_categories;
pub mod stale_uploads;
mod surface;
mod update;
mod zerocopy;
