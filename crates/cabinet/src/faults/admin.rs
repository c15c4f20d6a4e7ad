//! The admin API of fault injection, outside `/api/v1`:
//!
//! - `POST /_cabinet/faults` `{"items": [rule, …], "seed"?}` arms rules (see [`FaultSpec`]) and answers
//!   201 with them and their ids; a `seed` restarts the generator behind `probability`;
//! - `GET /_cabinet/faults` lists the armed rules, with how often each matched and fired;
//! - `POST /_cabinet/faults/reset` removes them all;
//! - `DELETE /_cabinet/faults/{id}` removes one.
//!
//! In open mode anyone may call it; with access control on, only the principals `[faults] admin` names
//! (by a service token or a JWT of theirs), and nobody when it names none.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::FaultSpec;
use crate::api::error::{ApiError, ErrorKind};
use crate::api::AppState;
use crate::auth::Principal;

/// The routes, merged into the router with one line.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/_cabinet/faults", get(list_faults).post(create_faults))
        .route("/_cabinet/faults/reset", post(reset_faults))
        .route("/_cabinet/faults/{id}", delete(delete_fault))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateFaults {
    items: Vec<FaultSpec>,
    #[serde(default)]
    seed: Option<u64>,
}

async fn create_faults(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(e) = authorize(&app, &headers).await {
        return e.into_response();
    }
    let request: CreateFaults = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return ApiError::bad_request(format!("Invalid fault rules: {e}")).into_response()
        }
    };
    let mut items = Vec::with_capacity(request.items.len());
    for (i, item) in request.items.into_iter().enumerate() {
        match item.checked() {
            Ok(item) => items.push(item),
            Err(e) => return ApiError::bad_request(format!("items[{i}]: {e}")).into_response(),
        }
    }
    let added = app.faults.add(items, request.seed);
    (StatusCode::CREATED, Json(json!({ "items": added }))).into_response()
}

async fn list_faults(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = authorize(&app, &headers).await {
        return e.into_response();
    }
    let (items, seed) = app.faults.list();
    Json(json!({ "items": items, "seed": seed })).into_response()
}

async fn reset_faults(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = authorize(&app, &headers).await {
        return e.into_response();
    }
    let removed = app.faults.reset();
    Json(json!({ "removed": removed })).into_response()
}

async fn delete_fault(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(e) = authorize(&app, &headers).await {
        return e.into_response();
    }
    match id.parse::<u64>() {
        Ok(id) if app.faults.remove(id) => Json(json!({})).into_response(),
        _ => ApiError::new(ErrorKind::NotFound, format!("No fault rule with id {id}"))
            .into_response(),
    }
}

/// Open mode: anyone. Access control on: a configured admin; 401 without a valid token, 403 otherwise.
async fn authorize(app: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(groups) = &app.groups else {
        return Ok(());
    };
    if !app.faults.has_admins() {
        return Err(ApiError::new(
            ErrorKind::Forbidden,
            "Fault injection is off: access control is on and the configuration names no [faults] admin",
        ));
    }
    let Some(token) = crate::api::access::bearer_token(headers) else {
        return Err(ApiError::new(
            ErrorKind::Unauthorized,
            "Unauthorized: send an access token as 'Authorization: Bearer <token>'",
        ));
    };
    let access = groups.current().await.map_err(|e| {
        tracing::error!(error = %e, "the stored groups cannot be read; the request is refused");
        ApiError::unavailable("Access rules are being reloaded; retry shortly", 1)
    })?;
    let principal = match access.authenticate(token) {
        Some(principal) => principal,
        None => access
            .authenticate_jwt_for(token, None)
            .await
            .map_err(|_| {
                ApiError::new(
                    ErrorKind::Unauthorized,
                    "Unauthorized: the token is not valid",
                )
            })?,
    };
    match principal {
        Principal::Known { subject, .. } if app.faults.is_admin(&subject) => Ok(()),
        Principal::Known { subject, .. } => {
            tracing::info!(subject, "403: not a [faults] admin");
            Err(ApiError::new(
                ErrorKind::Forbidden,
                "Only the principals named in [faults] admin may use fault injection",
            ))
        }
        Principal::Open => Ok(()),
    }
}
