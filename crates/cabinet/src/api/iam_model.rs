//! The wire shapes of the IAM endpoints: a group spec as clients send it (validated as auth.md §2.1
//! says), a group as CDF returns it, and the normalization of capability scopes that lets the Python
//! SDK's `verify_capabilities` compare what it asked for with what it got.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::error::ApiError;
use crate::auth::{Capability, Group};
use crate::domain::MAX_ID;
use crate::store::iam::{AllUserAccounts, Members, NewGroup, StoredGroup};

/// Longest group name, in characters.
pub const MAX_GROUP_NAME: usize = 255;
/// Longest `sourceId`, in characters (CDF states none; an IdP group id is far shorter).
pub const MAX_SOURCE_ID: usize = 255;
/// Most subjects in `members`.
pub const MAX_MEMBERS: usize = 100;
/// Most entries in `attributes.token.appIds`.
pub const MAX_APP_IDS: usize = 255;
/// Most metadata pairs of a group.
pub const MAX_GROUP_METADATA_PAIRS: usize = 16;
/// Longest metadata key of a group, in bytes.
pub const MAX_GROUP_METADATA_KEY: usize = 32;
/// Longest metadata value of a group, in bytes.
pub const MAX_GROUP_METADATA_VALUE: usize = 512;
/// Most bytes of a group's metadata keys and values together.
pub const MAX_GROUP_METADATA_TOTAL: usize = 4096;
/// Most capabilities of one group (CDF states none; this keeps a group's row and every snapshot small).
pub const MAX_CAPABILITIES: usize = 1000;

fn bad(at: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("{at}: {message}"))
}

/// A `GroupSpec` of `POST /groups`, validated; `at` names it in errors (`items[3]`).
pub fn parse_group_spec(raw: &Value, at: &str) -> Result<NewGroup, ApiError> {
    let object = raw
        .as_object()
        .ok_or_else(|| bad(at, "a group must be an object"))?;
    if let Some(key) = object.keys().find(|k| {
        !matches!(
            k.as_str(),
            "name" | "sourceId" | "members" | "capabilities" | "metadata" | "attributes"
        )
    }) {
        return Err(bad(at, format!("unknown property `{key}`")));
    }
    let name = match object.get("name") {
        Some(Value::String(n)) if !n.trim().is_empty() && n.chars().count() <= MAX_GROUP_NAME => {
            n.clone()
        }
        _ => {
            return Err(bad(
                at,
                format!("name is required: a string of 1 to {MAX_GROUP_NAME} characters"),
            ))
        }
    };
    let source_id = match object.get("sourceId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) if s.chars().count() <= MAX_SOURCE_ID => Some(s.clone()),
        Some(_) => {
            return Err(bad(
                at,
                format!("sourceId must be a string of at most {MAX_SOURCE_ID} characters"),
            ))
        }
    };
    let members = match object.get("members") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s == "allUserAccounts" => {
            Some(Members::All(AllUserAccounts::AllUserAccounts))
        }
        Some(Value::Array(items)) if items.len() <= MAX_MEMBERS => Some(Members::Subjects(
            items
                .iter()
                .map(|m| match m {
                    Value::String(s) if !s.is_empty() && s.len() <= 255 => Ok(s.clone()),
                    _ => Err(bad(at, "members: every member must be a principal id (a non-empty string)")),
                })
                .collect::<Result<_, _>>()?,
        )),
        Some(_) => {
            return Err(bad(
                at,
                format!("members must be \"allUserAccounts\" or a list of at most {MAX_MEMBERS} principal ids"),
            ))
        }
    };
    if source_id.is_some() && members.is_some() {
        return Err(bad(
            at,
            "sourceId and members are mutually exclusive: a group is managed by the identity provider or in cabinet, not both",
        ));
    }
    let capabilities = match object.get("capabilities") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) if items.len() <= MAX_CAPABILITIES => items
            .iter()
            .enumerate()
            .map(|(i, c)| {
                normalize_capability(c).map_err(|e| bad(&format!("{at}.capabilities[{i}]"), e))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(bad(
                at,
                format!("capabilities must be a list of at most {MAX_CAPABILITIES} capabilities"),
            ))
        }
    };
    let metadata = parse_metadata(object.get("metadata"), at)?;
    let app_ids = parse_attributes(object.get("attributes"), at)?;
    Ok(NewGroup {
        name,
        source_id,
        members,
        capabilities,
        metadata,
        app_ids,
    })
}

fn parse_metadata(raw: Option<&Value>, at: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let object = match raw {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(o)) => o,
        Some(_) => return Err(bad(at, "metadata must be an object of strings")),
    };
    if object.len() > MAX_GROUP_METADATA_PAIRS {
        return Err(bad(
            at,
            format!("metadata holds at most {MAX_GROUP_METADATA_PAIRS} pairs"),
        ));
    }
    let mut total = 0;
    let mut out = BTreeMap::new();
    for (key, value) in object {
        let Value::String(value) = value else {
            return Err(bad(at, format!("metadata.{key} must be a string")));
        };
        if key.is_empty() || key.len() > MAX_GROUP_METADATA_KEY {
            return Err(bad(
                at,
                format!("metadata keys are 1 to {MAX_GROUP_METADATA_KEY} bytes"),
            ));
        }
        if value.len() > MAX_GROUP_METADATA_VALUE {
            return Err(bad(
                at,
                format!("metadata values are at most {MAX_GROUP_METADATA_VALUE} bytes"),
            ));
        }
        total += key.len() + value.len();
        out.insert(key.clone(), value.clone());
    }
    if total > MAX_GROUP_METADATA_TOTAL {
        return Err(bad(
            at,
            format!("metadata is at most {MAX_GROUP_METADATA_TOTAL} bytes in all"),
        ));
    }
    Ok(out)
}

/// `attributes: {"token": {"appIds": [...]}}`; `None` when absent or null (every application).
fn parse_attributes(raw: Option<&Value>, at: &str) -> Result<Option<Vec<String>>, ApiError> {
    let shape = || {
        bad(
            at,
            format!("attributes must be {{\"token\": {{\"appIds\": [<at most {MAX_APP_IDS} application ids>]}}}}"),
        )
    };
    let object = match raw {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(o)) => o,
        Some(_) => return Err(shape()),
    };
    if object.keys().any(|k| k != "token") {
        return Err(shape());
    }
    let token = match object.get("token") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(t)) if t.keys().all(|k| k == "appIds") => t,
        Some(_) => return Err(shape()),
    };
    match token.get("appIds") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(ids)) if ids.len() <= MAX_APP_IDS => ids
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(shape))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(shape()),
    }
}

/// Checks one capability and returns it as cabinet stores and echoes it: `filesAcl` as the
/// configuration checks it; `securityCategoriesAcl` with its actions and an `all` or `idscope` scope;
/// the id scope of `securityCategoriesAcl` spelled `idscope` and of `datasetsAcl` `idScope` (the
/// spellings the Python SDK compares against), ids as JSON numbers. Other ACLs are kept as given.
pub fn normalize_capability(raw: &Value) -> Result<Value, String> {
    // `Capability::parse` checks `filesAcl` and `securityCategoriesAcl` (actions, scope, ids) and
    // already spells the latter's id scope `idscope`; what is left here is the other ACLs' spelling.
    let parsed = Capability::parse(raw.clone())?;
    let mut out = parsed.raw.clone();
    let acl = parsed.acl.as_str();
    let scope = parsed.scope.as_str();
    let is_id_scope = scope.eq_ignore_ascii_case("idscope");
    let spelling = match acl {
        "securityCategoriesAcl" if is_id_scope => Some("idscope"),
        "datasetsAcl" if is_id_scope => Some("idScope"),
        "filesAcl" if scope == "datasetScope" => Some("datasetScope"),
        _ => None,
    };
    if let Some(spelling) = spelling {
        let body = &parsed.raw[acl]["scope"][scope];
        let ids = id_list(body).ok_or_else(|| {
            format!("{acl}: {spelling} must be {{\"ids\": [<id>, ...]}} with at least one id from 1 to {MAX_ID}")
        })?;
        out[acl]["scope"] = json!({ spelling: { "ids": ids } });
    }
    Ok(out)
}

/// A non-empty list of ids in 1..=2^53−1, numbers or numeric strings; `None` if it is anything else.
fn id_list(body: &Value) -> Option<Vec<i64>> {
    let object = body.as_object()?;
    if object.keys().any(|k| k != "ids") {
        return None;
    }
    let ids = object.get("ids")?.as_array()?;
    if ids.is_empty() {
        return None;
    }
    ids.iter()
        .map(|v| match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
        .map(|id| id.filter(|id| (1..=MAX_ID).contains(id)))
        .collect()
}

/// A stored group in CDF's shape: `sourceId` is `""` for a group managed by `members`, and `members` is
/// left out for a group managed by the identity provider.
pub fn stored_group_view(stored: &StoredGroup) -> Value {
    let g = &stored.group;
    let mut view = Map::new();
    view.insert("id".into(), json!(stored.id));
    view.insert("name".into(), json!(g.name));
    view.insert(
        "sourceId".into(),
        json!(g.source_id.clone().unwrap_or_default()),
    );
    if g.source_id.is_none() {
        if let Some(members) = &g.members {
            view.insert("members".into(), json!(members));
        }
    }
    view.insert("capabilities".into(), json!(g.capabilities));
    view.insert("metadata".into(), json!(g.metadata));
    if let Some(app_ids) = &g.app_ids {
        view.insert("attributes".into(), json!({"token": {"appIds": app_ids}}));
    }
    view.insert("isDeleted".into(), json!(false));
    Value::Object(view)
}

/// A configured group in the same shape, its capabilities normalized as a created group's would be.
pub fn configured_group_view(group: &Group) -> Value {
    let mut view = Map::new();
    view.insert("id".into(), json!(group.id));
    view.insert("name".into(), json!(group.name));
    view.insert(
        "sourceId".into(),
        json!(group.source_id.clone().unwrap_or_default()),
    );
    if group.source_id.is_none() {
        view.insert("members".into(), json!(group.members));
    }
    let capabilities: Vec<Value> = group
        .capabilities
        .iter()
        .map(|c| normalize_capability(&c.raw).unwrap_or_else(|_| c.raw.clone()))
        .collect();
    view.insert("capabilities".into(), Value::Array(capabilities));
    view.insert("metadata".into(), json!({}));
    view.insert("isDeleted".into(), json!(false));
    Value::Object(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_spelled_as_the_python_sdk_compares_them() {
        let sc = normalize_capability(
            &json!({"securityCategoriesAcl": {"actions": ["MEMBEROF"], "scope": {"idScope": {"ids": ["7", 8]}}}}),
        )
        .expect("valid");
        assert_eq!(
            sc,
            json!({"securityCategoriesAcl": {"actions": ["MEMBEROF"], "scope": {"idscope": {"ids": [7, 8]}}}})
        );
        let ds = normalize_capability(
            &json!({"datasetsAcl": {"actions": ["READ"], "scope": {"idscope": {"ids": [1]}}}}),
        )
        .expect("valid");
        assert_eq!(ds["datasetsAcl"]["scope"], json!({"idScope": {"ids": [1]}}));
        let unknown =
            json!({"timeSeriesAcl": {"actions": ["READ"], "scope": {"whatever": {"x": 1}}}});
        assert_eq!(normalize_capability(&unknown).expect("kept"), unknown);
        for bad in [
            json!({"securityCategoriesAcl": {"actions": ["READ"], "scope": {"all": {}}}}),
            json!({"securityCategoriesAcl": {"actions": ["LIST"], "scope": {"datasetScope": {"ids": [1]}}}}),
            json!({"securityCategoriesAcl": {"actions": ["LIST"], "scope": {"idscope": {"ids": []}}}}),
            json!({"filesAcl": {"actions": ["READ"], "scope": {"all": {}}}, "groupsAcl": {}}),
        ] {
            assert!(normalize_capability(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn group_specs_are_checked_as_cdf_documents() {
        let ok = parse_group_spec(
            &json!({"name": "g", "members": "allUserAccounts", "metadata": {"k": "v"},
                    "attributes": {"token": {"appIds": ["a"]}}}),
            "items[0]",
        )
        .expect("valid");
        assert_eq!(
            ok.members,
            Some(Members::All(AllUserAccounts::AllUserAccounts))
        );
        assert_eq!(ok.app_ids, Some(vec!["a".to_string()]));
        let long_key = "k".repeat(33);
        for (spec, needle) in [
            (json!({}), "name is required"),
            (json!({"name": "n".repeat(256)}), "name is required"),
            (
                json!({"name": "g", "sourceId": "s", "members": ["a"]}),
                "mutually exclusive",
            ),
            (
                json!({"name": "g", "members": "everyone"}),
                "members must be",
            ),
            (
                json!({"name": "g", "metadata": {long_key: "v"}}),
                "metadata keys",
            ),
            (
                json!({"name": "g", "metadata": {"k": 1}}),
                "must be a string",
            ),
            (
                json!({"name": "g", "colour": 1}),
                "unknown property `colour`",
            ),
            (
                json!({"name": "g", "attributes": {"token": {"appIds": "a"}}}),
                "attributes must be",
            ),
        ] {
            let e = parse_group_spec(&spec, "items[0]").expect_err("refused");
            assert!(e.message.contains(needle), "{spec}: {}", e.message);
        }
    }
}
