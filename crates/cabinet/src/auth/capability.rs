//! Capabilities in CDF's shape, `{"<acl>": {"actions": [...], "scope": {<one scope>}}}`: kept as given (so
//! `token/inspect` echoes them and ACLs cabinet does not know round-trip), with a parsed view of what
//! cabinet enforces.

use serde_json::Value;

/// What a request to the Files API needs, as `filesAcl` actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilesAction {
    /// Metadata reads, list, search, aggregate and download links.
    Read,
    /// Create, overwrite, update, delete and every upload call.
    Write,
}

impl FilesAction {
    /// The action's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            FilesAction::Read => "READ",
            FilesAction::Write => "WRITE",
        }
    }
}

/// One validated capability.
#[derive(Debug, Clone, PartialEq)]
pub struct Capability {
    /// The capability as configured: one object with exactly one ACL key.
    pub raw: Value,
    /// The ACL's name (`filesAcl`, `groupsAcl`, …).
    pub acl: String,
    /// Its actions, as given.
    pub actions: Vec<String>,
    /// The name of its scope (`all`, `currentuserscope`, …).
    pub scope: String,
}

impl Capability {
    /// Checks the shape, and for `filesAcl` (the ACL cabinet enforces) the actions and the scope. A
    /// `datasetScope` is refused rather than read as `all`: widening a grant silently is never an option.
    pub fn parse(raw: Value) -> Result<Self, String> {
        let Some(object) = raw.as_object() else {
            return Err("a capability must be a table such as { filesAcl = { ... } }".into());
        };
        let mut keys = object.keys();
        let (Some(acl), None) = (keys.next(), keys.next()) else {
            return Err(format!(
                "a capability must name exactly one ACL, found {}",
                object.len()
            ));
        };
        let body = &object[acl];
        let Some(body) = body.as_object() else {
            return Err(format!("{acl}: must be a table with actions and scope"));
        };
        if let Some(key) = body
            .keys()
            .find(|k| !matches!(k.as_str(), "actions" | "scope"))
        {
            return Err(format!(
                "{acl}: unknown key `{key}` (expected actions and scope)"
            ));
        }
        let actions = body
            .get("actions")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{acl}: actions must be a list of names"))?
            .iter()
            .map(|a| {
                a.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{acl}: every action must be a string"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if actions.is_empty() {
            return Err(format!("{acl}: actions must not be empty"));
        }
        let scope_table = body
            .get("scope")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("{acl}: scope must be a table such as {{ all = {{}} }}"))?;
        let mut scopes = scope_table.keys();
        let (Some(scope), None) = (scopes.next(), scopes.next()) else {
            return Err(format!("{acl}: scope must name exactly one scope"));
        };
        if acl == "filesAcl" {
            if let Some(bad) = actions
                .iter()
                .find(|a| !matches!(a.as_str(), "READ" | "WRITE"))
            {
                return Err(format!(
                    "filesAcl: unknown action `{bad}` (expected READ or WRITE)"
                ));
            }
            match scope.as_str() {
                "all" => {}
                "datasetScope" => {
                    return Err(
                        "filesAcl: datasetScope is not supported yet; only scope = { all = {} } \
                                is (a data-set scope is never widened to all)"
                            .into(),
                    )
                }
                other => return Err(format!("filesAcl: unknown scope `{other}` (expected all)")),
            }
        }
        Ok(Self {
            acl: acl.clone(),
            actions,
            scope: scope.clone(),
            raw,
        })
    }

    /// Whether this capability grants `action` on every file of its project.
    pub fn allows_files(&self, action: FilesAction) -> bool {
        self.acl == "filesAcl"
            && self.scope == "all"
            && self.actions.iter().any(|a| a == action.as_str())
    }

    /// Whether cabinet enforces this ACL (the others are kept and echoed, and grant nothing yet).
    pub fn is_enforced(&self) -> bool {
        self.acl == "filesAcl"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn files_acl_all_grants_its_actions_only() {
        let c = Capability::parse(json!({"filesAcl": {"actions": ["READ"], "scope": {"all": {}}}}))
            .expect("valid");
        assert!(c.allows_files(FilesAction::Read));
        assert!(!c.allows_files(FilesAction::Write));
    }

    #[test]
    fn other_acls_grant_no_files_access() {
        let c = Capability::parse(
            json!({"groupsAcl": {"actions": ["READ", "WRITE"], "scope": {"all": {}}}}),
        )
        .expect("valid");
        assert!(!c.allows_files(FilesAction::Read));
        assert!(!c.is_enforced());
    }

    #[test]
    fn dataset_scope_is_refused_not_widened() {
        let e = Capability::parse(
            json!({"filesAcl": {"actions": ["READ"], "scope": {"datasetScope": {"ids": [1]}}}}),
        )
        .expect_err("refused");
        assert!(e.contains("datasetScope is not supported yet"), "{e}");
    }

    #[test]
    fn malformed_capabilities_are_refused() {
        for (raw, needle) in [
            (
                json!({"filesAcl": {"actions": ["READ"], "scope": {"all": {}}}, "groupsAcl": {}}),
                "exactly one ACL",
            ),
            (
                json!({"filesAcl": {"actions": ["LIST"], "scope": {"all": {}}}}),
                "unknown action `LIST`",
            ),
            (json!({"filesAcl": {"actions": ["READ"]}}), "scope must be"),
            (
                json!({"filesAcl": {"actions": [], "scope": {"all": {}}}}),
                "must not be empty",
            ),
            (
                json!({"filesAcl": {"actions": ["READ"], "scope": {"all": {}}, "extra": 1}}),
                "unknown key `extra`",
            ),
            (
                json!({"filesAcl": {"actions": ["READ"], "scope": {"idscope": {}}}}),
                "unknown scope `idscope`",
            ),
        ] {
            let e = Capability::parse(raw.clone()).expect_err("refused");
            assert!(e.contains(needle), "{raw}: {e}");
        }
    }
}
