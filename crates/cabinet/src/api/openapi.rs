//! The OpenAPI 3.1 document served at `GET /openapi.json`.
//!
//! Schemas come from the code's types through `utoipa::ToSchema`: the file as the API returns it
//! ([`FileView`]) derives its schema where it is defined; request bodies that the handlers parse by hand
//! (`serde_json::Value` items, filters checked field by field) are described by the documentation types
//! below, in `openapi_files.rs` (the files filter and update) and in `openapi_resources.rs`. Two tests keep the document honest: `tests/api/openapi.rs` checks that the document and the
//! router list the same routes and methods, and that every request example is accepted (not a 400) by a
//! live server; the fuzzing suite (`tests/fuzz/run.sh`) checks that responses conform to the document.
//!
//! The document is built once, on first request, and served from memory.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{json, Value};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    Content, ObjectBuilder, PathItem, PathsBuilder, Ref, RefOr, Required, ResponseBuilder, Schema,
    Type,
};
use utoipa::{OpenApi, ToSchema};

use super::model::{FileView, LabelRef};

/// The CDF error envelope, the body of every 4xx and 5xx.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorResponse {
    /// What went wrong.
    error: ErrorBody,
}

/// The inside of the error envelope.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    /// The HTTP status, repeated.
    code: i32,
    /// Human text; a generic text for 5xx.
    message: String,
    /// Unknown identifiers, as the client gave them.
    #[schema(value_type = Option<Vec<Object>>)]
    missing: Option<Vec<Value>>,
    /// Repeated or already taken identifiers, as the client gave them.
    #[schema(value_type = Option<Vec<Object>>)]
    duplicated: Option<Vec<Value>>,
}

/// A file by internal id.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ById {
    /// 1 to 2^53 - 1.
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    id: i64,
}

/// A file by externalId.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ByExternalId {
    /// 1 to 255 characters.
    #[schema(min_length = 1, max_length = 255)]
    external_id: String,
}

/// A data-modeling node: space and externalId.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct InstanceId {
    /// 1 to 43 characters.
    #[schema(min_length = 1, max_length = 43)]
    space: String,
    /// 1 to 255 characters.
    #[schema(min_length = 1, max_length = 255)]
    external_id: String,
}

/// A file by instanceId.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ByInstanceId {
    /// The node.
    instance_id: InstanceId,
}

/// One way of naming a file (or a data set): exactly one of `id`, `externalId`, `instanceId`.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum Identifier {
    /// By internal id.
    Id(ById),
    /// By externalId.
    ExternalId(ByExternalId),
    /// By instanceId.
    InstanceId(ByInstanceId),
}

/// The body of byids and delete.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct IdentifierItems {
    /// 1 to 1000 identifiers, none twice.
    #[schema(min_items = 1, max_items = 1000)]
    items: Vec<Identifier>,
    /// Skip unknown identifiers instead of a 400 with `missing`.
    ignore_unknown_ids: Option<bool>,
}

/// The body of downloadlink, uploadlink and multiuploadlink.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct IdentifierList {
    /// The identifiers (uploadlink and multiuploadlink take exactly one).
    #[schema(min_items = 1, max_items = 1000)]
    items: Vec<Identifier>,
}

/// A file to create (`POST /files`, `initmultipartupload`). Read-only fields of a retrieved file are
/// accepted and ignored.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct FileCreate {
    /// 1 to 256 characters.
    #[schema(min_length = 1, max_length = 256)]
    name: String,
    /// 1 to 255 characters, unique in the project.
    #[schema(min_length = 1, max_length = 255)]
    external_id: Option<String>,
    /// An absolute path, up to 512 characters.
    directory: Option<String>,
    /// Up to 128 characters.
    source: Option<String>,
    /// Up to 256 characters.
    mime_type: Option<String>,
    /// Up to 256 keys; bounded sizes.
    metadata: Option<BTreeMap<String, String>>,
    /// Up to 1000 asset ids.
    asset_ids: Option<Vec<i64>>,
    /// The data set.
    data_set_id: Option<i64>,
    /// Milliseconds since the epoch.
    source_created_time: Option<i64>,
    /// Milliseconds since the epoch.
    source_modified_time: Option<i64>,
    /// Up to 100 security category ids.
    security_categories: Option<Vec<i64>>,
    /// Up to 10 labels.
    labels: Option<Vec<LabelRef>>,
    /// A GeoJSON Feature.
    #[schema(value_type = Option<Object>)]
    geo_location: Option<Value>,
}

/// `{"items": [ids]}`: the body of the group and security-category deletes.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct IdNumbers {
    /// The ids.
    #[schema(min_items = 1, max_items = 1000)]
    items: Vec<i64>,
}

/// The body of `POST /files/completemultipartupload`: the file and the session.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct CompleteMultipart {
    /// The file by id (or give `externalId` or `instanceId` instead).
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    id: Option<i64>,
    /// The file by externalId.
    external_id: Option<String>,
    /// The file by instanceId.
    instance_id: Option<InstanceId>,
    /// From initmultipartupload or multiuploadlink.
    upload_id: String,
}

/// A page of files.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct FileItems {
    /// The files.
    items: Vec<FileView>,
    /// The next page's cursor, absent or null on the last page.
    next_cursor: Option<String>,
}

/// A page of other resources (their fields as CDF documents them).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ObjectPage {
    /// The objects.
    #[schema(value_type = Vec<Object>)]
    items: Vec<Value>,
    /// The next page's cursor, absent or null on the last page.
    next_cursor: Option<String>,
}

/// One count.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Count {
    /// How many match.
    count: i64,
}

/// The answer of the aggregate endpoints.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CountItems {
    /// One count.
    items: Vec<Count>,
}

/// The schemas of the document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "cabinet",
        description = "A self-hostable file service that speaks the CDF Files API."
    ),
    components(schemas(
        ErrorResponse,
        ErrorBody,
        Identifier,
        IdentifierItems,
        IdentifierList,
        FileCreate,
        FileView,
        LabelRef,
        FileItems,
        IdNumbers,
        CompleteMultipart,
        ObjectPage,
        CountItems,
    ))
)]
struct Schemas;

/// The prefix of every project route.
const P: &str = "/api/v1/projects/{project}";

/// What one operation takes and answers.
struct Op {
    method: HttpMethod,
    path: String,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    body: Option<(&'static str, Value)>,
    query: Vec<(&'static str, Schema, bool)>,
    ok: (&'static str, Option<&'static str>),
}

fn op(
    method: HttpMethod,
    path: String,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
) -> Op {
    Op {
        method,
        path,
        id,
        tag,
        summary,
        body: None,
        query: vec![],
        ok: ("200", Some("ObjectPage")),
    }
}

impl Op {
    fn body(mut self, schema: &'static str, example: Value) -> Self {
        self.body = Some((schema, example));
        self
    }
    fn query(mut self, name: &'static str, schema: Schema) -> Self {
        self.query.push((name, schema, false));
        self
    }
    fn queries(mut self, params: Vec<(&'static str, Schema)>) -> Self {
        self.query.extend(
            params
                .into_iter()
                .map(|(name, schema)| (name, schema, false)),
        );
        self
    }
    fn query_required(mut self, name: &'static str, schema: Schema) -> Self {
        self.query.push((name, schema, true));
        self
    }
    fn ok(mut self, status: &'static str, schema: Option<&'static str>) -> Self {
        self.ok = (status, schema);
        self
    }
}

fn typed(t: Type) -> Schema {
    ObjectBuilder::new().schema_type(t).into()
}

fn integer(min: i64, max: i64) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Int64,
        )))
        .minimum(Some(min as f64))
        .maximum(Some(max as f64))
        .into()
}

fn json_ref(name: &str) -> Content {
    Content::new(Some(RefOr::Ref(Ref::from_schema_name(name))))
}

/// Every operation of the HTTP surface, in the router's order.
fn operations() -> Vec<Op> {
    use HttpMethod::{Get, Head, Post, Put};
    let f = |s: &str| format!("{P}/files{s}");
    let ids = || json!({"items": [{"externalId": "openapi-example"}], "ignoreUnknownIds": true});
    let one = || json!({"items": [{"externalId": "openapi-example"}]});
    let bool_q = || typed(Type::Boolean);
    let text_q = || typed(Type::String);
    vec![
        op(Post, f(""), "createFile", "files", "Create a file and get its upload URL")
            .body("FileCreate", json!({"name": "openapi-example.txt", "externalId": "openapi-example", "mimeType": "text/plain"}))
            .query("overwrite", bool_q())
            .ok("201", Some("FileView")),
        op(Get, f(""), "listFilesGet", "files", "List files (query-string filters)")
            .query("limit", integer(1, 1000))
            .query("cursor", text_q())
            .query("partition", text_q())
            .queries(super::openapi_files::list_query_parameters())
            .ok("200", Some("FileItems")),
        op(Get, f("/{id}"), "getFile", "files", "Retrieve one file by id").ok("200", Some("FileView")),
        op(Get, f("/icon"), "getFileIcon", "files", "Thumbnails: always a 400, cabinet makes none")
            .ok("400", None),
        op(Post, f("/byids"), "retrieveFiles", "files", "Retrieve files by identifiers")
            .body("IdentifierItems", ids())
            .ok("200", Some("FileItems")),
        op(Post, f("/list"), "listFiles", "files", "List files with a filter")
            .body("ListBody", json!({"filter": {"name": "openapi-example.txt", "directoryPrefix": "/", "mimeType": "text/plain", "externalIdPrefix": "openapi", "uploaded": true, "metadata": {"k": "v"}, "assetIds": [1], "dataSetIds": [{"externalId": "openapi-example-ds"}], "labels": {"containsAny": [{"externalId": "openapi-example"}]}, "createdTime": {"min": 0}, "uploadedTime": {"max": 4_102_444_800_000_i64}}, "limit": 10, "partition": "1/2"}))
            .ok("200", Some("FileItems")),
        op(Post, f("/search"), "searchFiles", "files", "Search files by name")
            .body("SearchBody", json!({"filter": {"source": "openapi", "assetSubtreeIds": [{"externalId": "openapi-example-asset"}], "geoLocation": {"relation": "INTERSECTS", "shape": {"type": "Polygon", "coordinates": [[[0.0, 0.0], [20.0, 0.0], [20.0, 70.0], [0.0, 70.0], [0.0, 0.0]]]}}}, "search": {"name": "openapi"}, "limit": 5}))
            .ok("200", Some("FileItems")),
        op(Post, f("/aggregate"), "aggregateFiles", "files", "Count files matching a filter")
            .body("AggregateBody", json!({"filter": {"uploaded": false, "rootAssetIds": [{"externalId": "openapi-example-asset"}], "assetExternalIds": ["openapi-example-asset"], "labels": {"containsAll": [{"externalId": "openapi-example"}]}, "lastUpdatedTime": {"min": 0}, "sourceCreatedTime": {"min": 0, "max": 4_102_444_800_000_i64}, "sourceModifiedTime": {"min": 0}}}))
            .ok("200", Some("CountItems")),
        op(Post, f("/delete"), "deleteFiles", "files", "Delete files")
            .body("IdentifierItems", json!({"items": [{"externalId": "openapi-example-absent"}], "ignoreUnknownIds": true}))
            .ok("200", Some("Empty")),
        op(Post, f("/update"), "updateFiles", "files", "Update fields of files")
            .body("FileUpdateItems", json!({"items": [{"externalId": "openapi-example", "update": {"source": {"set": "openapi"}, "metadata": {"add": {"k": "v"}, "remove": ["gone"]}, "assetIds": {"add": [9_007_199_254_740_000_i64]}, "sourceCreatedTime": {"set": 0}, "sourceModifiedTime": {"setNull": true}, "labels": {"remove": [{"externalId": "openapi-absent"}]}, "geoLocation": {"set": {"type": "Feature", "geometry": {"type": "Point", "coordinates": [10.0, 59.9]}}}}}]}))
            .ok("200", Some("FileItems")),
        op(Post, f("/downloadlink"), "createDownloadLinks", "files", "Signed download URLs")
            .body("IdentifierList", one())
            .query("extendedExpiration", bool_q())
            .ok("200", Some("DownloadLinks")),
        op(Post, f("/uploadlink"), "createUploadLink", "files", "A new upload URL for a file")
            .body("IdentifierList", one())
            .ok("201", Some("FileItems")),
        op(Post, f("/initmultipartupload"), "initMultipartUpload", "files", "Create a file and get its part URLs")
            .body("FileCreate", json!({"name": "openapi-multi.bin", "externalId": "openapi-multi"}))
            .query_required("parts", integer(1, 250))
            .query("overwrite", bool_q())
            .ok("201", Some("FileView")),
        op(Post, f("/multiuploadlink"), "createMultipartUploadLink", "files", "New part URLs for a file")
            .body("IdentifierList", json!({"items": [{"externalId": "openapi-multi"}]}))
            .query_required("parts", integer(1, 250))
            .ok("201", Some("FileItems")),
        op(Post, f("/completemultipartupload"), "completeMultipartUpload", "files", "Finish a multipart upload")
            .body("CompleteMultipart", json!({"externalId": "openapi-multi", "uploadId": "0"}))
            .ok("200", Some("Empty")),
        op(Get, format!("{P}/groups"), "listGroups", "iam", "List groups")
            .query("all", bool_q())
            .ok("200", Some("GroupList")),
        op(Post, format!("{P}/groups"), "createGroups", "iam", "Create groups")
            .body("GroupItems", json!({"items": [{"name": "openapi-example", "capabilities": [{"filesAcl": {"actions": ["READ"], "scope": {"all": {}}}}]}]}))
            .ok("201", Some("GroupList")),
        op(Post, format!("{P}/groups/delete"), "deleteGroups", "iam", "Delete groups")
            .body("IdNumbers", json!({"items": [9_007_199_254_740_000_i64]}))
            .ok("200", Some("Empty")),
        op(Get, format!("{P}/securitycategories"), "listSecurityCategories", "iam", "List security categories")
            .query("sort", text_q())
            .query("cursor", text_q())
            .query("limit", integer(1, 1000))
            .ok("200", Some("SecurityCategoryPage")),
        op(Post, format!("{P}/securitycategories"), "createSecurityCategories", "iam", "Create security categories")
            .body("SecurityCategoryItems", json!({"items": [{"name": "openapi-example"}]}))
            .ok("201", Some("SecurityCategoryPage")),
        op(Post, format!("{P}/securitycategories/delete"), "deleteSecurityCategories", "iam", "Delete security categories")
            .body("IdNumbers", json!({"items": [9_007_199_254_740_000_i64]}))
            .ok("200", Some("Empty")),
        op(Post, format!("{P}/datasets"), "createDataSets", "datasets", "Create data sets")
            .body("DataSetItems", json!({"items": [{"externalId": "openapi-example-ds", "name": "openapi-example"}]}))
            .ok("201", Some("DataSetPage")),
        op(Post, format!("{P}/datasets/byids"), "retrieveDataSets", "datasets", "Retrieve data sets")
            .body("IdentifierItems", ids())
            .ok("200", Some("DataSetPage")),
        op(Post, format!("{P}/datasets/list"), "listDataSets", "datasets", "List data sets")
            .body("DataSetListBody", json!({"filter": {"writeProtected": false}, "limit": 10}))
            .ok("200", Some("DataSetPage")),
        op(Post, format!("{P}/datasets/aggregate"), "aggregateDataSets", "datasets", "Count data sets")
            .body("DataSetAggregateBody", json!({"filter": {"createdTime": {"min": 0}}}))
            .ok("200", Some("CountItems")),
        op(Post, format!("{P}/datasets/update"), "updateDataSets", "datasets", "Update data sets")
            .body("DataSetUpdateItems", json!({"items": [{"externalId": "openapi-example-ds", "update": {"description": {"set": "openapi"}, "metadata": {"add": {"k": "v"}}}}]}))
            .ok("200", Some("DataSetPage")),
        op(Post, format!("{P}/labels"), "createLabels", "labels", "Create label definitions")
            .body("LabelItems", json!({"items": [{"externalId": "openapi-example", "name": "openapi example"}]}))
            .ok("201", Some("LabelPage")),
        op(Post, format!("{P}/labels/list"), "listLabels", "labels", "List label definitions")
            .body("LabelListBody", json!({"filter": {"externalIdPrefix": "openapi"}, "limit": 10}))
            .ok("200", Some("LabelPage")),
        op(Post, format!("{P}/labels/byids"), "retrieveLabels", "labels", "Retrieve label definitions")
            .body("ExternalIdItemsIgnoringUnknown", json!({"items": [{"externalId": "openapi-example-absent"}], "ignoreUnknownIds": true}))
            .ok("200", Some("LabelPage")),
        op(Post, format!("{P}/labels/delete"), "deleteLabels", "labels", "Delete label definitions")
            .body("ExternalIdItems", json!({"items": [{"externalId": "openapi-example"}]}))
            .ok("200", Some("Empty")),
        op(Get, format!("{P}/assets"), "listAssetsGet", "assets", "List assets (query-string filters)")
            .query("limit", integer(1, 1000))
            .query("cursor", text_q())
            .query("partition", text_q())
            .ok("200", Some("AssetPage")),
        op(Post, format!("{P}/assets"), "createAssets", "assets", "Create assets")
            .body("AssetItems", json!({"items": [{"externalId": "openapi-example-asset", "name": "openapi example", "metadata": {"k": "v"}}]}))
            .ok("201", Some("AssetList")),
        op(Post, format!("{P}/assets/byids"), "retrieveAssets", "assets", "Retrieve assets")
            .body("AssetByIds", json!({"items": [{"externalId": "openapi-example-asset"}], "ignoreUnknownIds": true, "aggregatedProperties": ["childCount", "depth", "path"]}))
            .ok("200", Some("AssetList")),
        op(Post, format!("{P}/assets/list"), "listAssets", "assets", "List assets")
            .body("AssetListBody", json!({"filter": {"root": true, "metadata": {"k": "v"}}, "limit": 10}))
            .ok("200", Some("AssetPage")),
        op(Post, format!("{P}/assets/search"), "searchAssets", "assets", "Search assets")
            .body("AssetSearchBody", json!({"search": {"name": "openapi"}, "limit": 5}))
            .ok("200", Some("AssetList")),
        op(Post, format!("{P}/assets/aggregate"), "aggregateAssets", "assets", "Count assets")
            .body("AssetAggregateBody", json!({"filter": {"externalIdPrefix": "openapi"}, "aggregate": "count"}))
            .ok("200", Some("CountItems")),
        op(Post, format!("{P}/assets/update"), "updateAssets", "assets", "Update assets")
            .body("AssetUpdateItems", json!({"items": [{"externalId": "openapi-example-asset", "update": {"description": {"set": "openapi"}, "labels": {"remove": [{"externalId": "openapi-absent"}]}}}]}))
            .ok("200", Some("AssetList")),
        op(Post, format!("{P}/assets/delete"), "deleteAssets", "assets", "Delete assets")
            .body("AssetDelete", json!({"items": [{"externalId": "openapi-example-absent"}], "ignoreUnknownIds": true, "recursive": true}))
            .ok("200", Some("Empty")),
        op(Get, P.to_string(), "getProject", "projects", "The project and its identity provider settings")
            .ok("200", Some("Project")),
        op(Get, "/api/v1/projects".into(), "listProjects", "projects", "The projects: in open mode those that hold files, else the caller's")
            .ok("200", Some("ProjectList")),
        op(Get, "/api/v1/token/inspect".into(), "inspectToken", "projects", "What the caller's token grants")
            .ok("200", Some("TokenInspection")),
        op(Put, "/blob/v1/{project}/files/{file_id}/uploads/{session}".into(), "putContent", "content", "Upload content to a signed URL")
            .query("part", integer(0, 249))
            .query_required("expires", typed(Type::Integer))
            .query("kid", text_q())
            .query_required("signature", text_q())
            .ok("200", None),
        op(Get, "/blob/v1/{project}/files/{file_id}/content".into(), "getContent", "content", "Download content from a signed URL")
            .query_required("expires", typed(Type::Integer))
            .query("kid", text_q())
            .query_required("signature", text_q())
            .ok("200", None),
        op(Head, "/blob/v1/{project}/files/{file_id}/content".into(), "headContent", "content", "The size and validators of the content behind a signed URL")
            .query_required("expires", typed(Type::Integer))
            .query("kid", text_q())
            .query_required("signature", text_q())
            .ok("200", None),
        op(Get, "/openapi.json".into(), "openapi", "meta", "This document").ok("200", None),
        op(Get, "/metrics".into(), "metrics", "meta", "Prometheus metrics (open on loopback, else a token)")
            .ok("200", None),
        op(Get, "/healthz".into(), "healthz", "meta", "The process answers").ok("200", None),
        op(Get, "/readyz".into(), "readyz", "meta", "The stores answer and the disk has room")
            .ok("200", None),
    ]
}

/// The path parameters a path template names, with their schemas.
fn path_parameter(name: &str) -> utoipa::openapi::path::Parameter {
    let schema: Schema = match name {
        // A subset of the project names the server accepts: letters first, so every example is one.
        "project" => ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[a-z][a-z0-9-]{1,30}[a-z0-9]$"))
            .into(),
        "id" | "file_id" => integer(1, 9_007_199_254_740_991),
        _ => typed(Type::String),
    };
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(schema))
        .build()
}

/// The body of `/healthz` and `/readyz`: `{"status", "checks"?}` (see `api/ops.rs`).
fn health_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    let schema = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("status", typed(Type::String))
        .required("status")
        .property("checks", typed(Type::Object));
    ResponseBuilder::new()
        .description(description)
        .content("application/json", Content::new(Some(schema)))
        .build()
        .into()
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", json_ref("ErrorResponse"))
        .build()
        .into()
}

/// Builds the whole document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Schemas::openapi();
    doc.merge(super::openapi_resources::ResourceSchemas::openapi());
    doc.merge(super::openapi_files::FileSchemas::openapi());
    let mut paths = PathsBuilder::new();
    for o in operations() {
        let mut b = OperationBuilder::new()
            .operation_id(Some(o.id))
            .summary(Some(o.summary))
            .tag(o.tag);
        for name in o
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        {
            b = b.parameter(path_parameter(name));
        }
        for (name, schema, required) in o.query {
            b = b.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Query)
                    .required(if required {
                        Required::True
                    } else {
                        Required::False
                    })
                    .schema(Some(schema))
                    .build(),
            );
        }
        if let Some((schema, example)) = o.body {
            let mut content = json_ref(schema);
            content.example = Some(example);
            b = b.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content("application/json", content)
                    .build(),
            ));
        }
        if o.id == "putContent" {
            b = b.request_body(Some(
                RequestBodyBuilder::new()
                    .content(
                        "application/octet-stream",
                        Content::new(Some(
                            ObjectBuilder::new()
                                .schema_type(Type::String)
                                .content_media_type("application/octet-stream"),
                        )),
                    )
                    .build(),
            ));
        }
        let (status, schema) = o.ok;
        if o.id == "putContent" {
            b = b.response(
                status,
                ResponseBuilder::new()
                    .description("Stored; the `ETag` header names the content")
                    .build(),
            );
        } else if o.id == "getContent" {
            let bytes = || {
                Content::new(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .content_media_type("application/octet-stream"),
                ))
            };
            b = b
                .response(
                    "200",
                    ResponseBuilder::new()
                        .description("The content")
                        .content("application/octet-stream", bytes())
                        .build(),
                )
                .response(
                    "206",
                    ResponseBuilder::new()
                        .description("The requested range")
                        .content("application/octet-stream", bytes())
                        .build(),
                )
                .response(
                    "304",
                    ResponseBuilder::new()
                        .description("Not modified (`If-None-Match`)")
                        .build(),
                );
        } else if o.id == "headContent" {
            b = b
                .response(
                    "200",
                    ResponseBuilder::new()
                        .description("As the GET would answer, without the body")
                        .build(),
                )
                .response(
                    "304",
                    ResponseBuilder::new()
                        .description("Not modified (`If-None-Match`)")
                        .build(),
                );
        } else if o.id == "metrics" {
            b = b.response(
                status,
                ResponseBuilder::new()
                    .description("Prometheus text format 0.0.4")
                    .content("text/plain", Content::new(Some(typed(Type::String))))
                    .build(),
            );
        } else if o.id == "healthz" || o.id == "readyz" {
            b = b.response(status, health_response("Ready (or, for healthz, alive)"));
        } else if status != "400" {
            let content = match schema {
                Some(name) => json_ref(name),
                None => Content::new(Some(typed(Type::Object))),
            };
            b = b.response(
                status,
                ResponseBuilder::new()
                    .description("Success")
                    .content("application/json", content)
                    .build(),
            );
        }
        b = b
            .response(
                "400",
                error_response(
                    "Invalid request, unknown (`missing`) or repeated (`duplicated`) identifiers",
                ),
            )
            .response("401", error_response("No valid token for the project"))
            .response(
                "403",
                error_response("Missing capability, or a forged or expired signed URL"),
            )
            .response(
                "409",
                error_response("An externalId that is taken (`duplicated`)"),
            )
            .response(
                "500",
                error_response("A fault of the server; the message says nothing internal"),
            )
            .response(
                "503",
                error_response("Busy or a transient fault; retry after `Retry-After`"),
            )
            .response(
                "default",
                error_response("Any other error, in the same envelope"),
            );
        if o.id == "readyz" {
            // Not the error envelope: the same body as a 200, naming the check that failed.
            b = b.response(
                "503",
                health_response("A store does not answer or the disk is full"),
            );
        }
        paths = paths.path(o.path, PathItem::new(o.method, b.build()));
    }
    doc.paths = paths.build();
    if let Some(components) = doc.components.as_mut() {
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
    // Open mode takes any bearer token; with access control on, a token of the project's identity
    // provider or a configured service token.
    doc.security = Some(vec![SecurityRequirement::new(
        "bearer",
        Vec::<String>::new(),
    )]);
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}

/// `GET /openapi.json`.
pub async fn serve() -> impl IntoResponse {
    static DOC: OnceLock<String> = OnceLock::new();
    let text = DOC
        .get_or_init(|| serde_json::to_string(&document()).unwrap_or_else(|_| String::from("{}")));
    ([(header::CONTENT_TYPE, "application/json")], text.as_str())
}
