//! `GET /api/v1/projects/{project}`: the project in CDF's shape, its `oidcConfiguration` echoing the
//! configured identity provider (JS `client.projects.retrieve`, and tools that read the IdP settings).

use axum::extract::State;
use axum::{Extension, Json};
use serde_json::{json, Map, Value};

use crate::api::access::FORBIDDEN_MESSAGE;
use crate::api::error::{ApiError, ErrorKind};
use crate::api::AppState;
use crate::auth::{Oidc, Principal, ScopeNeed};
use crate::domain::ProjectName;

/// The project (projectsAcl READ or LIST, any scope). In open mode every project exists and has no
/// identity provider.
pub async fn get_project(
    State(app): State<AppState>,
    project: ProjectName,
    Extension(principal): Extension<Principal>,
) -> Result<Json<Value>, ApiError> {
    let name = project.as_str();
    if !["READ", "LIST"]
        .iter()
        .any(|action| principal.allows(name, "projectsAcl", action, ScopeNeed::Any))
    {
        return Err(ApiError::new(ErrorKind::Forbidden, FORBIDDEN_MESSAGE));
    }
    let mut body = json!({
        "name": name,
        "urlName": name,
        "userProfilesConfiguration": {"enabled": false},
    });
    if let Some(oidc) = app
        .access
        .as_ref()
        .and_then(|a| a.projects.get(name))
        .and_then(|p| p.oidc.as_ref())
    {
        body["oidcConfiguration"] = oidc_configuration(oidc);
    }
    Ok(Json(body))
}

/// CDF's `oidcConfiguration` in camel case. A `jwks_file` has no URL to show; `jwksUrl` is then `""`.
fn oidc_configuration(oidc: &Oidc) -> Value {
    let claims = |names: &[String]| -> Vec<Value> {
        names.iter().map(|n| json!({ "claimName": n })).collect()
    };
    let mut out = Map::new();
    out.insert(
        "jwksUrl".into(),
        json!(oidc.jwks_url.clone().unwrap_or_default()),
    );
    out.insert("issuer".into(), json!(oidc.issuer));
    out.insert("audience".into(), json!(oidc.audience));
    out.insert("accessClaims".into(), json!(claims(&oidc.access_claims)));
    out.insert("scopeClaims".into(), json!(claims(&oidc.scope_claims)));
    out.insert("logClaims".into(), json!([]));
    out.insert("skewMs".into(), json!(oidc.skew_ms));
    Value::Object(out)
}
