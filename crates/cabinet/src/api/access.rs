//! Who is calling, and whether they may: the bearer token becomes a [`Principal`], and the `filesAcl`
//! action a files route needs is checked before the handler runs (so a refused request never reads its
//! body or touches the store).

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ErrorKind};
use super::AppState;
use crate::auth::{CategoryAccess, FileScope, FilesAccess, FilesAction, Principal};
use crate::domain::{FileFilter, FileRecord, Identifier, ProjectName};
use crate::store::MetadataStore;

/// CDF's text for a missing capability; the Python SDK keys on "insufficient access rights".
pub const FORBIDDEN_MESSAGE: &str =
    "Resource not found. This may also be due to insufficient access rights.";

/// Authenticates every API request and checks the `filesAcl` action of a files route. A missing or unknown token, and a
/// token not valid for the project addressed, are 401 (the JS SDK fetches a new token only after a 401,
/// and CDF answers 401 for a project the token cannot reach); a known caller without the capability is a
/// 403. Preflight requests pass: CORS answers them.
pub async fn authenticate(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    if req.method() == Method::OPTIONS {
        return next.run(req).await;
    }
    let Some(token) = bearer_token(req.headers()) else {
        return ApiError::new(
            ErrorKind::Unauthorized,
            "Unauthorized: send an access token as 'Authorization: Bearer <token>'",
        )
        .into_response();
    };
    let access = match &app.groups {
        None => None,
        Some(directory) => match directory.current().await {
            Ok(access) => Some(access),
            Err(e) => {
                tracing::error!(error = %e, "the stored groups cannot be read; the request is refused");
                return ApiError::unavailable("Access rules are being reloaded; retry shortly", 1)
                    .into_response();
            }
        },
    };
    // The project a request addresses, if any: a JWT is then verified for that project only.
    let addressed = req
        .uri()
        .path()
        .strip_prefix("/api/v1/projects/")
        .map(|rest| rest.split_once('/').map_or(rest, |(project, _)| project));
    let principal = match &access {
        None => Principal::Open,
        Some(access) => match access.authenticate(token) {
            Some(principal) => principal,
            None => match access.authenticate_jwt_for(token, addressed).await {
                Ok(principal) => principal,
                Err(reason) => {
                    tracing::info!(%reason, "401: the bearer token is no service token and no valid JWT");
                    return unauthorized("Unauthorized: the token is not valid");
                }
            },
        },
    };
    if let Some(rest) = req.uri().path().strip_prefix("/api/v1/projects/") {
        let (project, tail) = rest.split_once('/').unwrap_or((rest, ""));
        if let Principal::Known { subject, grants } = &principal {
            if !grants.iter().any(|g| g.project == project) {
                tracing::info!(
                    subject,
                    project,
                    "401: the token is not valid for this project"
                );
                return named(
                    unauthorized("Unauthorized: the token is not valid for this project"),
                    &principal,
                );
            }
        }
        let action = files_action(req.method(), tail);
        // A data-set scope passes here; the handler then narrows what it sees or refuses the file. Other
        // routes of the project (groups, security categories, the project itself) check their own ACL.
        let is_files = tail == "files" || tail.starts_with("files/");
        if is_files && principal.files_access(project, action) == FilesAccess::None {
            if let Principal::Known { subject, .. } = &principal {
                tracing::info!(
                    subject,
                    project,
                    action = action.as_str(),
                    "403: no filesAcl for it"
                );
            }
            return named(
                ApiError::new(ErrorKind::Forbidden, FORBIDDEN_MESSAGE).into_response(),
                &principal,
            );
        }
    }
    req.extensions_mut().insert(principal.clone());
    named(next.run(req).await, &principal)
}

/// `response` carrying the caller's name, for the access log ([`super::ops::observe`]).
fn named(mut response: Response, principal: &Principal) -> Response {
    let name = match principal {
        Principal::Open => "open".to_string(),
        Principal::Known { subject, .. } => subject.clone(),
    };
    response
        .extensions_mut()
        .insert(super::ops::CallerName(name));
    response
}

/// Narrows a list, search, aggregate or partition filter to the files the caller may read, before it
/// reaches the store (so counts and cursors only ever see those files, and the data-set index serves it):
/// its data sets, and files whose security categories it is a member of.
pub fn narrow_to_readable(principal: &Principal, project: &ProjectName, filter: &mut FileFilter) {
    match principal.files_access(project.as_str(), FilesAction::Read) {
        FilesAccess::All => {}
        FilesAccess::DataSets(ids) => filter.restrict_data_sets(&ids),
        FilesAccess::None => filter.restrict_data_sets(&Default::default()),
    }
    if let CategoryAccess::Only(ids) = principal.category_access(project.as_str()) {
        filter.restrict_categories(&ids);
    }
}

/// Files by identifier for a single-item read (`byids`, `GET /files/{id}`, `downloadlink`), in request
/// order. A caller who sees every file gets the store's answer unchanged (an unknown id is a 400
/// `missing`). A file the caller may not read (another data set, or a security category it is not a
/// member of) is a 403 with the Files text, or, with `ignore_unknown`, left out. For a data-set-scoped
/// caller an unknown file looks the same as one outside its scope, so the answer never tells whether a
/// file of another data set exists; a caller with `all` keeps the 400 `missing` for unknown files
/// ([`FileScope::hides_unknown`]).
pub async fn retrieve_readable(
    meta: &dyn MetadataStore,
    principal: &Principal,
    project: &ProjectName,
    ids: &[Identifier],
    ignore_unknown: bool,
) -> Result<Vec<FileRecord>, ApiError> {
    let scope = principal.file_scope(project.as_str(), FilesAction::Read);
    retrieve_covered(meta, &scope, project, ids, ignore_unknown).await
}

/// The files of `project` the caller may act on with `action` (data sets and security categories).
pub fn access_for(principal: &Principal, project: &ProjectName, action: FilesAction) -> FileScope {
    principal.file_scope(project.as_str(), action)
}

/// [`retrieve_readable`] for a given access (completemultipartupload checks WRITE with it).
pub async fn retrieve_covered(
    meta: &dyn MetadataStore,
    access: &FileScope,
    project: &ProjectName,
    ids: &[Identifier],
    ignore_unknown: bool,
) -> Result<Vec<FileRecord>, ApiError> {
    if access.is_unrestricted() {
        return Ok(meta.retrieve(project, ids, ignore_unknown).await?);
    }
    let found = meta
        .retrieve(project, ids, ignore_unknown || access.hides_unknown())
        .await?;
    let total = found.len();
    let readable: Vec<FileRecord> = found.into_iter().filter(|f| access.covers(f)).collect();
    if !ignore_unknown && (readable.len() != total || total != ids.len()) {
        return Err(ApiError::new(ErrorKind::Forbidden, FORBIDDEN_MESSAGE));
    }
    Ok(readable)
}

/// The value of `Authorization: Bearer <token>`, when there is a non-empty one.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|token| !token.is_empty())
}

fn unauthorized(message: &str) -> Response {
    ApiError::new(ErrorKind::Unauthorized, message).into_response()
}

/// The `filesAcl` action a request under `/api/v1/projects/{project}/` needs (`tail` is the path after
/// the project). Reads are listed; everything else needs WRITE, so a route added later without an entry
/// here fails closed.
pub fn files_action(method: &Method, tail: &str) -> FilesAction {
    const POST_READS: [&str; 5] = [
        "files/byids",
        "files/list",
        "files/search",
        "files/aggregate",
        "files/downloadlink",
    ];
    if method == Method::GET || method == Method::HEAD || POST_READS.contains(&tail) {
        FilesAction::Read
    } else {
        FilesAction::Write
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_listed_and_everything_else_writes() {
        for (method, tail, action) in [
            (Method::GET, "files", FilesAction::Read),
            (Method::GET, "files/123", FilesAction::Read),
            (Method::POST, "files/list", FilesAction::Read),
            (Method::POST, "files/downloadlink", FilesAction::Read),
            (Method::POST, "files", FilesAction::Write),
            (Method::POST, "files/", FilesAction::Write),
            (Method::POST, "files/update", FilesAction::Write),
            (
                Method::POST,
                "files/completemultipartupload",
                FilesAction::Write,
            ),
            (Method::POST, "files/something-new", FilesAction::Write),
            (Method::DELETE, "files/123", FilesAction::Write),
        ] {
            assert_eq!(files_action(&method, tail), action, "{method} {tail}");
        }
    }
}
