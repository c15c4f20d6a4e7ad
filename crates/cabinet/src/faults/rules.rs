//! What a fault rule says (the shape of `POST /_cabinet/faults` items and of `[faults] items` in the
//! configuration file), how it is checked, and which requests it matches.

use serde::{Deserialize, Serialize};

/// The routes of the signed content URLs, which live outside `/api/v1/projects/{project}/`: a PUT to an
/// upload URL is `files/upload`, a GET of a download URL is `files/download`.
pub const UPLOAD_ROUTE: &str = "files/upload";
/// See [`UPLOAD_ROUTE`].
pub const DOWNLOAD_ROUTE: &str = "files/download";

/// Longest added latency: long enough for any client timeout test, short enough that a typo does not hang
/// a test suite for hours.
pub const MAX_LATENCY_MS: u64 = 600_000;

/// The faults that are not a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    /// The connection is closed without a response.
    Reset,
    /// A response body (a download) that stops half-way, after a full `Content-Length`; on an upload
    /// URL, the request body fails half-way and the upload answers 500.
    Truncate,
}

/// One rule as a client writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSpec {
    /// A pattern over the path after `/api/v1/projects/{project}/` (`files/list`, `files/*`), or
    /// [`UPLOAD_ROUTE`] / [`DOWNLOAD_ROUTE`]; `*` matches any run of characters, `/` included.
    pub route: String,
    /// The HTTP method; any when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The project; any when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Answer with this status (400 to 599) and a CDF error envelope instead of serving the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The `Retry-After` seconds of a 429 or 503 (a 429 gets 1 when this is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Wait this long before answering (alone, or before the status or fault).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// A connection-level fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultKind>,
    /// Fire on the next N matching requests only; without it, on every matching request (or with
    /// `probability`) until removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    /// Fire on each matching request with this chance (0 to 1), drawn from the seeded generator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

impl FaultSpec {
    /// The rule, normalised (method in upper case), or what is wrong with it.
    pub fn checked(mut self) -> Result<Self, String> {
        if self.route.trim().is_empty() {
            return Err("route must not be empty (e.g. \"files/list\" or \"files/*\")".into());
        }
        if let Some(method) = &self.method {
            if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(format!("method '{method}' is not an HTTP method"));
            }
            self.method = Some(method.to_ascii_uppercase());
        }
        if let Some(status) = self.status {
            if !(400..=599).contains(&status) {
                return Err(format!("status {status} is not a 4xx or 5xx status"));
            }
        }
        if self.status.is_some() && self.fault.is_some() {
            return Err("give status or fault, not both".into());
        }
        if self.status.is_none() && self.fault.is_none() && self.latency_ms.is_none() {
            return Err("give status, fault or latencyMs: the rule would do nothing".into());
        }
        if self.retry_after.is_some() && !matches!(self.status, Some(429 | 503)) {
            return Err("retryAfter goes with status 429 or 503".into());
        }
        if self.latency_ms.is_some_and(|ms| ms > MAX_LATENCY_MS) {
            return Err(format!("latencyMs must be at most {MAX_LATENCY_MS}"));
        }
        if self.times == Some(0) {
            return Err("times must be at least 1".into());
        }
        if let Some(p) = self.probability {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("probability {p} is not between 0 and 1"));
            }
        }
        Ok(self)
    }

    /// Whether a request of `method` to `route` in `project` is one this rule is about.
    pub fn matches(&self, target: &Target<'_>) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(target.method))
            && self.project.as_deref().is_none_or(|p| p == target.project)
            && glob(self.route.as_bytes(), target.route.as_bytes())
    }

    /// The `Retry-After` seconds this rule's status carries, if any.
    pub fn retry_after(&self) -> Option<u64> {
        match self.status {
            Some(429) => Some(self.retry_after.unwrap_or(1)),
            Some(503) => self.retry_after,
            _ => None,
        }
    }
}

/// A request as the rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The project the path names.
    pub project: &'a str,
    /// The path after `/api/v1/projects/{project}/`, or [`UPLOAD_ROUTE`] / [`DOWNLOAD_ROUTE`].
    pub route: &'a str,
}

impl<'a> Target<'a> {
    /// The target of a request to `path`; `None` for paths no rule can name (the admin API, probes,
    /// the OpenAPI document), which are never faulted.
    pub fn of(method: &'a str, path: &'a str) -> Option<Self> {
        if let Some(rest) = path.strip_prefix("/api/v1/projects/") {
            let (project, route) = rest.split_once('/').unwrap_or((rest, ""));
            return Some(Self {
                method,
                project,
                route,
            });
        }
        // /blob/v1/{project}/files/{id}/uploads/{session} and /blob/v1/{project}/files/{id}/content
        let rest = path.strip_prefix("/blob/v1/")?;
        let (project, rest) = rest.split_once('/')?;
        let parts: Vec<&str> = rest.split('/').collect();
        let route = match parts.as_slice() {
            ["files", _, "uploads", _] => UPLOAD_ROUTE,
            ["files", _, "content"] => DOWNLOAD_ROUTE,
            _ => return None,
        };
        Some(Self {
            method,
            project,
            route,
        })
    }
}

/// Whether `pattern`, where `*` stands for any run of bytes, matches all of `text`.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    // Iterative matching with one backtrack point: linear enough for routes.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Result<FaultSpec, String> {
        serde_json::from_value::<FaultSpec>(json)
            .map_err(|e| e.to_string())?
            .checked()
    }

    #[test]
    fn patterns_match_whole_routes() {
        assert!(glob(b"files/list", b"files/list"));
        assert!(!glob(b"files/list", b"files/listx"));
        assert!(glob(b"files/*", b"files/list"));
        assert!(glob(b"files/*", b"files/123"));
        assert!(!glob(b"files/*", b"files"));
        assert!(glob(b"*", b""));
        assert!(glob(b"*/list", b"assets/list"));
        assert!(glob(b"f*s/*t", b"files/list"));
        assert!(!glob(b"f*s/*t", b"files/search"));
    }

    #[test]
    fn targets_name_api_and_content_routes() {
        let t = Target::of("POST", "/api/v1/projects/p1/files/list").unwrap();
        assert_eq!((t.project, t.route), ("p1", "files/list"));
        let t = Target::of("PUT", "/blob/v1/p1/files/7/uploads/abc").unwrap();
        assert_eq!((t.project, t.route), ("p1", UPLOAD_ROUTE));
        let t = Target::of("GET", "/blob/v1/p1/files/7/content").unwrap();
        assert_eq!((t.project, t.route), ("p1", DOWNLOAD_ROUTE));
        assert!(Target::of("GET", "/_cabinet/faults").is_none());
        assert!(Target::of("GET", "/healthz").is_none());
        assert!(Target::of("GET", "/blob/v1/p1/other").is_none());
    }

    #[test]
    fn rules_are_checked() {
        let ok = spec(serde_json::json!({"route": "files/list", "method": "post", "status": 429}))
            .unwrap();
        assert_eq!(ok.method.as_deref(), Some("POST"));
        assert_eq!(ok.retry_after(), Some(1));
        for bad in [
            serde_json::json!({"route": "files/list"}),
            serde_json::json!({"route": "", "status": 500}),
            serde_json::json!({"route": "x", "status": 200}),
            serde_json::json!({"route": "x", "status": 500, "fault": "reset"}),
            serde_json::json!({"route": "x", "status": 500, "retryAfter": 2}),
            serde_json::json!({"route": "x", "status": 500, "times": 0}),
            serde_json::json!({"route": "x", "status": 500, "probability": 1.5}),
            serde_json::json!({"route": "x", "fault": "explode"}),
            serde_json::json!({"route": "x", "status": 500, "color": "red"}),
            serde_json::json!({"route": "x", "latencyMs": 600_001}),
        ] {
            assert!(spec(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn rules_match_method_project_and_route() {
        let rule = spec(serde_json::json!({"route": "files/*", "method": "POST", "project": "a", "status": 503})).unwrap();
        let t = |m, p, r| Target {
            method: m,
            project: p,
            route: r,
        };
        assert!(rule.matches(&t("POST", "a", "files/list")));
        assert!(!rule.matches(&t("GET", "a", "files/list")));
        assert!(!rule.matches(&t("POST", "b", "files/list")));
        assert!(!rule.matches(&t("POST", "a", "assets/list")));
    }
}
