//! `securityCategoriesAcl`: its shape in the configuration and on the wire, and what `MEMBEROF` grants on
//! files that carry security categories (spec `auth.md` §2.2 and §5.2).

use std::collections::BTreeSet;

use serde_json::{json, Value};

/// The ACL's name.
pub const ACL: &str = "securityCategoriesAcl";

/// The actions CDF defines for the ACL; only `MEMBEROF` concerns files.
const ACTIONS: [&str; 5] = ["MEMBEROF", "LIST", "CREATE", "UPDATE", "DELETE"];

/// A parsed `securityCategoriesAcl` scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedScope {
    /// `all` or `idscope` (CDF's spelling, whatever casing was given).
    pub scope: String,
    /// For `idscope`: the category ids it lists.
    pub ids: Option<BTreeSet<i64>>,
}

impl ParsedScope {
    /// The capability as echoed (token/inspect): `idscope` spelled as CDF and the Python SDK spell it,
    /// with numeric ids, because Python's `compare_capabilities` compares scope names and ids literally.
    pub fn echo(&self, actions: &[String]) -> Value {
        let scope = match &self.ids {
            Some(ids) => json!({ "idscope": { "ids": ids.iter().collect::<Vec<_>>() } }),
            None => json!({ "all": {} }),
        };
        json!({ ACL: { "actions": actions, "scope": scope } })
    }
}

/// Checks the actions and the scope (`scope_name` holding `scope`) of a `securityCategoriesAcl`: `all`,
/// or `idscope` in any casing with a non-empty `ids` list of positive ids, as numbers or numeric strings.
pub fn parse(actions: &[String], scope_name: &str, scope: &Value) -> Result<ParsedScope, String> {
    if let Some(bad) = actions.iter().find(|a| !ACTIONS.contains(&a.as_str())) {
        return Err(format!(
            "{ACL}: unknown action `{bad}` (expected MEMBEROF, LIST, CREATE, UPDATE or DELETE)"
        ));
    }
    if scope_name == "all" {
        return Ok(ParsedScope {
            scope: "all".into(),
            ids: None,
        });
    }
    if !scope_name.eq_ignore_ascii_case("idscope") {
        return Err(format!(
            "{ACL}: unknown scope `{scope_name}` (expected all or idscope)"
        ));
    }
    let bad = || {
        format!(
            "{ACL}: idscope must be {{ ids = [<security category id>, ...] }} with at least one id"
        )
    };
    let body = scope.as_object().ok_or_else(bad)?;
    if let Some(key) = body.keys().find(|k| k.as_str() != "ids") {
        return Err(format!(
            "{ACL}: idscope: unknown key `{key}` (expected ids)"
        ));
    }
    let ids = body.get("ids").and_then(Value::as_array).ok_or_else(bad)?;
    if ids.is_empty() {
        return Err(bad());
    }
    let ids = ids
        .iter()
        .map(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .filter(|id| *id > 0)
                .ok_or_else(|| format!("{ACL}: idscope: `{v}` is not a security category id"))
        })
        .collect::<Result<BTreeSet<i64>, String>>()?;
    Ok(ParsedScope {
        scope: "idscope".into(),
        ids: Some(ids),
    })
}

/// Which security categories a principal is a member of (`MEMBEROF`) in one project: which files with
/// categories it may see and change, on top of its `filesAcl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CategoryAccess {
    /// `MEMBEROF` with scope `all` (and open mode): every category.
    All,
    /// The categories listed by `MEMBEROF` idscopes; empty without any `MEMBEROF`, which leaves only
    /// files without categories.
    Only(BTreeSet<i64>),
}

impl Default for CategoryAccess {
    /// No membership at all: fail closed.
    fn default() -> Self {
        CategoryAccess::Only(BTreeSet::new())
    }
}

impl CategoryAccess {
    /// The union of two grants; `all` wins.
    pub fn union(self, other: CategoryAccess) -> CategoryAccess {
        match (self, other) {
            (CategoryAccess::All, _) | (_, CategoryAccess::All) => CategoryAccess::All,
            (CategoryAccess::Only(mut a), CategoryAccess::Only(b)) => {
                a.extend(b);
                CategoryAccess::Only(a)
            }
        }
    }

    /// Whether it covers a file with these categories: membership of every one of them (a file with
    /// several categories needs them all; spec §5.2 recommends failing closed).
    pub fn covers(&self, categories: &[i64]) -> bool {
        match self {
            CategoryAccess::All => true,
            CategoryAccess::Only(ids) => categories.iter().all(|c| ids.contains(c)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actions(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn idscope_in_any_casing_with_numbers_or_strings_is_echoed_as_cdf_spells_it() {
        for name in ["idscope", "idScope", "IDSCOPE"] {
            let p = parse(
                &actions(&["MEMBEROF"]),
                name,
                &json!({"ids": [7, "3", " 5 "]}),
            )
            .expect("valid");
            assert_eq!(p.scope, "idscope");
            assert_eq!(p.ids, Some([3, 5, 7].into()));
            assert_eq!(
                p.echo(&actions(&["MEMBEROF"])),
                json!({ACL: {"actions": ["MEMBEROF"], "scope": {"idscope": {"ids": [3, 5, 7]}}}})
            );
        }
        let all = parse(&actions(&["LIST", "MEMBEROF"]), "all", &json!({})).expect("valid");
        assert_eq!(all.ids, None);
    }

    #[test]
    fn bad_shapes_are_refused_with_a_reason() {
        for (acts, name, scope, needle) in [
            (&["READ"][..], "all", json!({}), "unknown action `READ`"),
            (
                &["MEMBEROF"][..],
                "datasetScope",
                json!({"ids": [1]}),
                "unknown scope",
            ),
            (
                &["MEMBEROF"][..],
                "idscope",
                json!({"ids": []}),
                "at least one id",
            ),
            (&["MEMBEROF"][..], "idscope", json!({}), "at least one id"),
            (
                &["MEMBEROF"][..],
                "idscope",
                json!({"ids": ["x"]}),
                "not a security category id",
            ),
            (
                &["MEMBEROF"][..],
                "idscope",
                json!({"ids": [0]}),
                "not a security category id",
            ),
            (
                &["MEMBEROF"][..],
                "idscope",
                json!({"ids": [1], "y": 2}),
                "unknown key `y`",
            ),
        ] {
            let e = parse(&actions(acts), name, &scope).expect_err("refused");
            assert!(e.contains(needle), "{name} {scope}: {e}");
        }
    }

    #[test]
    fn membership_must_cover_every_category_of_a_file() {
        let a = CategoryAccess::Only([1].into());
        assert!(a.covers(&[]) && a.covers(&[1]));
        assert!(!a.covers(&[1, 2]) && !a.covers(&[2]));
        assert!(CategoryAccess::default().covers(&[]));
        assert!(!CategoryAccess::default().covers(&[1]));
        assert!(CategoryAccess::All.covers(&[1, 2]));
        let ab = a.clone().union(CategoryAccess::Only([2].into()));
        assert!(ab.covers(&[1, 2]));
        assert_eq!(a.union(CategoryAccess::All), CategoryAccess::All);
    }
}
