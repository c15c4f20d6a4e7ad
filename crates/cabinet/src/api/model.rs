//! Wire types: the JSON the Files API reads and writes, and their conversion to and from domain types.

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::domain::{FileRecord, FileSpec, GeoLocation, Identifier, Invalid, Metadata};

/// A label reference on the wire: `{"externalId": "…"}`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelRef {
    /// The label's externalId.
    #[serde(rename = "externalId")]
    pub external_id: String,
}

/// The body of `POST /files` and `POST /files/initmultipartupload`. Read-only fields of the file object
/// (`id`, `uploaded`, times, `instanceId`) are accepted and ignored, so a retrieved file can be posted
/// back; any other unknown field is a 400.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileWrite {
    name: Option<String>,
    external_id: Option<String>,
    directory: Option<String>,
    source: Option<String>,
    mime_type: Option<String>,
    metadata: Option<Metadata>,
    asset_ids: Option<Vec<i64>>,
    data_set_id: Option<i64>,
    source_created_time: Option<i64>,
    source_modified_time: Option<i64>,
    security_categories: Option<Vec<i64>>,
    labels: Option<Vec<LabelRef>>,
    /// Kept as text until its size is checked (`null` reads as absent).
    geo_location: Option<Box<RawValue>>,
    #[serde(rename = "id")]
    _id: Option<IgnoredAny>,
    #[serde(rename = "uploaded")]
    _uploaded: Option<IgnoredAny>,
    #[serde(rename = "createdTime")]
    _created_time: Option<IgnoredAny>,
    #[serde(rename = "lastUpdatedTime")]
    _last_updated_time: Option<IgnoredAny>,
    #[serde(rename = "uploadedTime")]
    _uploaded_time: Option<IgnoredAny>,
    #[serde(rename = "instanceId")]
    _instance_id: Option<IgnoredAny>,
}

impl TryFrom<FileWrite> for FileSpec {
    type Error = Invalid;

    fn try_from(w: FileWrite) -> Result<Self, Invalid> {
        let spec = FileSpec {
            name: w.name.ok_or_else(|| Invalid::new("name", "is required"))?,
            external_id: w.external_id,
            directory: w.directory,
            source: w.source,
            mime_type: w.mime_type,
            metadata: w.metadata,
            asset_ids: w.asset_ids,
            data_set_id: w.data_set_id,
            source_created_time: w.source_created_time,
            source_modified_time: w.source_modified_time,
            security_categories: w.security_categories,
            labels: w
                .labels
                .map(|ls| ls.into_iter().map(|l| l.external_id).collect()),
            geo_location: w
                .geo_location
                .map(|g| GeoLocation::parse_text(g.get()).map_err(|e| e.within("geoLocation")))
                .transpose()?,
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// A file as the API returns it, plus the upload fields some endpoints add.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileView {
    id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<String>,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    directory: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mime_type: Option<String>,
    #[schema(value_type = std::collections::HashMap<String, String>)]
    metadata: Metadata,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    asset_ids: Vec<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_set_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_created_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_modified_time: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    security_categories: Vec<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    labels: Vec<LabelRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    geo_location: Option<GeoLocation>,
    uploaded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    uploaded_time: Option<i64>,
    created_time: i64,
    last_updated_time: i64,
    /// Single-part upload URL (create, uploadlink).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_url: Option<String>,
    /// Multipart session id (initmultipartupload, multiuploadlink).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    /// Multipart part URLs, part i at index i.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_urls: Option<Vec<String>>,
}

impl From<FileRecord> for FileView {
    fn from(f: FileRecord) -> Self {
        let uploaded = f.uploaded();
        FileView {
            id: f.id,
            external_id: f.external_id,
            name: f.name,
            directory: f.directory,
            source: f.source,
            mime_type: f.mime_type,
            metadata: f.metadata,
            asset_ids: f.asset_ids,
            data_set_id: f.data_set_id,
            source_created_time: f.source_created_time,
            source_modified_time: f.source_modified_time,
            security_categories: f.security_categories,
            labels: f
                .labels
                .into_iter()
                .map(|external_id| LabelRef { external_id })
                .collect(),
            geo_location: f.geo_location,
            uploaded,
            uploaded_time: f.uploaded_time,
            created_time: f.created_time,
            last_updated_time: f.last_updated_time,
            upload_url: None,
            upload_id: None,
            upload_urls: None,
        }
    }
}

/// `{"items": [...]}`, the shape of most responses.
#[derive(Debug, Serialize)]
pub struct Items<T> {
    /// The items.
    pub items: Vec<T>,
}

/// The body of byids and delete: identifiers and whether unknown ones are an error.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IdentifierItems {
    /// The identifiers.
    pub items: Vec<Identifier>,
    /// Skip unknown identifiers instead of failing.
    #[serde(default)]
    pub ignore_unknown_ids: Option<bool>,
}

/// The body of downloadlink, uploadlink and multiuploadlink.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifierList {
    /// The identifiers.
    pub items: Vec<Identifier>,
}

/// Checks that a request's `items` hold 1 to `max` entries, `noun` naming them in the 400's message
/// ("items: must have 1 to 10 data sets, got 11").
pub fn check_item_count(
    count: usize,
    max: usize,
    noun: &str,
) -> Result<(), crate::api::error::ApiError> {
    if (1..=max).contains(&count) {
        return Ok(());
    }
    Err(crate::api::error::ApiError::bad_request(format!(
        "items: must have 1 to {max} {noun}, got {count}"
    )))
}

/// Checks an identifier list: `min..=max` items, each within limits, none twice.
pub fn check_identifiers(
    items: &[Identifier],
    min: usize,
    max: usize,
) -> Result<(), crate::api::error::ApiError> {
    use crate::api::error::ApiError;
    if items.len() < min || items.len() > max {
        return Err(ApiError::bad_request(if min == max {
            format!(
                "items: must have exactly {min} item(s), got {}",
                items.len()
            )
        } else {
            format!("items: must have {min} to {max} items, got {}", items.len())
        }));
    }
    for (i, item) in items.iter().enumerate() {
        item.check().map_err(|e| e.within(&format!("items[{i}]")))?;
    }
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    let repeated: Vec<Identifier> = items.iter().filter(|i| !seen.insert(*i)).cloned().collect();
    if !repeated.is_empty() {
        return Err(ApiError::duplicated_in_request(&repeated));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::*;

    #[test]
    fn the_largest_legal_file_fits_the_computed_bound() {
        let write: FileWrite = serde_json::from_value(largest_file_body(0)).unwrap();
        let spec = FileSpec::try_from(write).unwrap();
        let mut file = FileRecord::from_spec(MAX_ID, spec, i64::MAX);
        file.uploaded_time = Some(i64::MAX);
        let json = serde_json::to_string(&FileView::from(file)).unwrap();
        assert!(
            json.len() <= MAX_FILE_JSON_BYTES,
            "{} > {MAX_FILE_JSON_BYTES}",
            json.len()
        );
        // The bound is tight: the largest file comes within 1% of it.
        assert!(
            json.len() * 100 >= MAX_FILE_JSON_BYTES * 99,
            "{} is far below {MAX_FILE_JSON_BYTES}",
            json.len()
        );
    }
}
