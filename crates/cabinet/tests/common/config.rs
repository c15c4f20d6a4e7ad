//! The access-control configuration the process tests start servers with.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Writes `root/cabinet.toml`: the settings `extra` (top-level keys, may be empty), then one project
/// whose group `admins` holds filesAcl READ and WRITE on `all`, and a service token with `subject`
/// whose token is `token` (stored, as the server wants, by its SHA-256). Returns the file's path.
pub fn write_service_token_config(
    root: &Path,
    project: &str,
    subject: &str,
    token: &str,
    extra: &str,
) -> PathBuf {
    let path = root.join("cabinet.toml");
    std::fs::write(
        &path,
        format!(
            r#"{extra}

[[project]]
name = "{project}"

[[project.group]]
name = "admins"
capabilities = [{{ filesAcl = {{ actions = ["READ", "WRITE"], scope = {{ all = {{}} }} }} }}]

[[project.service_token]]
subject = "{subject}"
sha256 = "{}"
groups = ["admins"]
"#,
            cabinet::auth::token_sha256_hex(token)
        ),
    )
    .expect("the configuration file is written");
    path
}
