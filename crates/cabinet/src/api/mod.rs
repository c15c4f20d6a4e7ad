//! The HTTP layer: routes, extractors, wire types and the error envelope.

pub mod cursor;
pub mod error;
pub mod extract;
mod middleware;
pub mod model;
mod routes;
pub mod transfers;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::cors::CorsLayer;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::blob::BlobStore;
use crate::signing::UrlSigner;
use crate::store::MetadataStore;

/// Largest JSON request body, after gzip inflation: 1000 update items with full metadata fit.
const MAX_JSON_BODY: usize = 32 * 1024 * 1024;

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
    /// The cap on content uploads and downloads in progress.
    pub transfers: transfers::TransferSlots,
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let files = Router::new()
        .route(
            "/files",
            post(routes::create::create_file).get(routes::list::list_files_get),
        )
        .route("/files/", post(routes::create::create_file))
        .route("/files/{id}", get(routes::retrieve::get_file))
        .route("/files/byids", post(routes::retrieve::retrieve_files))
        .route("/files/list", post(routes::list::list_files))
        .route("/files/search", post(routes::search::search_files))
        .route("/files/aggregate", post(routes::aggregate::aggregate_files))
        .route("/files/delete", post(routes::delete::delete_files))
        .route("/files/update", post(routes::update::update_files))
        .route(
            "/files/downloadlink",
            post(routes::download_link::create_download_links),
        )
        .route(
            "/files/uploadlink",
            post(routes::upload_link::create_upload_link),
        )
        .route(
            "/files/initmultipartupload",
            post(routes::multipart::init_multipart_upload),
        )
        .route(
            "/files/multiuploadlink",
            post(routes::multipart::create_multipart_upload_link),
        )
        .route(
            "/files/completemultipartupload",
            post(routes::multipart::complete_multipart_upload),
        );

    let api = Router::new()
        .nest("/api/v1/projects/{project}", files)
        .route("/api/v1/token/inspect", get(routes::token::inspect_token))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(
            RequestDecompressionLayer::new()
                .gzip(true)
                .pass_through_unaccepted(false),
        )
        .layer(axum::middleware::from_fn(middleware::require_bearer_token));

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

    Router::new()
        .merge(api)
        .merge(content)
        .fallback(middleware::unknown_route)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(middleware::span_with_request_id))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(axum::middleware::from_fn(middleware::ensure_error_envelope))
                .layer(
                    CorsLayer::very_permissive()
                        .expose_headers([axum::http::HeaderName::from_static("x-request-id")]),
                ),
        )
}
