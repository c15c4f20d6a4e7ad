//! Which metadata backend a server runs on: `--metadata` (`metadata` in the configuration file,
//! `CABINET_METADATA`). Without one, the embedded SQLite store under the data directory.

use std::fmt;
use std::str::FromStr;

/// The metadata backend a server was told to use.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum MetadataBackend {
    /// SQLite in the data directory.
    #[default]
    Embedded,
    /// A PostgreSQL database shared by every node of a deployment, by its URL (which may hold a password,
    /// so it is never printed: see the `Debug` and `Display` implementations).
    Postgres(String),
}

impl FromStr for MetadataBackend {
    type Err = String;

    /// Accepts `postgres://…` and `postgresql://…` URLs that the driver can read. The error never repeats
    /// the value, which may hold a password.
    fn from_str(value: &str) -> Result<Self, String> {
        let value = value.trim();
        let scheme = value.split_once("://").map(|(scheme, _)| scheme);
        match scheme {
            Some("postgres" | "postgresql") => match super::postgres::parse_url(value) {
                Ok(_) => Ok(MetadataBackend::Postgres(value.to_string())),
                Err(e) => Err(format!(
                    "the metadata URL is not a valid PostgreSQL URL ({})",
                    source_of(&e)
                )),
            },
            _ => Err(
                "the metadata backend must be a URL postgres://USER:PASSWORD@HOST:PORT/DATABASE \
                 (leave it out for the embedded SQLite store)"
                    .to_string(),
            ),
        }
    }
}

fn source_of(e: &super::StoreError) -> String {
    match e {
        super::StoreError::Internal { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

impl fmt::Display for MetadataBackend {
    /// The backend with the URL's password left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetadataBackend::Embedded => f.write_str("embedded SQLite"),
            MetadataBackend::Postgres(url) => {
                let Some(config) = super::postgres::parse_url(url).ok() else {
                    return f.write_str("postgres://(unreadable URL)");
                };
                let user = config.get_user().unwrap_or("");
                let host = match config.get_hosts().first() {
                    Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
                    Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
                    None => String::new(),
                };
                let port = config.get_ports().first().copied().unwrap_or(5432);
                let db = config.get_dbname().unwrap_or("");
                write!(f, "postgres://{user}@{host}:{port}/{db}")
            }
        }
    }
}

impl fmt::Debug for MetadataBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_are_accepted_and_never_printed_with_their_password() {
        let backend: MetadataBackend = "postgres://cab:s3cret@db.example:6432/files"
            .parse()
            .expect("a valid URL");
        assert_eq!(
            backend,
            MetadataBackend::Postgres("postgres://cab:s3cret@db.example:6432/files".into())
        );
        let shown = format!("{backend} {backend:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("postgres://cab@db.example:6432/files"),
            "{shown}"
        );
        assert!("postgresql://u@h/d".parse::<MetadataBackend>().is_ok());
    }

    #[test]
    fn other_values_are_refused_without_echoing_them() {
        for bad in [
            "sqlite:///x",
            "mysql://u:hunter2@h/d",
            "",
            "postgres://u:hunter2@h:notaport/d",
        ] {
            let err = bad.parse::<MetadataBackend>().expect_err(bad);
            assert!(!err.contains("hunter2"), "{err}");
        }
    }
}
