//! OIDC access tokens: a JWT verified against its project's JWKS, then mapped to CDF groups (by
//! `source_id` against the access claims, by `members` against `sub`) and filtered by its scopes.
//!
//! The project is found from the token's (still unverified) `iss`; every project with that issuer then
//! verifies the token itself: signature by the key its `kid` names, an asymmetric algorithm of that key's
//! family, `iss`, `aud`, `exp` and `nbf` (once for all projects that share keys, audience and skew, so a
//! site with many projects on one IdP pays one signature check). Nothing of a token is used before it
//! verifies.

use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use super::{AccessConfig, Capability, Group, Oidc, Principal, ProjectAccess, ProjectGrant};

/// The algorithms a token may use; HMAC (whose key would be a shared secret) and `none` never verify.
const ASYMMETRIC: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Why a token was refused; logged, never sent (the client gets one 401 text for all).
#[derive(Debug, thiserror::Error)]
pub enum Rejected {
    /// Not three base64url parts with JSON in them, or a header the library cannot read (`alg: none`).
    #[error("not a readable JWT: {0}")]
    Malformed(String),
    /// No configured project has the token's issuer.
    #[error("no project has issuer {0:?}")]
    UnknownIssuer(String),
    /// HMAC, or an algorithm the key does not have.
    #[error("algorithm {0:?} is not accepted")]
    Algorithm(Algorithm),
    /// No `kid`, or one the JWKS does not hold even after a refresh.
    #[error("no key with kid {0:?}")]
    UnknownKey(String),
    /// Signature, `iss`, `aud`, `exp`, `nbf` or a required claim.
    #[error("verification failed: {0}")]
    Invalid(String),
}

impl AccessConfig {
    /// Verifies `token` as a JWT of every project whose issuer it names; the principal holds a grant for
    /// each project it verified in (a verified token with no matching group still gets a grant with no
    /// capabilities: it is authenticated, so files routes answer 403 rather than 401).
    pub async fn authenticate_jwt(&self, token: &str) -> Result<Principal, Rejected> {
        self.authenticate_jwt_for(token, None).await
    }

    /// [`AccessConfig::authenticate_jwt`] for one project only (`Some`): a request under
    /// `/api/v1/projects/{project}` needs no grant elsewhere, and its cost then does not grow with the
    /// number of projects that trust the same issuer.
    pub async fn authenticate_jwt_for(
        &self,
        token: &str,
        project: Option<&str>,
    ) -> Result<Principal, Rejected> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| Rejected::Malformed(e.to_string()))?;
        let unverified = jsonwebtoken::dangerous::insecure_decode::<Map<String, Value>>(token)
            .map_err(|e| Rejected::Malformed(e.to_string()))?;
        let issuer = unverified
            .claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if !ASYMMETRIC.contains(&header.alg) {
            return Err(Rejected::Algorithm(header.alg));
        }
        let kid = header
            .kid
            .clone()
            .ok_or_else(|| Rejected::UnknownKey(String::new()))?;
        let candidates: Vec<(&ProjectAccess, &Oidc)> = self
            .projects
            .values()
            .filter(|p| project.is_none_or(|name| p.name == name))
            .filter_map(|p| p.oidc.as_ref().map(|o| (p, o)))
            .filter(|(_, o)| o.issuer == issuer)
            .collect();
        if candidates.is_empty() {
            return Err(Rejected::UnknownIssuer(issuer));
        }
        let mut subject = None;
        let mut grants = Vec::new();
        let mut last_error = None;
        // Projects that share keys, audience and skew verify a token alike: verify it once for them.
        let mut verified: Vec<(VerifierKey, Verified)> = Vec::new();
        for (project, oidc) in candidates {
            let verifier = VerifierKey::of(oidc);
            let outcome = match verified.iter().find(|(k, _)| *k == verifier) {
                Some((_, Ok(claims))) => Ok(claims.clone()),
                Some((_, Err(reason))) => Err(Rejected::Invalid(reason.clone())),
                None => {
                    let outcome = verify(token, header.alg, &kid, oidc).await;
                    let memo = match &outcome {
                        Ok(claims) => Ok(claims.clone()),
                        Err(e) => Err(e.to_string()),
                    };
                    verified.push((verifier, memo));
                    outcome
                }
            };
            match outcome {
                Ok(claims) => {
                    let sub = claims
                        .get("sub")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    grants.push(grant(project, oidc, &sub, &claims));
                    subject.get_or_insert(sub);
                }
                Err(e) => last_error = Some(e),
            }
        }
        match subject {
            Some(subject) => Ok(Principal::Known { subject, grants }),
            None => Err(last_error.unwrap_or(Rejected::UnknownIssuer(issuer))),
        }
    }
}

/// A memoized verification: the claims, or why it failed.
type Verified = Result<Map<String, Value>, String>;

/// What decides whether a token verifies for a project besides its issuer: the key cache (shared by
/// projects with the same JWKS), the audience and the skew.
#[derive(PartialEq)]
struct VerifierKey<'a> {
    /// The address of the shared cache (an address, not a pointer, so the future stays `Send`).
    keys: usize,
    audience: &'a str,
    skew_ms: u64,
}

impl<'a> VerifierKey<'a> {
    fn of(oidc: &'a Oidc) -> Self {
        Self {
            keys: std::sync::Arc::as_ptr(&oidc.keys) as usize,
            audience: &oidc.audience,
            skew_ms: oidc.skew_ms,
        }
    }
}

/// Signature and registered claims of `token` for one project; its claims when all hold.
async fn verify(
    token: &str,
    alg: Algorithm,
    kid: &str,
    oidc: &Oidc,
) -> Result<Map<String, Value>, Rejected> {
    let key = oidc
        .keys
        .key(kid)
        .await
        .ok_or_else(|| Rejected::UnknownKey(kid.to_string()))?;
    if key.decoding.family() != alg.family() || key.alg.is_some_and(|a| a != alg) {
        return Err(Rejected::Algorithm(alg));
    }
    let mut validation = Validation::new(alg);
    validation.algorithms = vec![alg];
    validation.set_issuer(&[&oidc.issuer]);
    validation.set_audience(&[&oidc.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.validate_exp = true;
    validation.validate_nbf = true;
    // The library counts leeway in whole seconds: a skew is rounded up, never down.
    validation.leeway = oidc.skew_ms.div_ceil(1000);
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.decoding, &validation)
        .map_err(|e| Rejected::Invalid(e.to_string()))?;
    match data.claims.get("sub") {
        Some(Value::String(s)) if !s.is_empty() => Ok(data.claims),
        _ => Err(Rejected::Invalid("sub must be a non-empty string".into())),
    }
}

/// The groups a verified token is in, and their capabilities after its scopes.
fn grant(
    project: &ProjectAccess,
    oidc: &Oidc,
    sub: &str,
    claims: &Map<String, Value>,
) -> ProjectGrant {
    let access_values: Vec<&str> = oidc
        .access_claims
        .iter()
        .flat_map(|name| claim_strings(claims.get(name)))
        .collect();
    let apps: Vec<&str> = super::membership::APP_CLAIMS
        .iter()
        .flat_map(|name| claim_strings(claims.get(*name)))
        .collect();
    let groups: Vec<&Group> = project
        .groups
        .iter()
        .filter(|g| g.holds_token(sub, &access_values, &apps))
        .collect();
    let capabilities: Vec<Capability> = groups
        .iter()
        .flat_map(|g| g.capabilities.iter().cloned())
        .collect();
    let scopes = token_scopes(oidc, claims);
    ProjectGrant {
        project: project.name.clone(),
        group_ids: groups.iter().map(|g| g.id).collect(),
        capabilities: match scopes {
            None => capabilities,
            Some(scopes) => filter_by_scopes(capabilities, &scopes),
        },
    }
}

/// A claim's string values: a string, or the strings of an array.
fn claim_strings(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The token's scopes by CDF name (`https://{cluster}.cognitedata.com/DATA.VIEW` is `DATA.VIEW`), from
/// every scope claim present (a space-separated string, as Entra's `scp`, or an array); `None` when the
/// token has none of the scope claims, which means no filtering (app-only tokens carry no `scp`).
fn token_scopes(oidc: &Oidc, claims: &Map<String, Value>) -> Option<Vec<String>> {
    let present: Vec<&Value> = oidc
        .scope_claims
        .iter()
        .filter_map(|name| claims.get(name))
        .collect();
    if present.is_empty() {
        return None;
    }
    Some(
        present
            .into_iter()
            .flat_map(|v| claim_strings(Some(v)))
            .flat_map(str::split_whitespace)
            .map(|s| s.rsplit('/').next().unwrap_or(s).to_string())
            .collect(),
    )
}

/// ACLs that manage access rather than data: kept only with the `ADMIN` scope.
const ADMIN_ACLS: [&str; 4] = [
    "groupsAcl",
    "securityCategoriesAcl",
    "projectsAcl",
    "sessionsAcl",
];

/// CDF's scope filter (spec §1.4): scopes never grant, they only take away. `user_impersonation` keeps
/// everything; `DATA.VIEW` keeps read actions (`READ`, `LIST`, `MEMBEROF`), `DATA.CHANGE` the others, on
/// data ACLs; `ADMIN` keeps the access-management ACLs. A capability left with no action is dropped.
pub fn filter_by_scopes(capabilities: Vec<Capability>, scopes: &[String]) -> Vec<Capability> {
    let has = |name: &str| scopes.iter().any(|s| s == name);
    if has("user_impersonation") {
        return capabilities;
    }
    capabilities
        .into_iter()
        .filter_map(|cap| {
            if ADMIN_ACLS.contains(&cap.acl.as_str()) {
                return has("ADMIN").then_some(cap);
            }
            let kept: Vec<String> = cap
                .actions
                .iter()
                .filter(|a| {
                    if matches!(a.as_str(), "READ" | "LIST" | "MEMBEROF") {
                        has("DATA.VIEW")
                    } else {
                        has("DATA.CHANGE")
                    }
                })
                .cloned()
                .collect();
            if kept.is_empty() {
                return None;
            }
            if kept.len() == cap.actions.len() {
                return Some(cap);
            }
            let mut raw = cap.raw.clone();
            if let Some(body) = raw.get_mut(&cap.acl).and_then(Value::as_object_mut) {
                body.insert("actions".into(), Value::from(kept.clone()));
            }
            Some(Capability {
                raw,
                actions: kept,
                ..cap
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::FilesAction;
    use serde_json::json;

    fn cap(v: Value) -> Capability {
        Capability::parse(v).expect("valid")
    }

    #[test]
    fn scopes_only_take_away() {
        let caps = vec![
            cap(json!({"filesAcl": {"actions": ["READ", "WRITE"], "scope": {"all": {}}}})),
            cap(json!({"groupsAcl": {"actions": ["LIST"], "scope": {"all": {}}}})),
        ];
        let view = filter_by_scopes(caps.clone(), &["DATA.VIEW".into()]);
        assert_eq!(view.len(), 1);
        assert!(view[0].allows_files(FilesAction::Read));
        assert!(!view[0].allows_files(FilesAction::Write));
        assert_eq!(view[0].raw["filesAcl"]["actions"], json!(["READ"]));
        let change = filter_by_scopes(caps.clone(), &["DATA.CHANGE".into(), "ADMIN".into()]);
        assert_eq!(change.len(), 2);
        assert!(!change[0].allows_files(FilesAction::Read));
        assert!(change[0].allows_files(FilesAction::Write));
        assert_eq!(
            filter_by_scopes(caps.clone(), &["user_impersonation".into()]),
            caps
        );
        assert!(filter_by_scopes(caps, &["IDENTITY".into()]).is_empty());
    }

    #[test]
    fn scope_urls_and_space_separated_strings_are_read() {
        let oidc = Oidc {
            jwks_url: None,
            jwks_file: Some("k.json".into()),
            issuer: "i".into(),
            audience: "a".into(),
            access_claims: vec!["groups".into()],
            scope_claims: vec!["scp".into(), "scope".into()],
            skew_ms: 0,
            console_client_id: None,
            keys: std::sync::Arc::new(super::super::jwks::KeyCache::new(
                super::super::jwks::KeySource::File("k.json".into()),
            )),
        };
        let claims =
            json!({"scp": "https://x.cognitedata.com/DATA.VIEW IDENTITY", "scope": ["ADMIN"]});
        let scopes = token_scopes(&oidc, claims.as_object().expect("object"));
        assert_eq!(
            scopes,
            Some(vec!["DATA.VIEW".into(), "IDENTITY".into(), "ADMIN".into()])
        );
        assert_eq!(token_scopes(&oidc, &Map::new()), None);
    }
}
