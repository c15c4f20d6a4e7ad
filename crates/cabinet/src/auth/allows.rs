//! Capability checks for the management endpoints (groups, security categories, the project): does the
//! caller hold `<acl>:<action>` in a project, with a scope that covers what it asks for. Files access has
//! its own, richer view ([`super::FilesAccess`]).

use serde_json::Value;

use super::{Capability, Principal};

/// What scope a call needs its capability to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeNeed<'a> {
    /// Any scope of the ACL will do (e.g. `groupsAcl:LIST` for the caller's own groups).
    Any,
    /// Scope `all`.
    All,
    /// `all`, or an `idscope` (any casing) listing every one of these ids.
    Ids(&'a [i64]),
    /// `all`, or a `datasetScope` (any casing) listing this data set (`None`: a resource in no data
    /// set, which only `all` covers), as `labelsAcl` scopes label definitions.
    DataSet(Option<i64>),
}

impl Principal {
    /// Whether the caller holds `action` of `acl` in `project` with a scope that meets `need`. In open
    /// mode every call is allowed.
    pub fn allows(&self, project: &str, acl: &str, action: &str, need: ScopeNeed<'_>) -> bool {
        match self {
            Principal::Open => true,
            Principal::Known { grants, .. } => grants
                .iter()
                .filter(|g| g.project == project)
                .flat_map(|g| &g.capabilities)
                .filter(|c| c.acl == acl && c.actions.iter().any(|a| a == action))
                .any(|c| covers(c, need)),
        }
    }
}

fn covers(capability: &Capability, need: ScopeNeed<'_>) -> bool {
    if capability.scope == "all" {
        return true;
    }
    match need {
        ScopeNeed::Any => true,
        ScopeNeed::All => false,
        ScopeNeed::Ids(ids) => {
            if !capability.scope.eq_ignore_ascii_case("idscope") {
                return false;
            }
            let listed = scope_ids(capability);
            ids.iter().all(|id| listed.contains(id))
        }
        ScopeNeed::DataSet(data_set) => {
            capability.scope.eq_ignore_ascii_case("datasetscope")
                && data_set.is_some_and(|id| scope_ids(capability).contains(&id))
        }
    }
}

/// The ids of an `idscope`, given as numbers or numeric strings.
fn scope_ids(capability: &Capability) -> Vec<i64> {
    capability.raw[&capability.acl]["scope"][&capability.scope]["ids"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|v| match v {
                    Value::Number(n) => n.as_i64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ProjectGrant;
    use serde_json::json;

    fn principal(caps: Vec<Value>) -> Principal {
        Principal::Known {
            subject: "s".into(),
            grants: vec![ProjectGrant {
                project: "p".into(),
                group_ids: vec![],
                capabilities: caps
                    .into_iter()
                    .map(|c| Capability::parse(c).expect("valid"))
                    .collect(),
            }],
        }
    }

    #[test]
    fn action_scope_and_project_must_all_match() {
        let p = principal(vec![
            json!({"groupsAcl": {"actions": ["LIST"], "scope": {"currentuserscope": {}}}}),
            json!({"securityCategoriesAcl": {"actions": ["DELETE"], "scope": {"idScope": {"ids": ["7", 8]}}}}),
            json!({"projectsAcl": {"actions": ["READ"], "scope": {"all": {}}}}),
        ]);
        assert!(p.allows("p", "groupsAcl", "LIST", ScopeNeed::Any));
        assert!(!p.allows("p", "groupsAcl", "LIST", ScopeNeed::All));
        assert!(!p.allows("p", "groupsAcl", "CREATE", ScopeNeed::Any));
        assert!(!p.allows("q", "projectsAcl", "READ", ScopeNeed::Any));
        assert!(p.allows("p", "projectsAcl", "READ", ScopeNeed::All));
        let del =
            |ids: &[i64]| p.allows("p", "securityCategoriesAcl", "DELETE", ScopeNeed::Ids(ids));
        assert!(del(&[7, 8]));
        assert!(!del(&[7, 9]));
        assert!(Principal::Open.allows("x", "groupsAcl", "DELETE", ScopeNeed::All));
    }
}
