//! `POST /files/downloadlink`: signed, expiring GET URLs for file content.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::Value;

use crate::api::access::retrieve_readable;
use crate::api::error::ApiError;
use crate::api::extract::{CdfJson, CdfQuery, UrlBase};
use crate::api::model::{check_identifiers, IdentifierList, Items};
use crate::api::AppState;
use crate::auth::Principal;
use crate::clock::now_ms;
use crate::domain::{
    ProjectName, DOWNLOAD_URL_TTL_MS, EXTENDED_DOWNLOAD_URL_TTL_MS, MAX_DOWNLOAD_ITEMS,
};
use crate::signing::Grant;

/// `?extendedExpiration=`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DownloadQuery {
    /// One hour instead of 30 seconds.
    #[serde(default)]
    extended_expiration: bool,
}

/// One URL per requested file, each item echoing only the identifier form the client sent (the Python
/// SDK keys its result by it). A file without content yet is a 400 naming it.
pub async fn create_download_links(
    State(app): State<AppState>,
    project: ProjectName,
    base: UrlBase,
    Extension(principal): Extension<Principal>,
    CdfQuery(query): CdfQuery<DownloadQuery>,
    CdfJson(body): CdfJson<IdentifierList>,
) -> Result<Json<Items<Value>>, ApiError> {
    check_identifiers(&body.items, 1, MAX_DOWNLOAD_ITEMS)?;
    let files =
        retrieve_readable(app.meta.as_ref(), &principal, &project, &body.items, false).await?;
    let files = crate::direct::settle(&app, &project, files).await?;
    let ttl = if query.extended_expiration {
        EXTENDED_DOWNLOAD_URL_TTL_MS
    } else {
        DOWNLOAD_URL_TTL_MS
    };
    let expires = now_ms() + ttl;
    let mut items = Vec::with_capacity(files.len());
    for (ident, file) in body.items.iter().zip(files) {
        if !file.uploaded() {
            return Err(ApiError::bad_request(format!(
                "Files not uploaded: {} has no content yet, so it cannot be downloaded",
                ident.to_json()
            )));
        }
        let url = match (&app.direct, &file.content) {
            // Direct transfer: a presigned GET of the object, as long-lived as our own URL.
            (Some(direct), Some(content)) => direct.download_url(&file, content, expires).await?,
            _ => {
                let grant = Grant::Download {
                    project: project.to_string(),
                    file_id: file.id,
                };
                app.signer.url_at(&base.0, &grant, expires)
            }
        };
        let mut item = ident.to_json();
        item["downloadUrl"] = Value::String(url);
        items.push(item);
    }
    Ok(Json(Items { items }))
}
