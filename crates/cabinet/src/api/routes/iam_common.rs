//! What the IAM routes share: the capability check, the mapping of [`IamError`] to the envelope, and
//! the id lists of the delete bodies.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::access::FORBIDDEN_MESSAGE;
use crate::api::error::{ApiError, ErrorKind};
use crate::auth::{Principal, ScopeNeed};
use crate::domain::{ProjectName, MAX_ID};
use crate::store::iam::IamError;

/// The body of the IAM creates and deletes: `{"items": [...]}`, each item checked by the route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemsBody {
    /// The groups, categories or ids.
    pub items: Vec<Value>,
}

/// Most items in one IAM create or delete request.
pub const MAX_IAM_ITEMS: usize = 1000;

/// A 403 with CDF's text unless the caller holds `acl:action` in the project with a scope meeting `need`.
pub fn require(
    principal: &Principal,
    project: &ProjectName,
    acl: &str,
    action: &str,
    need: ScopeNeed<'_>,
) -> Result<(), ApiError> {
    if principal.allows(project.as_str(), acl, action, need) {
        return Ok(());
    }
    if let Principal::Known { subject, .. } = principal {
        tracing::info!(
            subject,
            project = project.as_str(),
            acl,
            action,
            "403: no capability for it"
        );
    }
    Err(ApiError::new(ErrorKind::Forbidden, FORBIDDEN_MESSAGE))
}

/// The envelope of a refused IAM write.
pub fn iam_error(e: IamError) -> ApiError {
    match e {
        IamError::Store(e) => e.into(),
        IamError::NameTaken(names) => ApiError {
            duplicated: names.into_iter().map(|n| json!({ "name": n })).collect(),
            ..ApiError::new(
                ErrorKind::Conflict,
                "Security categories with these names already exist; nothing was created",
            )
        },
        IamError::UnknownIds(ids) => ApiError {
            missing: ids.into_iter().map(|id| json!({ "id": id })).collect(),
            ..ApiError::bad_request("These ids do not exist in the project; nothing was deleted")
        },
        IamError::Limit(message) => ApiError::bad_request(message),
    }
}

/// The `items` of a delete body: 1 to [`MAX_IAM_ITEMS`] ids, each in 1..=2^53−1, in request order.
pub fn id_items(items: &[Value]) -> Result<Vec<i64>, ApiError> {
    if items.is_empty() || items.len() > MAX_IAM_ITEMS {
        return Err(ApiError::bad_request(format!(
            "items must hold 1 to {MAX_IAM_ITEMS} ids"
        )));
    }
    items
        .iter()
        .map(|v| {
            v.as_i64()
                .filter(|id| (1..=MAX_ID).contains(id))
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "items: `{v}` is not an id (an integer from 1 to {MAX_ID})"
                    ))
                })
        })
        .collect()
}
