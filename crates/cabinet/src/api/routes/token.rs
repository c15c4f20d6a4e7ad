//! `GET /api/v1/token/inspect`: the Python SDK calls it after a 401 to word its error, and for
//! `iam.token.inspect()` and `iam.verify_capabilities()`; CDF tooling calls it to see what a token may do.
//! It describes the caller only, so any authenticated caller may call it.

use axum::{Extension, Json};
use serde_json::{json, Map, Value};

use crate::auth::Principal;

/// The caller's subject, its projects with its group ids there, and its capabilities, each with the
/// `projectScope` the Python SDK requires. In open mode, full files access to every project.
pub async fn inspect_token(Extension(principal): Extension<Principal>) -> Json<Value> {
    let Principal::Known { subject, grants } = principal else {
        return Json(json!({
            "subject": "anonymous",
            "projects": [],
            "capabilities": [{"filesAcl": {"actions": ["READ", "WRITE"], "scope": {"all": {}}}, "projectScope": {"allProjects": {}}}]
        }));
    };
    let projects: Vec<Value> = grants
        .iter()
        .map(|g| json!({"projectUrlName": g.project, "groups": g.group_ids}))
        .collect();
    let capabilities: Vec<Value> = grants
        .iter()
        .flat_map(|g| {
            g.capabilities.iter().map(|c| {
                let mut entry: Map<String, Value> = c.raw.as_object().cloned().unwrap_or_default();
                entry.insert(
                    "projectScope".into(),
                    json!({"projects": [g.project.clone()]}),
                );
                Value::Object(entry)
            })
        })
        .collect();
    Json(json!({"subject": subject, "projects": projects, "capabilities": capabilities}))
}
