//! `GET /api/v1/token/inspect`: the Python SDK calls it after a 401 to word its error; CDF tooling calls it
//! to see what a token may do.

use axum::Json;
use serde_json::{json, Value};

/// Until authentication lands, every token is an administrator of every project.
pub async fn inspect_token() -> Json<Value> {
    Json(json!({
        "subject": "anonymous",
        "projects": [],
        "capabilities": [{"filesAcl": {"actions": ["READ", "WRITE"], "scope": {"all": {}}}, "projectScope": {"allProjects": {}}}]
    }))
}
