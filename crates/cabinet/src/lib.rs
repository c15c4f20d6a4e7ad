//! cabinet: a self-hostable file service that speaks the CDF Files API.
//!
//! Layers, from the outside in: [`api`] (HTTP, wire types, the error envelope), [`signing`] (capability
//! URLs for content), [`store`] (metadata, behind the `MetadataStore` trait), [`blob`] (content, behind the
//! `BlobStore` trait) and [`domain`] (valid values). [`app`] wires them together.

pub mod api;
pub mod app;
pub mod auth;
pub mod blob;
pub mod clock;
pub mod collector;
pub mod config;
pub mod direct;
pub mod disk;
pub mod domain;
pub mod faults;
pub mod guards;
pub mod janitor;
pub mod logging;
pub mod metrics;
pub mod migrate;
pub mod secret;
pub mod server;
pub mod signing;
pub mod store;
pub mod zerocopy;
