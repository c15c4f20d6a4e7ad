//! The configuration file of `cabinet serve --config FILE` (TOML), and what it turns into.
//!
//! The file holds what flags cannot say well (projects, groups, service tokens) and may also hold
//! `listen`, `public_url` and `data_dir`; flags and `CABINET_*` variables override those. Unknown keys are
//! an error naming the key, so a typo never leaves a rule out.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::app::{ServeConfig, DEFAULT_LISTEN};
use crate::auth::jwks::{parse_jwks, KeyCache, KeySource};
use crate::auth::{self, AccessConfig, Capability, Group, Oidc, ProjectAccess, ServiceToken};
use crate::domain::ProjectName;
use crate::store::backend::MetadataBackend;

/// The file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Address to listen on.
    pub listen: Option<String>,
    /// Base of the upload and download URLs.
    pub public_url: Option<String>,
    /// Directory for the database, the content and the secret key.
    pub data_dir: Option<PathBuf>,
    /// The metadata backend's URL (`postgres://…`); without it, SQLite in the data directory.
    pub metadata: Option<String>,
    /// Where content lives instead of the data directory: `s3://BUCKET[/PREFIX]`.
    pub content: Option<String>,
    /// How content reaches the bucket: `proxy` (the default) or `direct` (presigned S3 URLs).
    pub content_transfer: Option<String>,
    /// A file holding the root secret the nodes of a deployment share (`--secret-file`).
    pub secret_file: Option<PathBuf>,
    /// The S3 endpoint URL (`--s3-endpoint`).
    pub s3_endpoint: Option<String>,
    /// The S3 region (`--s3-region`).
    pub s3_region: Option<String>,
    /// Path-style S3 requests (`--s3-path-style`).
    pub s3_path_style: Option<bool>,
    /// Open mode on an address other than loopback (`--open`).
    pub open: Option<bool>,
    /// `text` or `json` (`--log-format`).
    pub log_format: Option<String>,
    /// The bearer token `/metrics` requires (`--metrics-token`).
    pub metrics_token: Option<String>,
    /// `/metrics` without a token on any address (`--metrics-public`).
    pub metrics_public: Option<bool>,
    // The guards, each as its flag names it; see [`crate::guards::Guards`] for what each bounds.
    /// `--header-read-timeout`, seconds.
    pub header_read_timeout: Option<u64>,
    /// `--idle-timeout`, seconds.
    pub idle_timeout: Option<u64>,
    /// `--write-stall-timeout`, seconds.
    pub write_stall_timeout: Option<u64>,
    /// `--body-idle-timeout`, seconds.
    pub body_idle_timeout: Option<u64>,
    /// `--min-body-rate`, bytes per second.
    pub min_body_rate: Option<u64>,
    /// `--max-uploads`.
    pub max_uploads: Option<usize>,
    /// `--max-downloads`.
    pub max_downloads: Option<usize>,
    /// `--min-free-bytes`.
    pub min_free_bytes: Option<u64>,
    /// `--disk-reserve-bytes`.
    pub disk_reserve_bytes: Option<u64>,
    /// `--orphan-grace-secs`.
    pub orphan_grace_secs: Option<u64>,
    /// `--janitor-interval-secs`.
    pub janitor_interval_secs: Option<u64>,
    /// The projects clients may use; none means open mode.
    #[serde(default)]
    pub project: Vec<ProjectEntry>,
    /// `[faults]`: fault injection's admins, seed and rules armed at start.
    pub faults: Option<crate::faults::FaultsConfig>,
}

impl ConfigFile {
    /// Sets every guard the file gives; the others keep their values. A janitor interval is at least 1 s.
    pub fn apply_guards(&self, guards: &mut crate::guards::Guards) {
        use std::time::Duration;
        let secs = Duration::from_secs;
        if let Some(v) = self.header_read_timeout {
            guards.header_read_timeout = secs(v);
        }
        if let Some(v) = self.idle_timeout {
            guards.idle_timeout = secs(v);
        }
        if let Some(v) = self.write_stall_timeout {
            guards.write_stall_timeout = secs(v);
        }
        if let Some(v) = self.body_idle_timeout {
            guards.body_idle_timeout = secs(v);
        }
        if let Some(v) = self.min_body_rate {
            guards.min_body_rate = v;
        }
        if let Some(v) = self.max_uploads {
            guards.max_uploads = v;
        }
        if let Some(v) = self.max_downloads {
            guards.max_downloads = v;
        }
        if let Some(v) = self.min_free_bytes {
            guards.min_free_bytes = Some(v);
        }
        if let Some(v) = self.disk_reserve_bytes {
            guards.disk_reserve_bytes = Some(v);
        }
        if let Some(v) = self.orphan_grace_secs {
            guards.orphan_grace = secs(v);
        }
        if let Some(v) = self.janitor_interval_secs {
            guards.janitor_interval = secs(v.max(1));
        }
    }
}

/// `[[project]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectEntry {
    /// The project's URL name.
    pub name: String,
    /// CDF's `oidcConfiguration`, snake case.
    pub oidc: Option<OidcEntry>,
    /// `[[project.group]]`.
    #[serde(default)]
    pub group: Vec<GroupEntry>,
    /// `[[project.service_token]]`.
    #[serde(default)]
    pub service_token: Vec<ServiceTokenEntry>,
}

/// `oidc = { ... }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcEntry {
    /// Where the IdP publishes its keys.
    pub jwks_url: Option<String>,
    /// A local JWKS, for air-gapped sites.
    pub jwks_file: Option<PathBuf>,
    /// The expected `iss`.
    pub issuer: String,
    /// The expected `aud`.
    pub audience: String,
    /// Claims matched against groups' `source_id`.
    #[serde(default)]
    pub access_claims: Vec<String>,
    /// Claims holding token scopes.
    #[serde(default)]
    pub scope_claims: Vec<String>,
    /// Allowed clock skew in milliseconds.
    #[serde(default)]
    pub skew_ms: u64,
    /// The OAuth2 client id the web console signs in with (a public client, PKCE); without it the
    /// console offers only a pasted token for this project.
    #[serde(default)]
    pub console_client_id: Option<String>,
}

/// `[[project.group]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupEntry {
    /// Unique within the project.
    pub name: String,
    /// IdP group id (exclusive with `members`).
    pub source_id: Option<String>,
    /// Subjects that are members (exclusive with `source_id`).
    pub members: Option<Vec<String>>,
    /// Capabilities in CDF's shape.
    #[serde(default)]
    pub capabilities: Vec<serde_json::Value>,
}

/// `[[project.service_token]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceTokenEntry {
    /// The principal the token authenticates as.
    pub subject: String,
    /// Hex SHA-256 of the token (`cabinet token hash`).
    pub sha256: String,
    /// Groups (by name) the token is a member of.
    #[serde(default)]
    pub groups: Vec<String>,
}

impl ConfigFile {
    /// Reads and parses `path`; the error names the file, and the key or line at fault.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("invalid configuration file {}", path.display()))
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(toml::from_str(text)?)
    }

    /// The access rules, validated; `None` when no project is configured (open mode).
    pub fn access(&self) -> anyhow::Result<Option<AccessConfig>> {
        if self.project.is_empty() {
            return Ok(None);
        }
        let mut projects = BTreeMap::new();
        // One token may serve several projects, as one principal: the same subject everywhere.
        let mut subjects: BTreeMap<[u8; 32], String> = BTreeMap::new();
        // Projects trusting the same JWKS share one key cache: one fetch, one refresh, one set of keys.
        let mut key_caches: BTreeMap<KeySource, std::sync::Arc<KeyCache>> = BTreeMap::new();
        for entry in &self.project {
            let mut project = entry
                .access()
                .with_context(|| format!("project `{}`", entry.name))?;
            if let Some(oidc) = project.oidc.as_mut() {
                let shared = key_caches
                    .entry(oidc.keys.source().clone())
                    .or_insert_with(|| oidc.keys.clone());
                oidc.keys = shared.clone();
            }
            for token in &project.service_tokens {
                let subject = subjects
                    .entry(token.sha256)
                    .or_insert_with(|| token.subject.clone());
                if *subject != token.subject {
                    bail!(
                        "project `{}`: service token `{}` has the sha256 of service token `{subject}` of another \
                         project; one token is one subject",
                        entry.name,
                        token.subject
                    );
                }
            }
            if projects.insert(project.name.clone(), project).is_some() {
                bail!("project `{}` is configured twice", entry.name);
            }
        }
        Ok(Some(AccessConfig { projects }))
    }
}

impl ProjectEntry {
    fn access(&self) -> anyhow::Result<ProjectAccess> {
        let name = ProjectName::parse(&self.name)
            .map_err(|e| anyhow::anyhow!("name: {e}"))?
            .to_string();
        let oidc = self.oidc.as_ref().map(OidcEntry::check).transpose()?;
        let mut groups = Vec::new();
        let mut names = BTreeSet::new();
        for g in &self.group {
            if !names.insert(g.name.as_str()) {
                bail!("group `{}` is configured twice", g.name);
            }
            groups.push(
                g.check(&name)
                    .with_context(|| format!("group `{}`", g.name))?,
            );
        }
        let mut service_tokens = Vec::new();
        let mut hashes = BTreeSet::new();
        for t in &self.service_token {
            let token = t
                .check(&names)
                .with_context(|| format!("service token `{}`", t.subject))?;
            if !hashes.insert(token.sha256) {
                bail!(
                    "service token `{}`: another service token of this project has the same sha256",
                    t.subject
                );
            }
            service_tokens.push(token);
        }
        Ok(ProjectAccess {
            name,
            oidc,
            groups,
            service_tokens,
        })
    }
}

impl OidcEntry {
    fn check(&self) -> anyhow::Result<Oidc> {
        match (&self.jwks_url, &self.jwks_file) {
            (Some(_), Some(_)) => bail!("oidc: give jwks_url or jwks_file, not both"),
            (None, None) => bail!("oidc: jwks_url (or jwks_file) is required"),
            _ => {}
        }
        if let Some(url) = &self.jwks_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                bail!("oidc: jwks_url must be an http:// or https:// URL");
            }
        }
        if self.issuer.trim().is_empty() || self.audience.trim().is_empty() {
            bail!("oidc: issuer and audience must not be empty");
        }
        Ok(Oidc {
            jwks_url: self.jwks_url.clone(),
            jwks_file: self.jwks_file.clone(),
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            access_claims: self.access_claims.clone(),
            scope_claims: self.scope_claims.clone(),
            skew_ms: self.skew_ms,
            console_client_id: self.console_client_id.clone(),
            keys: std::sync::Arc::new(KeyCache::new(match (&self.jwks_url, &self.jwks_file) {
                (Some(url), _) => KeySource::Url(url.clone()),
                (None, Some(file)) => KeySource::File(file.clone()),
                (None, None) => bail!("oidc: jwks_url (or jwks_file) is required"),
            })),
        })
    }
}

impl GroupEntry {
    fn check(&self, project: &str) -> anyhow::Result<Group> {
        if self.name.trim().is_empty() || self.name.len() > 255 {
            bail!("name: must be 1 to 255 characters");
        }
        if self.source_id.is_some() && self.members.is_some() {
            bail!("source_id and members are exclusive, as in CDF: give one");
        }
        let capabilities = self
            .capabilities
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                Capability::parse(raw.clone())
                    .map_err(|e| anyhow::anyhow!("capabilities[{i}]: {e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Group {
            id: auth::group_id(project, &self.name),
            name: self.name.clone(),
            source_id: self.source_id.clone(),
            members: self.members.clone().unwrap_or_default(),
            capabilities,
            ..Group::default()
        })
    }
}

impl ServiceTokenEntry {
    fn check(&self, groups: &BTreeSet<&str>) -> anyhow::Result<ServiceToken> {
        if self.subject.trim().is_empty() {
            bail!("subject must not be empty");
        }
        let sha256 = parse_sha256(&self.sha256).ok_or_else(|| {
            anyhow::anyhow!(
                "sha256 must be 64 hex digits, the SHA-256 of the token (`cabinet token hash` prints it)"
            )
        })?;
        if let Some(unknown) = self.groups.iter().find(|g| !groups.contains(g.as_str())) {
            bail!("groups: no group `{unknown}` in this project");
        }
        Ok(ServiceToken {
            subject: self.subject.clone(),
            sha256,
            groups: self.groups.clone(),
        })
    }
}

fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Values given by flags or `CABINET_*` variables, which win over the file's.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen` / `CABINET_LISTEN`.
    pub listen: Option<String>,
    /// `--data-dir` / `CABINET_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--public-url` / `CABINET_PUBLIC_URL`.
    pub public_url: Option<String>,
    /// `--metadata` / `CABINET_METADATA`.
    pub metadata: Option<String>,
    /// `--content` / `CABINET_CONTENT`.
    pub content: Option<String>,
    /// `--content-transfer` / `CABINET_CONTENT_TRANSFER`.
    pub content_transfer: Option<String>,
}

/// Where `cabinet serve` keeps its data when neither a flag nor the file says.
pub const DEFAULT_DATA_DIR: &str = "./cabinet-data";

impl ConfigFile {
    /// The log format the file asks for (`text` when it says nothing).
    pub fn log_format(&self) -> anyhow::Result<crate::logging::LogFormat> {
        match &self.log_format {
            None => Ok(crate::logging::LogFormat::default()),
            Some(f) => f
                .parse()
                .map_err(|e: String| anyhow::anyhow!("log_format: {e}")),
        }
    }

    /// The server's configuration: each value from the overrides when given, else from the file, else the
    /// default; the access rules from the file. Guards, S3 settings, `open` and the metrics keys come
    /// from the file here; their flags are applied by the caller.
    pub fn serve_config(&self, overrides: Overrides) -> anyhow::Result<ServeConfig> {
        let listen = overrides
            .listen
            .or_else(|| self.listen.clone())
            .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let data_dir = overrides
            .data_dir
            .or_else(|| self.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let metadata = match overrides.metadata.or_else(|| self.metadata.clone()) {
            Some(url) => url
                .parse()
                .map_err(|e: String| anyhow::anyhow!("metadata: {e}"))?,
            None => MetadataBackend::Embedded,
        };
        let content = match overrides.content.or_else(|| self.content.clone()) {
            None => None,
            Some(location) => Some(
                crate::blob::s3::S3Settings::parse_location(&location)
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "content: unsupported location '{location}' (expected s3://BUCKET[/PREFIX])"
                        )
                    })?
                    .map_err(|e| anyhow::anyhow!("content: {e}"))?,
            ),
        };
        let content_transfer = match overrides
            .content_transfer
            .or_else(|| self.content_transfer.clone())
        {
            None => crate::direct::ContentTransfer::Proxy,
            Some(mode) => mode
                .parse()
                .map_err(|e: String| anyhow::anyhow!("content_transfer: {e}"))?,
        };
        let mut content = content;
        if let Some(s3) = &mut content {
            s3.endpoint = self.s3_endpoint.clone();
            s3.region = self.s3_region.clone();
            s3.path_style = self.s3_path_style.unwrap_or(false);
        }
        self.log_format()?;
        let metrics_token = match &self.metrics_token {
            Some(token) if token.trim().is_empty() => bail!("metrics_token: must not be empty"),
            Some(token) => Some(crate::api::ops::MetricsToken(token.trim().into())),
            None => None,
        };
        let mut guards = crate::guards::Guards::default();
        self.apply_guards(&mut guards);
        if content_transfer == crate::direct::ContentTransfer::Direct && content.is_none() {
            anyhow::bail!(
                "content_transfer: direct needs content in S3 (--content s3://BUCKET[/PREFIX]): with \
                 content on the local disk, content can only pass through cabinet (proxy)"
            );
        }
        Ok(ServeConfig {
            content,
            content_transfer,
            public_url: overrides.public_url.or_else(|| self.public_url.clone()),
            access: self.access()?,
            metadata,
            open: self.open.unwrap_or(false),
            metrics_token,
            metrics_public: self.metrics_public.unwrap_or(false),
            guards,
            faults: self.faults.clone().unwrap_or_default().checked()?,
            ..ServeConfig::new(listen, data_dir)
        })
    }
}

/// What `cabinet config check` prints: everything the server understood from the file, never a secret.
pub fn describe(file: &ConfigFile, access: Option<&AccessConfig>) -> String {
    let mut out = String::new();
    let or_default = |v: Option<String>, default: &str| v.unwrap_or_else(|| default.to_string());
    let _ = writeln!(
        out,
        "listen: {}",
        or_default(
            file.listen.clone(),
            "(not set; the flag, CABINET_LISTEN or 127.0.0.1:8765)"
        )
    );
    let _ = writeln!(
        out,
        "public_url: {}",
        or_default(
            file.public_url.clone(),
            "(not set; from the request's Host)"
        )
    );
    let _ = writeln!(
        out,
        "data_dir: {}",
        or_default(
            file.data_dir.as_ref().map(|d| d.display().to_string()),
            "(not set; the flag, CABINET_DATA_DIR or ./cabinet-data)"
        )
    );
    let settings: [(&str, Option<String>); 21] = [
        ("metadata", file.metadata.clone()),
        ("content", file.content.clone()),
        ("content_transfer", file.content_transfer.clone()),
        (
            "secret_file",
            file.secret_file.as_ref().map(|p| p.display().to_string()),
        ),
        ("s3_endpoint", file.s3_endpoint.clone()),
        ("s3_region", file.s3_region.clone()),
        ("s3_path_style", file.s3_path_style.map(|v| v.to_string())),
        ("open", file.open.map(|v| v.to_string())),
        ("log_format", file.log_format.clone()),
        // Never the token itself.
        (
            "metrics_token",
            file.metrics_token.as_ref().map(|_| "(set)".to_string()),
        ),
        ("metrics_public", file.metrics_public.map(|v| v.to_string())),
        (
            "header_read_timeout",
            file.header_read_timeout.map(|v| format!("{v} s")),
        ),
        ("idle_timeout", file.idle_timeout.map(|v| format!("{v} s"))),
        (
            "write_stall_timeout",
            file.write_stall_timeout.map(|v| format!("{v} s")),
        ),
        (
            "body_idle_timeout",
            file.body_idle_timeout.map(|v| format!("{v} s")),
        ),
        (
            "min_body_rate",
            file.min_body_rate.map(|v| format!("{v} bytes/s")),
        ),
        ("max_uploads", file.max_uploads.map(|v| v.to_string())),
        ("max_downloads", file.max_downloads.map(|v| v.to_string())),
        ("min_free_bytes", file.min_free_bytes.map(|v| v.to_string())),
        (
            "disk_reserve_bytes",
            file.disk_reserve_bytes.map(|v| v.to_string()),
        ),
        (
            "orphan_grace_secs",
            file.orphan_grace_secs.map(|v| format!("{v} s")),
        ),
    ];
    for (key, value) in settings {
        if let Some(value) = value {
            let _ = writeln!(out, "{key}: {value}");
        }
    }
    if let Some(v) = file.janitor_interval_secs {
        let _ = writeln!(out, "janitor_interval_secs: {v} s");
    }
    if let Some(faults) = &file.faults {
        let _ = writeln!(
            out,
            "faults: {} rule(s) armed at start, seed {}, admins [{}] (used with access control on)",
            faults.items.len(),
            faults.seed.unwrap_or(crate::faults::DEFAULT_SEED),
            faults.admin.join(", ")
        );
    }
    let Some(access) = access else {
        let _ = writeln!(
            out,
            "projects: none (open mode: any bearer token, every project; loopback only unless --open)"
        );
        return out;
    };
    for project in access.projects.values() {
        let _ = writeln!(out, "project {}", project.name);
        match &project.oidc {
            Some(o) => {
                let keys = match (&o.jwks_url, &o.jwks_file) {
                    (Some(url), _) => format!("jwks_url {url}"),
                    (None, Some(file)) => match std::fs::read(file)
                        .map_err(anyhow::Error::from)
                        .and_then(|body| parse_jwks(&body))
                    {
                        Ok(keys) => format!("jwks_file {} ({} keys)", file.display(), keys.len()),
                        Err(e) => format!("jwks_file {} (UNUSABLE: {e})", file.display()),
                    },
                    (None, None) => String::new(),
                };
                let _ = writeln!(
                    out,
                    "  oidc: issuer {}, audience {}, {keys}, access_claims {:?}, scope_claims {:?}, skew_ms {} \
                     (tokens verified against the JWKS: RS256, ES256 and other asymmetric algorithms)",
                    o.issuer, o.audience, o.access_claims, o.scope_claims, o.skew_ms
                );
            }
            None => {
                let _ = writeln!(out, "  oidc: none (service tokens only)");
            }
        }
        for g in &project.groups {
            let membership = match (&g.source_id, g.members.is_empty()) {
                (Some(s), _) => format!("source_id {s}"),
                (None, false) => format!("members {:?}", g.members),
                (None, true) => "no source_id or members (service tokens name it)".into(),
            };
            let _ = writeln!(out, "  group {} (id {}): {membership}", g.name, g.id);
            for c in &g.capabilities {
                let note = if c.is_enforced() {
                    ""
                } else {
                    " (not enforced yet)"
                };
                let scope = match c.data_sets.as_ref().or(c.categories.as_ref()) {
                    Some(ids) => format!("{} {ids:?}", c.scope),
                    None => c.scope.clone(),
                };
                let _ = writeln!(
                    out,
                    "    {} {} scope {scope}{note}",
                    c.acl,
                    c.actions.join(","),
                );
            }
        }
        for t in &project.service_tokens {
            let _ = writeln!(out, "  service token {}: groups {:?}", t.subject, t.groups);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::FilesAction;

    /// The README's example, with a service token.
    pub const EXAMPLE: &str = r#"
listen = "0.0.0.0:8765"
public_url = "https://files.example.com"
data_dir = "/var/lib/cabinet"

[[project]]
name = "plant-a"

[[project.group]]
name = "admins"
source_id = "idp-group-admins"
capabilities = [
  { filesAcl = { actions = ["READ", "WRITE"], scope = { all = {} } } },
  { groupsAcl = { actions = ["LIST", "READ", "CREATE", "DELETE"], scope = { all = {} } } },
]

[[project.group]]
name = "readers"
members = ["dashboard"]
capabilities = [{ filesAcl = { actions = ["READ"], scope = { all = {} } } }]

[[project.service_token]]
subject = "ci-pipeline"
sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
groups = ["admins"]

[[project.service_token]]
subject = "dashboard"
sha256 = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
"#;

    #[test]
    fn a_complete_file_is_understood() {
        let file = ConfigFile::parse(EXAMPLE).expect("parses");
        assert_eq!(file.listen.as_deref(), Some("0.0.0.0:8765"));
        assert_eq!(file.data_dir, Some(PathBuf::from("/var/lib/cabinet")));
        let access = file.access().expect("valid").expect("projects");
        let project = &access.projects["plant-a"];
        assert_eq!(project.groups.len(), 2);
        assert_eq!(project.groups[0].capabilities.len(), 2);
        assert_eq!(project.service_tokens[0].subject, "ci-pipeline");
        // "test" and "test2" hash to the two sha256 values above.
        let ci = access.authenticate("test").expect("ci token");
        assert!(ci.may_files("plant-a", FilesAction::Write));
        let dashboard = access.authenticate("test2").expect("member token");
        assert!(dashboard.may_files("plant-a", FilesAction::Read));
        assert!(!dashboard.may_files("plant-a", FilesAction::Write));
        let text = describe(&file, Some(&access));
        assert!(text.contains("project plant-a"), "{text}");
        assert!(text.contains("service token ci-pipeline"), "{text}");
        assert!(!text.contains("9f86d0"), "hashes are not printed: {text}");
    }

    #[test]
    fn content_locations_come_from_the_file_or_the_override() {
        let file = ConfigFile::parse("content = \"s3://from-file/a/b\"\n").expect("parses");
        let from_file = file.serve_config(Overrides::default()).expect("valid");
        let s3 = from_file.content.expect("S3 content");
        assert_eq!(
            (s3.bucket.as_str(), s3.prefix.as_str()),
            ("from-file", "a/b")
        );
        let overridden = file
            .serve_config(Overrides {
                content: Some("s3://flag".into()),
                ..Overrides::default()
            })
            .expect("valid");
        assert_eq!(overridden.content.map(|c| c.bucket), Some("flag".into()));
        assert!(ConfigFile::default()
            .serve_config(Overrides::default())
            .expect("valid")
            .content
            .is_none());
        let refused = ConfigFile::default().serve_config(Overrides {
            content: Some("/var/lib/content".into()),
            ..Overrides::default()
        });
        assert!(refused.is_err());
    }

    #[test]
    fn direct_transfer_needs_s3_content() {
        use crate::direct::ContentTransfer;
        let file = ConfigFile::parse("content = \"s3://b\"\ncontent_transfer = \"direct\"\n")
            .expect("parses");
        let config = file.serve_config(Overrides::default()).expect("valid");
        assert_eq!(config.content_transfer, ContentTransfer::Direct);
        let proxy = file
            .serve_config(Overrides {
                content_transfer: Some("proxy".into()),
                ..Overrides::default()
            })
            .expect("valid");
        assert_eq!(proxy.content_transfer, ContentTransfer::Proxy);
        let default = ConfigFile::default()
            .serve_config(Overrides::default())
            .expect("valid");
        assert_eq!(default.content_transfer, ContentTransfer::Proxy);
        let local = ConfigFile::default().serve_config(Overrides {
            content_transfer: Some("direct".into()),
            ..Overrides::default()
        });
        let message = local.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("needs content in S3"), "{message}");
        let unknown = ConfigFile::default().serve_config(Overrides {
            content_transfer: Some("teleport".into()),
            ..Overrides::default()
        });
        assert!(unknown.is_err());
    }

    #[test]
    fn overrides_win_over_the_file_and_the_file_over_defaults() {
        let file = ConfigFile::parse(EXAMPLE).expect("parses");
        let from_file = file.serve_config(Overrides::default()).expect("valid");
        assert_eq!(from_file.listen, "0.0.0.0:8765");
        assert_eq!(from_file.data_dir, PathBuf::from("/var/lib/cabinet"));
        assert_eq!(
            from_file.public_url.as_deref(),
            Some("https://files.example.com")
        );
        assert!(from_file.access.is_some());
        let overridden = file
            .serve_config(Overrides {
                listen: Some("127.0.0.1:0".into()),
                data_dir: Some("/tmp/x".into()),
                public_url: Some("http://other".into()),
                metadata: None,
                content: None,
                content_transfer: None,
            })
            .expect("valid");
        assert_eq!(overridden.listen, "127.0.0.1:0");
        assert_eq!(overridden.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(overridden.public_url.as_deref(), Some("http://other"));
        let defaults = ConfigFile::default()
            .serve_config(Overrides::default())
            .expect("valid");
        assert_eq!(defaults.listen, DEFAULT_LISTEN);
        assert_eq!(defaults.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert!(defaults.access.is_none());
    }

    #[test]
    fn no_project_is_open_mode() {
        let file = ConfigFile::parse("listen = \"127.0.0.1:9\"\n").expect("parses");
        assert!(file.access().expect("valid").is_none());
    }

    #[test]
    fn unknown_keys_are_named() {
        for (text, key) in [
            ("lisen = \"x\"\n", "lisen"),
            ("[[project]]\nname = \"abc\"\ncolour = 1\n", "colour"),
            (
                "[[project]]\nname = \"abc\"\n[[project.group]]\nname = \"g\"\nmember = []\n",
                "member",
            ),
            (
                "[[project]]\nname = \"abc\"\n[[project.service_token]]\nsubject = \"s\"\nsha = \"x\"\n",
                "sha",
            ),
        ] {
            let e = format!("{:#}", ConfigFile::parse(text).expect_err("refused"));
            assert!(e.contains(&format!("unknown field `{key}`")), "{text}: {e}");
        }
    }

    #[test]
    fn invalid_rules_are_refused_with_the_reason() {
        let base = "[[project]]\nname = \"abc\"\n";
        for (rest, needle) in [
            ("[[project.group]]\nname = \"g\"\nsource_id = \"x\"\nmembers = []\n", "exclusive"),
            ("[[project.group]]\nname = \"g\"\ncapabilities = [{ filesAcl = { actions = [\"READ\"], scope = { datasetScope = { ids = [] } } } }]\n", "at least one id"),
            ("[[project.service_token]]\nsubject = \"s\"\nsha256 = \"abc\"\n", "64 hex digits"),
            ("[[project.service_token]]\nsubject = \"s\"\nsha256 = \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"\ngroups = [\"nope\"]\n", "no group `nope`"),
            ("[[project.group]]\nname = \"g\"\n[[project.group]]\nname = \"g\"\n", "configured twice"),
            ("oidc = { issuer = \"i\", audience = \"a\" }\n", "jwks_url"),
            ("oidc = { jwks_url = \"file:///k.json\", issuer = \"i\", audience = \"a\" }\n", "http:// or https://"),
        ] {
            let file = ConfigFile::parse(&format!("{base}{rest}")).expect("parses");
            let e = format!("{:#}", file.access().expect_err("refused"));
            assert!(e.contains(needle), "{rest}: {e}");
        }
        let token = |project: &str, subject: &str| {
            format!(
                "[[project]]\nname = \"{project}\"\n[[project.group]]\nname = \"g\"\n[[project.service_token]]\n\
                 subject = \"{subject}\"\nsha256 = \"{}\"\ngroups = [\"g\"]\n",
                "ab".repeat(32)
            )
        };
        let shared = format!("{}{}", token("one", "ci"), token("two", "ci"));
        let shared = ConfigFile::parse(&shared)
            .expect("parses")
            .access()
            .expect("valid");
        assert_eq!(shared.expect("projects").projects.len(), 2);
        let clash = format!("{}{}", token("one", "ci"), token("two", "other"));
        let e = format!(
            "{:#}",
            ConfigFile::parse(&clash)
                .expect("parses")
                .access()
                .expect_err("refused")
        );
        assert!(e.contains("one token is one subject"), "{e}");
        let bad_name = ConfigFile::parse("[[project]]\nname = \"a_b\"\n").expect("parses");
        assert!(bad_name.access().is_err());
    }

    #[test]
    fn an_oidc_project_parses_in_the_issue_shape() {
        let file = ConfigFile::parse(
            "[[project]]\nname = \"plant-a\"\noidc = { jwks_url = \"https://idp.example.com/jwks\", issuer = \"https://idp.example.com/\", audience = \"cabinet\", access_claims = [\"groups\"], scope_claims = [\"scp\"], skew_ms = 0 }\n",
        )
        .expect("parses");
        let access = file.access().expect("valid").expect("projects");
        assert_eq!(access.oidc_projects(), vec!["plant-a"]);
        assert!(describe(&file, Some(&access)).contains("issuer https://idp.example.com/"));
    }

    #[test]
    fn config_check_counts_the_keys_of_a_jwks_file_and_flags_a_broken_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("good.json");
        std::fs::write(
            &good,
            r#"{"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#,
        )
        .expect("write");
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "not json").expect("write");
        for (path, needle) in [(&good, "(1 keys)"), (&bad, "UNUSABLE")] {
            let file = ConfigFile::parse(&format!(
                "[[project]]\nname = \"plant-a\"\noidc = {{ jwks_file = \"{}\", issuer = \"i\", audience = \"a\" }}\n",
                path.display()
            ))
            .expect("parses");
            let access = file.access().expect("valid").expect("projects");
            let text = describe(&file, Some(&access));
            assert!(text.contains(needle), "{text}");
        }
    }
}
