//! The bearer token: given (`--token`), or obtained with the OAuth client-credentials grant the Cognite
//! SDKs use (`OAuthClientCredentials`): a form POST of `grant_type=client_credentials`, `client_id`,
//! `client_secret` and `scope` to the token URL, whose JSON answer carries `access_token`.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};

use super::Connection;

/// A bearer token and, for one from the token endpoint, when it expires (`expires_in` of the answer).
pub struct Token {
    /// What to send as `Authorization: Bearer …`.
    pub value: String,
    /// When the endpoint said it expires; `None` for a given token or an answer without `expires_in`.
    pub expires_at: Option<Instant>,
    /// Whether it came from the token endpoint, so that a new one can be fetched.
    pub renewable: bool,
}

/// The token to send as `Authorization: Bearer …`.
pub async fn token(http: &reqwest::Client, c: &Connection) -> anyhow::Result<Token> {
    if let Some(token) = c.token.as_deref().filter(|t| !t.is_empty()) {
        return Ok(Token {
            value: token.to_string(),
            expires_at: None,
            renewable: false,
        });
    }
    let (Some(client_id), Some(secret), Some(url)) = (&c.client_id, &c.client_secret, &c.token_url)
    else {
        bail!("no credentials: give --token (CDF_TOKEN), or --client-id, --client-secret and --token-url");
    };
    // The SDKs accept scopes as a list; on the wire OAuth wants them separated by spaces.
    let scope = c
        .scopes
        .as_deref()
        .unwrap_or_default()
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", client_id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    if !scope.is_empty() {
        form.push(("scope", scope.as_str()));
    }
    let response = http
        .post(url)
        .form(&form)
        .send()
        .await
        .with_context(|| format!("token request to {url}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .context("reading the token response")?;
    if !status.is_success() {
        bail!(
            "token endpoint {url} answered {status}: {}",
            String::from_utf8_lossy(&body)
                .chars()
                .take(300)
                .collect::<String>()
        );
    }
    let value: serde_json::Value =
        serde_json::from_slice(&body).context("the token response is not JSON")?;
    let token = value["access_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("the token response has no access_token"))?;
    // A number of seconds, sometimes sent as a string.
    let expires_in = value["expires_in"].as_u64().or_else(|| {
        value["expires_in"]
            .as_str()
            .and_then(|s| s.trim().parse().ok())
    });
    Ok(Token {
        value: token,
        expires_at: expires_in.map(|s| Instant::now() + Duration::from_secs(s)),
        renewable: true,
    })
}
