//! The Files API calls the commands need, over one `reqwest` client: JSON in and out, CDF error envelopes
//! turned into messages, list cursors followed, and a few retries on throttling and transient faults.

use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};

use super::Connection;

/// A connection to one project of a Files API.
pub struct Client {
    pub http: reqwest::Client,
    base: String,
    project: String,
    /// The current token; replaced when it nears its expiry or the API answers 401 (client credentials).
    token: tokio::sync::Mutex<super::auth::Token>,
    connection: Connection,
}

/// How long before its expiry a token from the token endpoint is replaced: a long upload's next call
/// must not be sent with a token that expires on the way.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Attempts per API call on 429, 502, 503 and 504 (the answers that say "try again").
const ATTEMPTS: u32 = 4;

impl Client {
    /// Checks the options and authenticates (fetching a token for client credentials).
    pub async fn connect(c: &Connection) -> anyhow::Result<Client> {
        let base = c
            .base_url
            .as_deref()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| anyhow!("--base-url (CDF_BASE_URL) is required"))?
            .trim_end_matches('/')
            .to_string();
        let project = c
            .project
            .clone()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| anyhow!("--project (CDF_PROJECT) is required"))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .user_agent(concat!("cabinet-files/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        let token = super::auth::token(&http, c).await?;
        Ok(Client {
            http,
            base,
            project,
            token: tokio::sync::Mutex::new(token),
            connection: c.clone(),
        })
    }

    /// The token to send: the current one, or a new one from the token endpoint when the current one
    /// expires within [`REFRESH_MARGIN`], or when `rejected` (the value a 401 answered) is still the
    /// current one. Concurrent callers wait for one fetch and share it.
    async fn bearer(&self, rejected: Option<&str>) -> anyhow::Result<String> {
        let mut token = self.token.lock().await;
        let near_expiry = token
            .expires_at
            .is_some_and(|at| at <= std::time::Instant::now() + REFRESH_MARGIN);
        let refused = rejected.is_some_and(|r| r == token.value);
        if token.renewable && (near_expiry || refused) {
            *token = super::auth::token(&self.http, &self.connection).await?;
        }
        Ok(token.value.clone())
    }

    /// `BASE/api/v1/projects/PROJECT`: names the project in resume state.
    pub fn project_url(&self) -> String {
        format!("{}/api/v1/projects/{}", self.base, self.project)
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1/projects/{}/files{path}", self.base, self.project)
    }

    /// POSTs JSON to `/files{path}` and returns the JSON answer; a non-2xx answer is an error carrying the
    /// envelope's message.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let bytes = serde_json::to_vec(body)?;
        let mut attempt = 0;
        let mut rejected: Option<String> = None;
        loop {
            attempt += 1;
            let token = self.bearer(rejected.as_deref()).await?;
            let response = self
                .http
                .post(self.url(path))
                .bearer_auth(&token)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes.clone())
                .timeout(Duration::from_secs(120))
                .send()
                .await
                .with_context(|| format!("POST /files{path}"))?;
            let status = response.status();
            let text = response.bytes().await.unwrap_or_default();
            if status.is_success() {
                return if text.is_empty() {
                    Ok(json!({}))
                } else {
                    serde_json::from_slice(&text)
                        .with_context(|| format!("POST /files{path}: the answer is not JSON"))
                };
            }
            // A 401 with a token from the token endpoint: one new token, one more try (the token may
            // have been revoked or expired early; a second 401 is the answer).
            if status == reqwest::StatusCode::UNAUTHORIZED
                && rejected.is_none()
                && self.token.lock().await.renewable
            {
                rejected = Some(token);
                attempt -= 1;
                continue;
            }
            if attempt < ATTEMPTS && retried(path, status.as_u16()) {
                tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
                continue;
            }
            bail!("POST /files{path}: {}", error_message(status, &text));
        }
    }

    /// The files with these identifiers (`{"id":…}` / `{"externalId":…}`); unknown ones are left out.
    pub async fn by_ids(&self, items: Vec<Value>) -> anyhow::Result<Vec<Value>> {
        let mut out = Vec::new();
        for chunk in items.chunks(1000) {
            let answer = self
                .post(
                    "/byids",
                    &json!({ "items": chunk, "ignoreUnknownIds": true }),
                )
                .await?;
            out.extend(items_of(answer));
        }
        Ok(out)
    }

    /// One file by identifier; an error when it does not exist.
    pub async fn one(&self, item: Value) -> anyhow::Result<Value> {
        self.by_ids(vec![item.clone()])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("no file {item}"))
    }

    /// Every file matching `filter`, following cursors, at most `limit` when given.
    pub async fn list(&self, filter: Value, limit: Option<usize>) -> anyhow::Result<Vec<Value>> {
        let mut out: Vec<Value> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let want = limit.map_or(1000, |l| l.saturating_sub(out.len()).min(1000));
            if want == 0 {
                break;
            }
            let mut body = json!({ "filter": filter, "limit": want });
            if let Some(c) = &cursor {
                body["cursor"] = json!(c);
            }
            let answer = self.post("/list", &body).await?;
            cursor = answer["nextCursor"]
                .as_str()
                .filter(|c| !c.is_empty())
                .map(str::to_string);
            out.extend(items_of(answer));
            if cursor.is_none() {
                break;
            }
        }
        Ok(out)
    }

    /// A fresh download URL for the file with this id.
    pub async fn download_url(&self, id: i64) -> anyhow::Result<String> {
        let answer = self
            .post("/downloadlink", &json!({ "items": [{ "id": id }] }))
            .await?;
        answer["items"][0]["downloadUrl"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("downloadlink: no downloadUrl for id {id}"))
    }

    /// Deletes files by identifier.
    pub async fn delete(&self, items: Vec<Value>) -> anyhow::Result<()> {
        for chunk in items.chunks(1000) {
            self.post(
                "/delete",
                &json!({ "items": chunk, "ignoreUnknownIds": false }),
            )
            .await?;
        }
        Ok(())
    }
}

/// The `items` of an answer.
pub fn items_of(mut answer: Value) -> Vec<Value> {
    match answer["items"].take() {
        Value::Array(items) => items,
        _ => Vec::new(),
    }
}

/// "STATUS: message" from a CDF error envelope, or the start of the body when it is not one.
pub fn error_message(status: reqwest::StatusCode, body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| {
            let e = &v["error"];
            let mut m = e["message"].as_str()?.to_string();
            for key in ["missing", "duplicated"] {
                if let Some(list) = e[key].as_array() {
                    m.push_str(&format!(" ({key}: {})", Value::Array(list.clone())));
                }
            }
            Some(m)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(300).collect());
    format!("{status}: {message}")
}

/// Whether an answer of `status` to `POST /files{path}` is tried again: 429 always (nothing was done);
/// 502, 503 and 504 only where replaying is harmless, not for a create (`""`, `"?overwrite=…"`) or a
/// delete, whose first attempt may have been carried out (as the Python SDK decides).
fn retried(path: &str, status: u16) -> bool {
    let replayable = !(path.is_empty() || path.starts_with('?') || path == "/delete");
    status == 429 || (replayable && (502..=504).contains(&status))
}

#[cfg(test)]
mod tests {
    use super::retried;

    #[test]
    fn creates_and_deletes_are_replayed_only_after_a_429() {
        for path in ["", "?overwrite=true", "/delete"] {
            assert!(retried(path, 429), "{path}");
            assert!(!retried(path, 503), "{path}");
        }
        for path in [
            "/list",
            "/byids",
            "/downloadlink",
            "/initmultipartupload?parts=3",
        ] {
            assert!(retried(path, 502) && retried(path, 504), "{path}");
        }
        assert!(!retried("/list", 500));
    }
}
