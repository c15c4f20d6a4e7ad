//! The OpenAPI schemas of the files routes whose bodies the handlers parse by hand: the files filter
//! (list, search, aggregate), the update items and the download links.
//!
//! The filter and the update are parsed field by field (`domain::filter`, `domain::update`) so that every
//! error names its field; these documentation types state the same fields, shapes and limits. They are a
//! subset of what the parsers take where the parsers are lenient (`{"set": null}` as a clear, a filter
//! member given as `null`, plain numbers in `dataSetIds`, both label conditions at once), so that anything
//! a client builds from the schema is accepted. Like the other documentation types they are kept honest by
//! the request examples (checked against the schema and posted to a live server by `tests/api/openapi.rs`
//! and `tests/fuzz/examples.py`) and by schemathesis (`tests/fuzz/run.sh`). Request types say
//! `additionalProperties: false` because the parsers refuse unknown fields; response types do not.

#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::Value;
use utoipa::openapi::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::{OpenApi, ToSchema};

use super::model::LabelRef;
use super::openapi::InstanceId;
use super::openapi_resources::{
    IdOrExternalId, LabelCondition, MetadataUpdate, SetNull, SetOrClearId, SetOrClearText,
    TimeRange,
};

// ---- the filter ----------------------------------------------------------------------------------

/// How a file's geoLocation must relate to the shape.
#[derive(ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum GeoRelation {
    /// They share a point.
    Intersects,
    /// They share none.
    Disjoint,
    /// The file's geometry lies within the shape.
    Within,
}

/// `{"relation", "shape"}`: files whose geoLocation relates to a GeoJSON geometry.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GeoLocationFilter {
    /// The relation (case-insensitive on input).
    relation: GeoRelation,
    /// A GeoJSON geometry (`Point`, `LineString`, `Polygon`, `MultiPoint`, `MultiLineString`,
    /// `MultiPolygon`) of at most 5000 points.
    #[schema(value_type = Object)]
    shape: Value,
}

/// The filter of files (`POST /files/list`, `/search`, `/aggregate`): every member given must hold.
#[derive(ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileFilter {
    /// The whole name.
    #[schema(max_length = 256)]
    name: Option<String>,
    /// The start of the directory.
    #[schema(max_length = 512)]
    directory_prefix: Option<String>,
    /// The whole MIME type.
    #[schema(max_length = 256)]
    mime_type: Option<String>,
    /// The whole source.
    #[schema(max_length = 128)]
    source: Option<String>,
    /// The start of the externalId.
    #[schema(max_length = 255)]
    external_id_prefix: Option<String>,
    /// Files with content, or files without.
    uploaded: Option<bool>,
    /// Pairs every match has (up to 256 pairs; keys up to 128 bytes, 10240 bytes in all).
    metadata: Option<BTreeMap<String, String>>,
    /// Linked to one of these assets (1 to 100, none twice).
    #[schema(min_items = 1, max_items = 100)]
    asset_ids: Option<Vec<i64>>,
    /// Linked to one of these assets, by externalId (1 to 100).
    #[schema(min_items = 1, max_items = 100)]
    asset_external_ids: Option<Vec<String>>,
    /// Linked to an asset in the hierarchy of one of these roots (1 to 100).
    #[schema(min_items = 1, max_items = 100)]
    root_asset_ids: Option<Vec<IdOrExternalId>>,
    /// Linked to an asset in the subtree of one of these (1 to 100).
    #[schema(min_items = 1, max_items = 100)]
    asset_subtree_ids: Option<Vec<IdOrExternalId>>,
    /// In one of these data sets (up to 100; an unknown externalId is a 400 with `missing`).
    #[schema(max_items = 100)]
    data_set_ids: Option<Vec<IdOrExternalId>>,
    /// Label conditions (1 to 10 labels).
    labels: Option<LabelCondition>,
    /// Created in this range.
    created_time: Option<TimeRange>,
    /// Last changed in this range.
    last_updated_time: Option<TimeRange>,
    /// Content uploaded in this range.
    uploaded_time: Option<TimeRange>,
    /// `sourceCreatedTime` in this range.
    source_created_time: Option<TimeRange>,
    /// `sourceModifiedTime` in this range.
    source_modified_time: Option<TimeRange>,
    /// A relation to a shape.
    geo_location: Option<GeoLocationFilter>,
}

/// The body of `POST /files/list`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListBody {
    /// Which files.
    filter: Option<FileFilter>,
    /// 1 to 1000 (more is read as 1000; default 100).
    #[schema(minimum = 1)]
    limit: Option<i64>,
    /// From the previous page's `nextCursor`.
    cursor: Option<String>,
    /// `m/n`: the m-th of n partitions (1 to 10).
    partition: Option<String>,
}

/// The search part of `POST /files/search`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchTerms {
    /// Words of the name.
    #[schema(max_length = 256)]
    name: Option<String>,
}

/// The body of `POST /files/search`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchBody {
    /// Which files.
    filter: Option<FileFilter>,
    /// What to look for.
    search: Option<SearchTerms>,
    /// 1 to 1000 (default 100).
    #[schema(minimum = 1)]
    limit: Option<i64>,
}

/// The body of `POST /files/aggregate`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AggregateBody {
    /// Which files.
    filter: Option<FileFilter>,
}

// ---- the update ----------------------------------------------------------------------------------

/// `{"set": ms}`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTime {
    /// Milliseconds since the epoch.
    #[schema(minimum = 0)]
    set: i64,
}

/// Set a time, or clear it.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum SetOrClearTime {
    /// Set it.
    Set(SetTime),
    /// Clear it.
    Clear(SetNull),
}

/// Replace a list of ids.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdsSet {
    /// The new list.
    set: Vec<i64>,
}

/// Add ids not yet present, then remove ids.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdsChange {
    /// Ids to add.
    add: Option<Vec<i64>>,
    /// Ids to remove.
    remove: Option<Vec<i64>>,
}

/// A change of a list of ids (`assetIds`: up to 1000, `securityCategories`: up to 100, afterwards).
#[derive(ToSchema)]
#[serde(untagged)]
pub enum IdsUpdate {
    /// Replace it.
    Set(IdsSet),
    /// Change some ids.
    Change(IdsChange),
}

/// Replace the labels.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileLabelsSet {
    /// The new labels.
    #[schema(max_items = 10)]
    set: Vec<LabelRef>,
}

/// Add and remove labels.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileLabelsChange {
    /// Labels to add.
    #[schema(max_items = 10)]
    add: Option<Vec<LabelRef>>,
    /// Labels to remove.
    #[schema(max_items = 10)]
    remove: Option<Vec<LabelRef>>,
}

/// A change of the labels (up to 10 afterwards).
#[derive(ToSchema)]
#[serde(untagged)]
pub enum FileLabelsUpdate {
    /// Replace them.
    Set(FileLabelsSet),
    /// Change some.
    Change(FileLabelsChange),
}

/// `{"set": Feature}`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetGeoLocation {
    /// A GeoJSON Feature, as on create.
    #[schema(value_type = Object)]
    set: Value,
}

/// Set the geoLocation, or clear it.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum SetOrClearGeoLocation {
    /// Set it.
    Set(SetGeoLocation),
    /// Clear it.
    Clear(SetNull),
}

/// The changes of a file. `name` cannot change (overwrite the file instead); an item by `instanceId`
/// may change only `externalId`, `metadata`, `assetIds`, `dataSetId`, `labels` and `geoLocation`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileChanges {
    /// 1 to 255 characters, unique in the project, or clear.
    external_id: Option<SetOrClearText>,
    /// An absolute path of up to 512 characters, or clear.
    directory: Option<SetOrClearText>,
    /// Up to 128 characters, or clear.
    source: Option<SetOrClearText>,
    /// Up to 256 characters, or clear.
    mime_type: Option<SetOrClearText>,
    /// The metadata (the limits of create hold afterwards).
    metadata: Option<MetadataUpdate>,
    /// The linked assets.
    asset_ids: Option<IdsUpdate>,
    /// The data set, or none.
    data_set_id: Option<SetOrClearId>,
    /// When the source made it.
    source_created_time: Option<SetOrClearTime>,
    /// When the source last changed it.
    source_modified_time: Option<SetOrClearTime>,
    /// The security categories.
    security_categories: Option<IdsUpdate>,
    /// The labels.
    labels: Option<FileLabelsUpdate>,
    /// The geoLocation.
    geo_location: Option<SetOrClearGeoLocation>,
}

/// One file to change: exactly one of `id`, `externalId` and `instanceId`, and `update`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileUpdate {
    /// The file by id.
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    id: Option<i64>,
    /// Or by externalId.
    #[schema(min_length = 1, max_length = 255)]
    external_id: Option<String>,
    /// Or by instanceId.
    instance_id: Option<InstanceId>,
    /// What changes.
    update: FileChanges,
}

/// The body of `POST /files/update`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileUpdateItems {
    /// 1 to 1000 changes, no file twice.
    #[schema(min_items = 1, max_items = 1000)]
    items: Vec<FileUpdate>,
}

// ---- download links ------------------------------------------------------------------------------

/// One download link, with the identifier as the request gave it (one of `id`, `externalId`,
/// `instanceId`).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DownloadLink {
    /// The file by id.
    id: Option<i64>,
    /// The file by externalId.
    external_id: Option<String>,
    /// The file by instanceId.
    instance_id: Option<InstanceId>,
    /// A signed URL for `GET` of the content.
    download_url: String,
}

/// The answer of `POST /files/downloadlink`, in the order of the request.
#[derive(ToSchema)]
pub struct DownloadLinks {
    /// The links.
    items: Vec<DownloadLink>,
}

// ---- GET /files ----------------------------------------------------------------------------------

/// The filter members `GET /files` takes as query parameters (`FileFilter::from_query`): texts, `uploaded`,
/// the id lists as JSON text (`[1,2]`, `[{"externalId":"a"}]`) or comma-separated values
/// (`assetSubtreeExternalIds` is `assetSubtreeIds` by externalId), and the time ranges as
/// `minCreatedTime`/`maxCreatedTime` and so on.
pub(super) fn list_query_parameters() -> Vec<(&'static str, Schema)> {
    let text = |max: usize| -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(max))
            .into()
    };
    let ids = || -> Schema { ObjectBuilder::new().schema_type(Type::String).into() };
    let time = || -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .into()
    };
    let mut out = vec![
        ("name", text(256)),
        ("mimeType", text(256)),
        ("source", text(128)),
        ("externalIdPrefix", text(255)),
        (
            "uploaded",
            ObjectBuilder::new().schema_type(Type::Boolean).into(),
        ),
        ("assetIds", ids()),
        ("assetExternalIds", ids()),
        ("rootAssetIds", ids()),
        ("assetSubtreeIds", ids()),
        ("assetSubtreeExternalIds", ids()),
        ("dataSetIds", ids()),
    ];
    for name in [
        "minCreatedTime",
        "maxCreatedTime",
        "minLastUpdatedTime",
        "maxLastUpdatedTime",
        "minUploadedTime",
        "maxUploadedTime",
        "minSourceCreatedTime",
        "maxSourceCreatedTime",
        "minSourceModifiedTime",
        "maxSourceModifiedTime",
    ] {
        out.push((name, time()));
    }
    out
}

/// The schemas of this module, merged into the document by `openapi::document`.
#[derive(OpenApi)]
#[openapi(components(schemas(
    ListBody,
    SearchBody,
    AggregateBody,
    FileUpdateItems,
    DownloadLinks,
)))]
pub struct FileSchemas;

#[cfg(test)]
mod tests {
    use serde_json::{json, Map, Value};

    use crate::domain::{FileFilter, FilePatch};

    /// The property names of a component schema of the whole document.
    fn properties(schema: &str) -> Vec<String> {
        let doc = serde_json::to_value(super::super::openapi::document()).unwrap();
        let props = doc["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{schema} has no properties"));
        props.keys().cloned().collect()
    }

    #[test]
    fn every_documented_filter_member_is_one_the_parser_takes() {
        let members = properties("FileFilter");
        assert!(members.len() >= 19, "{members:?}");
        for m in members {
            // An empty object is wrong for most members; what matters is why it is refused.
            let filter: Map<String, Value> = [(m.clone(), json!({}))].into_iter().collect();
            if let Err(e) = FileFilter::from_json(&filter) {
                assert!(!e.reason.contains("is not a field"), "{m}: {e}");
            }
        }
        let unknown: Map<String, Value> = [("nope".to_string(), json!(1))].into_iter().collect();
        let e = FileFilter::from_json(&unknown).unwrap_err();
        assert!(e.reason.contains("is not a field"), "{e}");
    }

    #[test]
    fn every_documented_change_is_one_the_parser_takes() {
        let fields = properties("FileChanges");
        assert!(fields.len() >= 12, "{fields:?}");
        assert!(!fields.contains(&"name".to_string()));
        for f in fields {
            let e = FilePatch::parse(&json!({ f.clone(): {} })).unwrap_err();
            assert!(
                !e.reason.contains("is not a field") && !e.reason.contains("cannot be updated"),
                "{f}: {e}"
            );
        }
        let e = FilePatch::parse(&json!({"nope": {}})).unwrap_err();
        assert!(e.reason.contains("is not a field"), "{e}");
    }

    #[test]
    fn every_documented_query_filter_is_one_get_files_takes() {
        for (name, _) in super::list_query_parameters() {
            let params = [(name.to_string(), "1".to_string())].into_iter().collect();
            if let Err(e) = FileFilter::from_query(&params) {
                assert!(
                    !e.reason.contains("is not a query parameter"),
                    "{name}: {e}"
                );
            }
        }
        let params = [("nope".to_string(), "1".to_string())]
            .into_iter()
            .collect();
        let e = FileFilter::from_query(&params).unwrap_err();
        assert!(e.reason.contains("is not a query parameter"), "{e}");
    }
}
