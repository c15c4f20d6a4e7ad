//! Domain types of the Files API. A value of one of these types is valid by construction: the wire layer
//! parses requests into them, and the stores only ever see valid data.
#![warn(missing_docs)]

mod content_key;
mod file;
mod filter;
mod geo_location;
mod geo_match;
mod geojson;
mod identifier;
mod largest_file;
mod limits;
mod project;
mod update;

pub use content_key::*;
pub use file::*;
pub use filter::*;
pub use geo_location::GeoLocation;
pub use geo_match::GeoMatcher;
pub use geojson::{validate_geo_location, validate_geometry};
pub use identifier::Identifier;
pub use largest_file::largest_file_body;
pub use limits::*;
pub use project::ProjectName;
pub use update::{FilePatch, FileUpdate, ListPatch, MetadataPatch, SetOrNull};

/// A reason why a request value is not acceptable, naming the offending field the way the client spelled
/// it (`metadata`, `assetIds[3]`, `items[0].externalId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The JSON path or query parameter that is wrong.
    pub field: String,
    /// What is wrong with it, in words a client developer can act on.
    pub reason: String,
}

impl Invalid {
    /// A reason for `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The same reason, with `prefix` put before the field (`items[2]` + `id` gives `items[2].id`).
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = if self.field.is_empty() {
            prefix.to_string()
        } else if self.field.starts_with('[') {
            format!("{prefix}{}", self.field)
        } else {
            format!("{prefix}.{}", self.field)
        };
        self
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}
