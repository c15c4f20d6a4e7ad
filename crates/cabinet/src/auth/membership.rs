//! Who is in a group, the same way for configured groups and groups created through the API.

use super::{Group, ServiceToken};
use crate::store::iam::FIRST_STORED_GROUP_ID;

/// The claims that may name the application a token was issued to (Entra `appid`, OIDC `azp`, Okta and
/// Auth0 `client_id`), matched against a group's `attributes.token.appIds`.
pub const APP_CLAIMS: [&str; 3] = ["azp", "appid", "client_id"];

impl Group {
    /// Whether the group comes from the configuration file (its id is below the stored groups' range).
    pub fn is_configured(&self) -> bool {
        self.id < FIRST_STORED_GROUP_ID
    }

    /// Whether a service token is a member: a configured group it names, or a group whose `members`
    /// list its subject (or that holds every account). A service token belongs to no application, so a
    /// group restricted to applications never holds one.
    pub fn holds_service_token(&self, token: &ServiceToken) -> bool {
        if self.is_configured() && token.groups.contains(&self.name) {
            return true;
        }
        self.app_ids.is_none() && (self.all_user_accounts || self.members.contains(&token.subject))
    }

    /// Whether a verified OIDC token is a member: by `source_id` against the values of its access
    /// claims, else by `members` against its `sub` (or every account); for a group restricted to
    /// applications, one of the token's `apps` (values of [`APP_CLAIMS`]) must be listed too.
    pub fn holds_token(&self, sub: &str, access_values: &[&str], apps: &[&str]) -> bool {
        if let Some(allowed) = &self.app_ids {
            if !apps.iter().any(|a| allowed.iter().any(|x| x == a)) {
                return false;
            }
        }
        match &self.source_id {
            Some(source) => access_values.contains(&source.as_str()),
            None => self.all_user_accounts || self.members.iter().any(|m| m == sub),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(subject: &str, groups: &[&str]) -> ServiceToken {
        ServiceToken {
            subject: subject.into(),
            sha256: [0; 32],
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn only_configured_groups_are_named_by_service_tokens() {
        let configured = Group {
            id: 5,
            name: "g".into(),
            ..Group::default()
        };
        let stored = Group {
            id: FIRST_STORED_GROUP_ID + 1,
            ..configured.clone()
        };
        assert!(configured.holds_service_token(&token("s", &["g"])));
        assert!(!stored.holds_service_token(&token("s", &["g"])));
    }

    #[test]
    fn members_every_account_and_app_restrictions() {
        let members = Group {
            id: FIRST_STORED_GROUP_ID + 1,
            members: vec!["s".into()],
            ..Group::default()
        };
        assert!(members.holds_service_token(&token("s", &[])));
        assert!(!members.holds_service_token(&token("t", &[])));
        assert!(members.holds_token("s", &[], &[]));
        let everyone = Group {
            all_user_accounts: true,
            ..members.clone()
        };
        assert!(everyone.holds_service_token(&token("t", &[])));
        assert!(everyone.holds_token("anyone", &[], &[]));
        let app_only = Group {
            app_ids: Some(vec!["app-1".into()]),
            ..everyone
        };
        assert!(!app_only.holds_service_token(&token("t", &[])));
        assert!(!app_only.holds_token("anyone", &[], &["app-2"]));
        assert!(app_only.holds_token("anyone", &[], &["app-1"]));
        let sourced = Group {
            source_id: Some("idp".into()),
            ..members
        };
        assert!(sourced.holds_token("x", &["idp"], &[]));
        assert!(!sourced.holds_token("s", &["other"], &[]));
    }
}
