//! The HTTP layer: routes, extractors, wire types and the error envelope.

pub(crate) mod access;
mod console;
pub mod cursor;
pub mod error;
pub mod extract;
pub mod iam_model;
mod middleware;
pub mod model;
pub mod openapi;
mod openapi_files;
mod openapi_resources;
pub mod ops;
pub mod page;
mod routes;
pub mod transfers;
mod write_protection;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use axum::Router;
use tower::util::MapRequestLayer;
use tower::ServiceBuilder;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::blob::BlobStore;
use crate::signing::UrlSigner;
use crate::store::MetadataStore;

/// Largest JSON request body, after gzip inflation: 1000 update items with full metadata fit.
const MAX_JSON_BODY: usize = 32 * 1024 * 1024;
/// Largest body of a create (`POST /files`, `initmultipartupload`): the largest legal file is
/// [`crate::domain::MAX_FILE_JSON_BYTES`] (171,538 bytes) of JSON; 1 MiB leaves room for whitespace, and
/// keeps what a refused body costs in memory small.
const MAX_FILE_BODY: usize = 1024 * 1024;
/// Largest body of list, search and aggregate: a filter with the largest shape is a few hundred KiB.
const MAX_QUERY_BODY: usize = 1024 * 1024;
/// Largest body of the identifier lists (byids, delete, downloadlink, uploadlink, multiuploadlink,
/// completemultipartupload): 1000 instanceIds of 255 escaped characters each take about 3.1 MB.
const MAX_IDENTIFIERS_BODY: usize = 4 * 1024 * 1024;

/// What every handler shares. Nodes hold no other state, so any number can serve one set of stores.
#[derive(Clone)]
pub struct AppState {
    /// File metadata and upload sessions.
    pub meta: Arc<dyn MetadataStore>,
    /// File content.
    pub blobs: Arc<dyn BlobStore>,
    /// Signs and checks upload and download URLs.
    pub signer: UrlSigner,
    /// Seals and opens list cursors.
    pub cursors: cursor::CursorCodec,
    /// Publishes under way, which the orphan collector must leave alone.
    pub in_flight: Arc<crate::collector::InFlight>,
    /// Free space of the local disk (the watermark for uploads, the reserve for deletes); `None` where
    /// content does not live on a local disk.
    pub disk: Option<Arc<crate::disk::DiskGuard>>,
    /// The cap on content uploads and downloads in progress.
    pub transfers: transfers::TransferSlots,
    /// Projects, groups and service tokens; `None` in open mode.
    pub access: Option<Arc<crate::auth::AccessConfig>>,
    /// Groups and security categories created through the API.
    pub iam: Arc<dyn crate::store::iam::IamStore>,
    /// Data sets.
    pub data_sets: Arc<dyn crate::store::datasets::DataSetStore>,
    /// Label definitions.
    pub labels: Arc<dyn crate::store::labels::LabelStore>,
    /// Assets.
    pub assets: Arc<dyn crate::store::assets::AssetStore>,
    /// The configured access plus the stored groups, as authentication reads them; `None` in open mode.
    pub groups: Option<Arc<crate::auth::directory::GroupDirectory>>,
    /// Direct transfer (presigned S3 URLs); `None` when content passes through cabinet.
    pub direct: Option<Arc<crate::direct::DirectTransfer>>,
    /// The server's metrics, served at `/metrics`.
    pub metrics: crate::metrics::SharedMetrics,
    /// Who may read `/metrics`.
    pub metrics_access: ops::MetricsAccess,
    /// The armed fault rules (`/_cabinet/faults`).
    pub faults: Arc<crate::faults::Faults>,
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let limit = DefaultBodyLimit::max;
    let files = Router::new()
        .route(
            "/files",
            post(routes::create::create_file)
                .get(routes::list::list_files_get)
                .layer(limit(MAX_FILE_BODY)),
        )
        .route(
            "/files/",
            post(routes::create::create_file).layer(limit(MAX_FILE_BODY)),
        )
        .route(
            "/files/{id}",
            get(routes::retrieve::get_file).fallback(middleware::other_method_on_file),
        )
        .route("/files/icon", get(middleware::thumbnails_unavailable))
        .route(
            "/files/byids",
            post(routes::retrieve::retrieve_files).layer(limit(MAX_IDENTIFIERS_BODY)),
        )
        .route(
            "/files/list",
            post(routes::list::list_files).layer(limit(MAX_QUERY_BODY)),
        )
        .route(
            "/files/search",
            post(routes::search::search_files).layer(limit(MAX_QUERY_BODY)),
        )
        .route(
            "/files/aggregate",
            post(routes::aggregate::aggregate_files).layer(limit(MAX_QUERY_BODY)),
        )
        .route(
            "/files/delete",
            post(routes::delete::delete_files).layer(limit(MAX_IDENTIFIERS_BODY)),
        )
        .route("/files/update", post(routes::update::update_files))
        .route(
            "/files/downloadlink",
            post(routes::download_link::create_download_links).layer(limit(MAX_IDENTIFIERS_BODY)),
        )
        .route(
            "/files/uploadlink",
            post(routes::upload_link::create_upload_link).layer(limit(MAX_IDENTIFIERS_BODY)),
        )
        .route(
            "/files/initmultipartupload",
            post(routes::multipart::init_multipart_upload).layer(limit(MAX_FILE_BODY)),
        )
        .route(
            "/files/multiuploadlink",
            post(routes::multipart::create_multipart_upload_link)
                .layer(limit(MAX_IDENTIFIERS_BODY)),
        )
        .route(
            "/files/completemultipartupload",
            post(routes::multipart::complete_multipart_upload).layer(limit(MAX_IDENTIFIERS_BODY)),
        );

    // The JS SDK lists and creates with a trailing slash (`/groups/`), as it creates files.
    let groups = || get(routes::groups::list_groups).post(routes::groups::create_groups);
    let categories = || {
        get(routes::security_categories::list_security_categories)
            .post(routes::security_categories::create_security_categories)
    };
    let iam = Router::new()
        .route("/groups", groups())
        .route("/groups/", groups())
        .route("/groups/delete", post(routes::groups::delete_groups))
        .route("/securitycategories", categories())
        .route("/securitycategories/", categories())
        .route(
            "/securitycategories/delete",
            post(routes::security_categories::delete_security_categories),
        );

    let data_sets = Router::new()
        .route("/datasets", post(routes::datasets::create_data_sets))
        .route(
            "/datasets/byids",
            post(routes::datasets::retrieve_data_sets),
        )
        .route("/datasets/list", post(routes::datasets::list_data_sets))
        .route(
            "/datasets/aggregate",
            post(routes::datasets::aggregate_data_sets),
        )
        .route("/datasets/update", post(routes::datasets::update_data_sets))
        .route("/labels", post(routes::labels::create_labels))
        .route("/labels/list", post(routes::labels::list_labels))
        .route("/labels/byids", post(routes::labels::retrieve_labels))
        .route("/labels/delete", post(routes::labels::delete_labels));

    let asset_list = || {
        get(routes::assets::list_assets_get)
            .post(routes::assets::create_assets)
            .layer(limit(MAX_IDENTIFIERS_BODY))
    };
    let assets = Router::new()
        .route("/assets", asset_list())
        .route("/assets/", asset_list())
        .route("/assets/byids", post(routes::assets::retrieve_assets))
        .route("/assets/list", post(routes::assets::list_assets))
        .route("/assets/search", post(routes::assets::search_assets))
        .route("/assets/aggregate", post(routes::assets::aggregate_assets))
        .route("/assets/update", post(routes::assets::update_assets))
        .route("/assets/delete", post(routes::assets::delete_assets));

    let api = Router::new()
        .nest(
            "/api/v1/projects/{project}",
            files.merge(iam).merge(data_sets).merge(assets),
        )
        .route(
            "/api/v1/projects/{project}",
            get(routes::project::get_project),
        )
        .route("/api/v1/projects", get(routes::projects::list_projects))
        .route("/api/v1/token/inspect", get(routes::token::inspect_token))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(
            RequestDecompressionLayer::new()
                .gzip(true)
                .pass_through_unaccepted(false),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::authenticate,
        ));

    let content = Router::new()
        .route(
            "/blob/v1/{project}/files/{file_id}/uploads/{session}",
            put(routes::content::put_content),
        )
        .route(
            "/blob/v1/{project}/files/{file_id}/content",
            get(routes::content::get_content),
        )
        .layer(DefaultBodyLimit::disable());

    // Not behind authentication: probes and scrapers carry no CDF token (see ops::MetricsAccess).
    let ops = Router::new()
        .route("/metrics", get(ops::metrics))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .layer(axum::Extension(std::sync::Arc::new(
            ops::ReadyCache::default(),
        )));
    let metrics = state.metrics.clone();
    let faults = state.faults.clone();

    Router::new()
        .route("/openapi.json", get(openapi::serve))
        .merge(api)
        .merge(content)
        .merge(ops)
        .merge(crate::faults::admin::router())
        .merge(console::routes())
        .fallback(middleware::unknown_route)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(MapRequestLayer::new(middleware::drop_unfit_request_id))
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(axum::middleware::from_fn_with_state(metrics, ops::observe))
                .layer(TraceLayer::new_for_http().make_span_with(middleware::span_with_request_id))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(axum::middleware::from_fn(middleware::ensure_error_envelope))
                .layer(middleware::cors())
                .layer(axum::middleware::from_fn_with_state(
                    faults,
                    crate::faults::layer::inject,
                )),
        )
}
