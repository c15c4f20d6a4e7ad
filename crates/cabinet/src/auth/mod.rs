//! Access control the CDF way: who a bearer token is (a [`Principal`]) and what its groups allow.
//!
//! Without an [`AccessConfig`] the server runs in open mode (any bearer token, every project); with one,
//! only configured projects exist for clients, and a token must be one of a project's service tokens or
//! a JWT its identity provider signed ([`oidc`], with keys from [`jwks`]).

mod allows;
pub mod capability;
pub mod categories;
pub mod directory;
pub mod jwks;
mod membership;
pub mod oidc;
pub mod scope;

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use allows::ScopeNeed;
pub use capability::{Capability, FilesAccess, FilesAction};
pub use categories::CategoryAccess;
pub use scope::FileScope;

/// The access rules of a server: its projects, their groups and service tokens.
#[derive(Debug, Clone, Default)]
pub struct AccessConfig {
    /// Projects by URL name; a project not here answers 401 to every token.
    pub projects: BTreeMap<String, ProjectAccess>,
}

/// One project's identity provider, groups and service tokens.
#[derive(Debug, Clone)]
pub struct ProjectAccess {
    /// The project's URL name.
    pub name: String,
    /// The project's identity provider, when it has one.
    pub oidc: Option<Oidc>,
    /// The project's groups, in configuration order.
    pub groups: Vec<Group>,
    /// Static tokens for scripts and CI, by hash.
    pub service_tokens: Vec<ServiceToken>,
}

/// A project's OIDC settings, CDF's `oidcConfiguration` in snake case.
#[derive(Debug, Clone)]
pub struct Oidc {
    /// Where the signing keys are published (or `None` with [`Oidc::jwks_file`]).
    pub jwks_url: Option<String>,
    /// A local JWKS for sites without a reachable IdP.
    pub jwks_file: Option<std::path::PathBuf>,
    /// The expected `iss`.
    pub issuer: String,
    /// The expected `aud`.
    pub audience: String,
    /// Claims whose values are matched against groups' `source_id`.
    pub access_claims: Vec<String>,
    /// Claims holding token scopes.
    pub scope_claims: Vec<String>,
    /// Allowed clock skew on `exp` and `nbf`, in milliseconds.
    pub skew_ms: u64,
    /// The client id of the web console's authorization-code sign-in (`/console/config.json`).
    pub console_client_id: Option<String>,
    /// The signing keys, shared by every clone of the configuration.
    pub keys: std::sync::Arc<jwks::KeyCache>,
}

/// A group: who is in it, and what it may do.
#[derive(Debug, Clone, Default)]
pub struct Group {
    /// A stable id derived from the project and the group name (see [`group_id`]).
    pub id: i64,
    /// Unique within the project.
    pub name: String,
    /// IdP group id matched against the access claims of OIDC tokens.
    pub source_id: Option<String>,
    /// Subjects (service-token subjects or a token's `sub`) that are members.
    pub members: Vec<String>,
    /// What members may do.
    pub capabilities: Vec<Capability>,
    /// `members = "allUserAccounts"`: every principal authenticated for the project is a member.
    pub all_user_accounts: bool,
    /// `attributes.token.appIds`: only tokens of these applications are members (`None`: any).
    pub app_ids: Option<Vec<String>>,
}

/// A static bearer token, stored as its SHA-256 only.
#[derive(Debug, Clone)]
pub struct ServiceToken {
    /// The principal it authenticates as.
    pub subject: String,
    /// SHA-256 of the token.
    pub sha256: [u8; 32],
    /// Groups (by name) it is a member of, besides those listing its subject in `members`.
    pub groups: Vec<String>,
}

/// What an authenticated caller may do in one project.
#[derive(Debug, Clone)]
pub struct ProjectGrant {
    /// The project's URL name.
    pub project: String,
    /// Ids of the caller's groups there.
    pub group_ids: Vec<i64>,
    /// The union of those groups' capabilities.
    pub capabilities: Vec<Capability>,
}

/// The caller of a request.
#[derive(Debug, Clone)]
pub enum Principal {
    /// Open mode: any bearer token, full files access to every project.
    Open,
    /// A caller known from the access configuration.
    Known {
        /// The service token's subject.
        subject: String,
        /// The projects the token is valid for, with its groups and capabilities there.
        grants: Vec<ProjectGrant>,
    },
}

impl Principal {
    /// Whether the caller may do `action` on every file of `project`.
    pub fn may_files(&self, project: &str, action: FilesAction) -> bool {
        match self {
            Principal::Open => true,
            Principal::Known { grants, .. } => grants
                .iter()
                .filter(|g| g.project == project)
                .flat_map(|g| &g.capabilities)
                .any(|c| c.allows_files(action)),
        }
    }

    /// What the caller may do with `action` on the files of `project`: the union over its capabilities
    /// there (`all` wins).
    pub fn files_access(&self, project: &str, action: FilesAction) -> FilesAccess {
        match self {
            Principal::Open => FilesAccess::All,
            Principal::Known { grants, .. } => grants
                .iter()
                .filter(|g| g.project == project)
                .flat_map(|g| &g.capabilities)
                .fold(FilesAccess::None, |acc, c| {
                    acc.union(c.files_access(action))
                }),
        }
    }

    /// The security categories the caller is a member of in `project` (open mode: all of them).
    pub fn category_access(&self, project: &str) -> CategoryAccess {
        match self {
            Principal::Open => CategoryAccess::All,
            Principal::Known { grants, .. } => grants
                .iter()
                .filter(|g| g.project == project)
                .flat_map(|g| &g.capabilities)
                .fold(CategoryAccess::default(), |acc, c| {
                    acc.union(c.category_access())
                }),
        }
    }

    /// The files of `project` the caller may act on with `action`: its `filesAcl` grant and its
    /// category membership together.
    pub fn file_scope(&self, project: &str, action: FilesAction) -> FileScope {
        FileScope {
            data_sets: self.files_access(project, action),
            categories: self.category_access(project),
        }
    }
}

/// The id of a configured group: the first 6 bytes of SHA-256 of `project/name`, so it stays the same when
/// groups are reordered or added, fits a JSON number exactly (below 2^48), and is never 0.
pub fn group_id(project: &str, name: &str) -> i64 {
    let digest = Sha256::digest(format!("{project}/{name}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes[2..].copy_from_slice(&digest[..6]);
    i64::from_be_bytes(bytes).max(1)
}

/// The SHA-256 of a token as lowercase hex, as `cabinet token hash` prints it and the configuration holds
/// it. Surrounding whitespace (a trailing newline from `echo`) is not part of the token.
pub fn token_sha256_hex(token: &str) -> String {
    Sha256::digest(token.trim().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl AccessConfig {
    /// Projects that configure an identity provider.
    pub fn oidc_projects(&self) -> Vec<&str> {
        self.projects
            .values()
            .filter(|p| p.oidc.is_some())
            .map(|p| p.name.as_str())
            .collect()
    }

    /// Loads every project's JWKS before the server serves, with the refresh `settings`. An unreadable
    /// or invalid `jwks_file` is an error (the configuration is wrong); an unreachable `jwks_url` is only
    /// logged (the IdP may come up later, and the first token refreshes the keys).
    pub async fn load_keys(&self, settings: jwks::JwksSettings) -> anyhow::Result<()> {
        let mut loaded: Vec<usize> = Vec::new();
        for project in self.projects.values() {
            let Some(oidc) = &project.oidc else { continue };
            // Projects with the same JWKS share its cache (see `config`): load it once.
            let cache = std::sync::Arc::as_ptr(&oidc.keys) as usize;
            if loaded.contains(&cache) {
                continue;
            }
            loaded.push(cache);
            oidc.keys.configure(settings);
            match (oidc.keys.refresh().await, oidc.keys.source()) {
                (Ok(_), _) => {}
                (Err(e), jwks::KeySource::File(_)) => {
                    anyhow::bail!("project {}: oidc.jwks_file: {e}", project.name)
                }
                (Err(e), jwks::KeySource::Url(_)) => tracing::warn!(
                    project = project.name,
                    error = %e,
                    "JWKS not reachable at start-up; tokens are refused until a refresh succeeds"
                ),
            }
        }
        Ok(())
    }

    /// Who `token` is, in every project where it is a service token with at least one group; `None` when
    /// it is no such token. Every configured hash is compared, in constant time, whatever matches.
    pub fn authenticate(&self, token: &str) -> Option<Principal> {
        let presented: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        let mut subject = None;
        let mut grants = Vec::new();
        for project in self.projects.values() {
            let mut found: Option<&ServiceToken> = None;
            for entry in &project.service_tokens {
                if bool::from(entry.sha256.ct_eq(&presented)) {
                    found = Some(entry);
                }
            }
            let Some(entry) = found else { continue };
            let groups: Vec<&Group> = project
                .groups
                .iter()
                .filter(|g| g.holds_service_token(entry))
                .collect();
            if groups.is_empty() {
                continue;
            }
            subject.get_or_insert_with(|| entry.subject.clone());
            grants.push(ProjectGrant {
                project: project.name.clone(),
                group_ids: groups.iter().map(|g| g.id).collect(),
                capabilities: groups
                    .iter()
                    .flat_map(|g| g.capabilities.iter().cloned())
                    .collect(),
            });
        }
        subject.map(|subject| Principal::Known { subject, grants })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn files(actions: &[&str]) -> Capability {
        Capability::parse(json!({"filesAcl": {"actions": actions, "scope": {"all": {}}}}))
            .expect("valid")
    }

    fn group(project: &str, name: &str, members: &[&str], caps: Vec<Capability>) -> Group {
        Group {
            id: group_id(project, name),
            name: name.into(),
            source_id: None,
            members: members.iter().map(|m| m.to_string()).collect(),
            capabilities: caps,
            ..Group::default()
        }
    }

    fn hash(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    fn config() -> AccessConfig {
        let mut projects = BTreeMap::new();
        projects.insert(
            "plant-a".to_string(),
            ProjectAccess {
                name: "plant-a".into(),
                oidc: None,
                groups: vec![
                    group("plant-a", "readers", &[], vec![files(&["READ"])]),
                    group("plant-a", "writers", &["ci"], vec![files(&["WRITE"])]),
                ],
                service_tokens: vec![
                    ServiceToken {
                        subject: "ci".into(),
                        sha256: hash("ci-token"),
                        groups: vec!["readers".into()],
                    },
                    ServiceToken {
                        subject: "lonely".into(),
                        sha256: hash("no-groups"),
                        groups: vec![],
                    },
                ],
            },
        );
        AccessConfig { projects }
    }

    #[test]
    fn a_service_token_unites_listed_groups_and_member_groups() {
        let p = config().authenticate("ci-token").expect("known");
        assert!(p.may_files("plant-a", FilesAction::Read));
        assert!(p.may_files("plant-a", FilesAction::Write));
        assert!(!p.may_files("plant-b", FilesAction::Read));
        let Principal::Known { subject, grants } = p else {
            panic!("not open")
        };
        assert_eq!(subject, "ci");
        assert_eq!(grants[0].group_ids.len(), 2);
    }

    #[test]
    fn unknown_tokens_and_tokens_without_groups_are_nobody() {
        assert!(config().authenticate("guess").is_none());
        assert!(config().authenticate("no-groups").is_none());
    }

    #[test]
    fn the_printed_hash_is_what_authenticates() {
        let hex = token_sha256_hex("ci-token\n");
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
            .collect();
        assert_eq!(bytes, hash("ci-token"));
    }

    #[test]
    fn group_ids_are_stable_and_distinct() {
        assert_eq!(group_id("p", "a"), group_id("p", "a"));
        assert_ne!(group_id("p", "a"), group_id("p", "b"));
        assert_ne!(group_id("p", "a"), group_id("q", "a"));
        assert!(group_id("p", "a") > 0 && group_id("p", "a") < 1 << 48);
    }
}
