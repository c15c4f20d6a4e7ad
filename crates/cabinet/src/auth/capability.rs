//! Capabilities in CDF's shape, `{"<acl>": {"actions": [...], "scope": {<one scope>}}}`: kept as given (so
//! `token/inspect` echoes them and ACLs cabinet does not know round-trip), with a parsed view of what
//! cabinet enforces.

use std::collections::BTreeSet;

use serde_json::Value;

use super::categories::CategoryAccess;

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
    /// For a `filesAcl` with `datasetScope`: the data-set ids it covers (`None` for every other scope).
    pub data_sets: Option<BTreeSet<i64>>,
    /// For a `securityCategoriesAcl` with `idscope`: the category ids it covers (`None` for every other
    /// scope).
    pub categories: Option<BTreeSet<i64>>,
}

impl Capability {
    /// Checks the shape, and for `filesAcl` (the ACL cabinet enforces) the actions and the scope: `all`,
    /// or `datasetScope` with its `ids` (numbers or numeric strings, as CDF and the Python SDK send them;
    /// at least one). `securityCategoriesAcl` is checked the same way ([`super::categories`]), and its
    /// `idscope` is echoed as CDF spells it.
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
        let mut data_sets = None;
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
                "datasetScope" => data_sets = Some(dataset_ids(&scope_table[scope])?),
                other => {
                    return Err(format!(
                        "filesAcl: unknown scope `{other}` (expected all or datasetScope)"
                    ))
                }
            }
        }
        let mut scope = scope.clone();
        let mut categories = None;
        let mut raw = raw.clone();
        if acl == super::categories::ACL {
            let parsed = super::categories::parse(&actions, &scope, &scope_table[&scope])?;
            raw = parsed.echo(&actions);
            scope = parsed.scope;
            categories = parsed.ids;
        }
        Ok(Self {
            acl: acl.clone(),
            actions,
            scope,
            data_sets,
            categories,
            raw,
        })
    }

    /// Whether this capability grants `action` on every file of its project.
    pub fn allows_files(&self, action: FilesAction) -> bool {
        self.acl == "filesAcl"
            && self.scope == "all"
            && self.actions.iter().any(|a| a == action.as_str())
    }

    /// What this capability grants for `action` on files: nothing, every file, or the files of some data
    /// sets.
    pub fn files_access(&self, action: FilesAction) -> FilesAccess {
        if self.acl != "filesAcl" || !self.actions.iter().any(|a| a == action.as_str()) {
            return FilesAccess::None;
        }
        match (&self.data_sets, self.scope.as_str()) {
            (Some(ids), _) => FilesAccess::DataSets(ids.clone()),
            (None, "all") => FilesAccess::All,
            _ => FilesAccess::None,
        }
    }

    /// What this capability makes its holder a member of: every category (`MEMBEROF` on `all`), the
    /// listed ones (`MEMBEROF` on `idscope`), or none.
    pub fn category_access(&self) -> CategoryAccess {
        if self.acl != super::categories::ACL || !self.actions.iter().any(|a| a == "MEMBEROF") {
            return CategoryAccess::default();
        }
        match (&self.categories, self.scope.as_str()) {
            (Some(ids), _) => CategoryAccess::Only(ids.clone()),
            (None, "all") => CategoryAccess::All,
            _ => CategoryAccess::default(),
        }
    }

    /// Whether cabinet enforces this ACL (the others are kept and echoed, and grant nothing yet).
    pub fn is_enforced(&self) -> bool {
        self.acl == "filesAcl"
            || self.acl == super::categories::ACL
            || self.acl == "datasetsAcl"
            || self.acl == "labelsAcl"
    }
}

/// A principal's files access for one action in one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilesAccess {
    /// No capability grants the action.
    None,
    /// Every file of the project (`all`, which also covers files without a data set).
    All,
    /// Only files whose `dataSetId` is one of these (never a file without a data set).
    DataSets(BTreeSet<i64>),
}

impl FilesAccess {
    /// The union of two grants; `all` wins.
    pub fn union(self, other: FilesAccess) -> FilesAccess {
        match (self, other) {
            (FilesAccess::All, _) | (_, FilesAccess::All) => FilesAccess::All,
            (FilesAccess::None, x) | (x, FilesAccess::None) => x,
            (FilesAccess::DataSets(mut a), FilesAccess::DataSets(b)) => {
                a.extend(b);
                FilesAccess::DataSets(a)
            }
        }
    }

    /// Whether it covers a file in `data_set` (`None`: a file without a data set, covered only by `all`).
    pub fn covers(&self, data_set: Option<i64>) -> bool {
        match self {
            FilesAccess::None => false,
            FilesAccess::All => true,
            FilesAccess::DataSets(ids) => data_set.is_some_and(|d| ids.contains(&d)),
        }
    }
}

/// The `ids` of a `datasetScope`: a non-empty list of positive ids, as numbers or numeric strings.
fn dataset_ids(scope: &Value) -> Result<BTreeSet<i64>, String> {
    let bad = || {
        "filesAcl: datasetScope must be { ids = [<data set id>, ...] } with at least one id"
            .to_string()
    };
    let body = scope.as_object().ok_or_else(bad)?;
    if let Some(key) = body.keys().find(|k| k.as_str() != "ids") {
        return Err(format!(
            "filesAcl: datasetScope: unknown key `{key}` (expected ids)"
        ));
    }
    let ids = body.get("ids").and_then(Value::as_array).ok_or_else(bad)?;
    if ids.is_empty() {
        return Err(bad());
    }
    ids.iter()
        .map(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .filter(|id| *id > 0)
                .ok_or_else(|| format!("filesAcl: datasetScope: `{v}` is not a data set id"))
        })
        .collect()
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
    fn dataset_scope_reads_its_ids_and_grants_only_them() {
        let c = Capability::parse(
            json!({"filesAcl": {"actions": ["READ"], "scope": {"datasetScope": {"ids": [1, "7"]}}}}),
        )
        .expect("valid");
        let ids = FilesAccess::DataSets([1, 7].into());
        assert_eq!(c.files_access(FilesAction::Read), ids);
        assert_eq!(c.files_access(FilesAction::Write), FilesAccess::None);
        assert!(
            !c.allows_files(FilesAction::Read),
            "a data-set scope is not `all`"
        );
        assert!(ids.covers(Some(7)) && !ids.covers(Some(2)) && !ids.covers(None));
        for bad in [
            json!({"ids": []}),
            json!({"ids": ["x"]}),
            json!({"ids": [0]}),
            json!({}),
            json!({"ids": [1], "x": 1}),
        ] {
            let raw = json!({"filesAcl": {"actions": ["READ"], "scope": {"datasetScope": bad}}});
            assert!(Capability::parse(raw.clone()).is_err(), "{raw}");
        }
    }

    #[test]
    fn security_categories_acl_is_parsed_and_echoed_in_cdf_spelling() {
        let c = Capability::parse(json!({"securityCategoriesAcl": {
            "actions": ["MEMBEROF", "LIST"], "scope": {"idScope": {"ids": ["12", 3]}}}}))
        .expect("valid");
        assert!(c.is_enforced());
        assert_eq!(c.scope, "idscope");
        assert_eq!(c.category_access(), CategoryAccess::Only([3, 12].into()));
        assert_eq!(c.files_access(FilesAction::Read), FilesAccess::None);
        assert_eq!(
            c.raw,
            json!({"securityCategoriesAcl": {
                "actions": ["MEMBEROF", "LIST"], "scope": {"idscope": {"ids": [3, 12]}}}})
        );
        let all = Capability::parse(
            json!({"securityCategoriesAcl": {"actions": ["MEMBEROF"], "scope": {"all": {}}}}),
        )
        .expect("valid");
        assert_eq!(all.category_access(), CategoryAccess::All);
        let list_only = Capability::parse(
            json!({"securityCategoriesAcl": {"actions": ["LIST"], "scope": {"all": {}}}}),
        )
        .expect("valid");
        assert_eq!(list_only.category_access(), CategoryAccess::default());
        for (raw, needle) in [
            (
                json!({"securityCategoriesAcl": {"actions": ["READ"], "scope": {"all": {}}}}),
                "unknown action `READ`",
            ),
            (
                json!({"securityCategoriesAcl": {"actions": ["MEMBEROF"], "scope": {"idscope": {"ids": []}}}}),
                "at least one id",
            ),
            (
                json!({"securityCategoriesAcl": {"actions": ["MEMBEROF"], "scope": {"datasetScope": {"ids": [1]}}}}),
                "unknown scope",
            ),
        ] {
            let e = Capability::parse(raw.clone()).expect_err("refused");
            assert!(e.contains(needle), "{raw}: {e}");
        }
    }

    #[test]
    fn files_access_unions_and_all_wins() {
        let a = FilesAccess::DataSets([1].into());
        let b = FilesAccess::DataSets([2].into());
        assert_eq!(a.clone().union(b), FilesAccess::DataSets([1, 2].into()));
        assert_eq!(a.clone().union(FilesAccess::All), FilesAccess::All);
        assert_eq!(FilesAccess::None.union(a.clone()), a);
        assert_eq!(
            FilesAccess::None.union(FilesAccess::None),
            FilesAccess::None
        );
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
