//! Conditional requests on download URLs (RFC 9110 §13): `If-Match`, `If-None-Match` and `If-Range`
//! against the content's ETag, evaluated in the order of §13.2.2.
//!
//! The ETag is strong: it names one completed upload, whose bytes never change. There is no
//! `Last-Modified`, so `If-Unmodified-Since` and `If-Modified-Since` are not evaluated, and an `If-Range`
//! holding a date never matches (the whole content is sent, as for a changed ETag).

use axum::http::{header, HeaderMap, HeaderName};

/// What the preconditions of a GET or HEAD ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Serve the content (the Range header may still apply, see [`range_applies`]).
    Proceed,
    /// 304: `If-None-Match` names the current content (weak comparison) or is `*`.
    NotModified,
    /// 412: `If-Match` names no current content (strong comparison), or cannot be read.
    Failed,
}

/// Evaluates `If-Match`, then `If-None-Match`, for a GET or HEAD of content whose ETag is `etag`
/// (quoted, strong).
pub fn evaluate(headers: &HeaderMap, etag: &str) -> Precondition {
    if let Some(list) = header_list(headers, &header::IF_MATCH) {
        let matches = list.is_some_and(|tags| match tags {
            Tags::Any => true,
            Tags::List(tags) => tags.iter().any(|t| t.strong_eq(etag)),
        });
        if !matches {
            return Precondition::Failed;
        }
    }
    if let Some(Some(tags)) = header_list(headers, &header::IF_NONE_MATCH) {
        let matches = match tags {
            Tags::Any => true,
            Tags::List(tags) => tags.iter().any(|t| t.weak_eq(etag)),
        };
        if matches {
            return Precondition::NotModified;
        }
    }
    Precondition::Proceed
}

/// Whether a `Range` header may be honoured: there is no `If-Range`, or it holds exactly the current
/// strong ETag. Otherwise the content has changed (or the validator is weak, a date, or unreadable)
/// and the whole current content must be sent, so a resumed download never mixes two versions.
pub fn range_applies(headers: &HeaderMap, etag: &str) -> bool {
    let Some(value) = headers.get(header::IF_RANGE) else {
        return true;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    match parse_tags(value) {
        Some(Tags::List(tags)) => matches!(tags.as_slice(), [tag] if tag.strong_eq(etag)),
        _ => false,
    }
}

/// One entity-tag: `"opaque"` or `W/"opaque"`.
#[derive(Debug, PartialEq, Eq)]
struct EntityTag<'a> {
    weak: bool,
    /// With its quotes.
    opaque: &'a str,
}

impl EntityTag<'_> {
    /// Strong comparison (§8.8.3.2): neither is weak and the opaque tags are equal. `etag` is ours: strong.
    fn strong_eq(&self, etag: &str) -> bool {
        !self.weak && self.opaque == etag
    }

    /// Weak comparison: the opaque tags are equal, whatever the `W/`.
    fn weak_eq(&self, etag: &str) -> bool {
        self.opaque == etag
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Tags<'a> {
    /// `*`.
    Any,
    List(Vec<EntityTag<'a>>),
}

/// The combined values of a list header: `None` when absent, `Some(None)` when unreadable.
fn header_list<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<Option<Tags<'h>>> {
    let mut values = headers.get_all(name).iter().peekable();
    values.peek()?;
    let mut all = Vec::new();
    for value in values {
        match value.to_str().ok().and_then(parse_tags) {
            Some(Tags::Any) => return Some(Some(Tags::Any)),
            Some(Tags::List(tags)) => all.extend(tags),
            None => return Some(None),
        }
    }
    Some(Some(Tags::List(all)))
}

/// Parses `*` or a comma-separated list of entity-tags (§8.8.3); `None` when it is neither.
fn parse_tags(value: &str) -> Option<Tags<'_>> {
    if value.trim() == "*" {
        return Some(Tags::Any);
    }
    let mut tags = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            break;
        }
        let (weak, tail) = match rest.strip_prefix("W/") {
            Some(tail) => (true, tail),
            None => (false, rest),
        };
        let inner = tail.strip_prefix('"')?;
        let end = inner.find('"')?;
        let opaque = &tail[..end + 2];
        if !opaque[1..opaque.len() - 1]
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
        {
            return None;
        }
        tags.push(EntityTag { weak, opaque });
        rest = &tail[end + 2..];
        let after = rest.trim_start_matches([' ', '\t']);
        if !(after.is_empty() || after.starts_with(',')) {
            return None;
        }
    }
    if tags.is_empty() {
        return None;
    }
    Some(Tags::List(tags))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const TAG: &str = "\"v2\"";

    fn headers(pairs: &[(HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        h
    }

    #[test]
    fn parses_entity_tag_lists() {
        assert_eq!(parse_tags("*"), Some(Tags::Any));
        assert_eq!(
            parse_tags(" \"a\", W/\"b,c\" ,\"\""),
            Some(Tags::List(vec![
                EntityTag {
                    weak: false,
                    opaque: "\"a\""
                },
                EntityTag {
                    weak: true,
                    opaque: "\"b,c\""
                },
                EntityTag {
                    weak: false,
                    opaque: "\"\""
                },
            ]))
        );
        for bad in ["", "a", "\"a", "\"a\" b", "w/\"a\"", "\"a\"\"b\"", ","] {
            assert_eq!(parse_tags(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn if_match_needs_a_strong_match() {
        use Precondition::*;
        let with = |v: &str| evaluate(&headers(&[(header::IF_MATCH, v)]), TAG);
        assert_eq!(evaluate(&HeaderMap::new(), TAG), Proceed);
        assert_eq!(with("\"v2\""), Proceed);
        assert_eq!(with("\"v1\", \"v2\""), Proceed);
        assert_eq!(with("*"), Proceed);
        assert_eq!(with("\"v1\""), Failed);
        assert_eq!(with("W/\"v2\""), Failed);
        assert_eq!(with("garbage"), Failed);
        // Repeated header lines form one list.
        let two = headers(&[(header::IF_MATCH, "\"v1\""), (header::IF_MATCH, "\"v2\"")]);
        assert_eq!(evaluate(&two, TAG), Proceed);
    }

    #[test]
    fn if_none_match_compares_weakly() {
        use Precondition::*;
        let with = |v: &str| evaluate(&headers(&[(header::IF_NONE_MATCH, v)]), TAG);
        assert_eq!(with("\"v2\""), NotModified);
        assert_eq!(with("W/\"v2\""), NotModified);
        assert_eq!(with("\"v1\", W/\"v2\""), NotModified);
        assert_eq!(with("*"), NotModified);
        assert_eq!(with("\"v1\""), Proceed);
        assert_eq!(with("garbage"), Proceed);
        // If-Match is evaluated first.
        let both = headers(&[
            (header::IF_MATCH, "\"v1\""),
            (header::IF_NONE_MATCH, "\"v2\""),
        ]);
        assert_eq!(evaluate(&both, TAG), Failed);
    }

    #[test]
    fn if_range_needs_the_same_strong_tag() {
        let with = |v: &str| range_applies(&headers(&[(header::IF_RANGE, v)]), TAG);
        assert!(range_applies(&HeaderMap::new(), TAG));
        assert!(with("\"v2\""));
        assert!(!with("\"v1\""));
        assert!(!with("W/\"v2\""));
        assert!(!with("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert!(!with("\"v1\", \"v2\""));
        assert!(!with("*"));
    }
}
