//! The list shape the data set and label routes share: a `limit` with a default, a sealed cursor of the
//! last position read, and pages from which a scoped caller's invisible rows are dropped while the page
//! still fills up where more rows follow. Also the parsing of a create's items.

use std::future::Future;

use serde_json::{json, Value};

use crate::api::cursor::CursorCodec;
use crate::api::error::ApiError;
use crate::api::AppState;
use crate::domain::Invalid;
use crate::store::StoreError;

/// Each of a request's `items` parsed by `parse`; the first failure is a 400 naming `items[i]`.
pub(super) fn parse_items<T>(
    items: &[Value],
    parse: impl Fn(&Value) -> Result<T, Invalid>,
) -> Result<Vec<T>, ApiError> {
    items
        .iter()
        .enumerate()
        .map(|(i, v)| parse(v).map_err(|e| e.within(&format!("items[{i}]")).into()))
        .collect()
}

/// A list body's `limit`: `default` when absent, else 1 to `max` (a 400 otherwise).
pub(super) fn page_limit(
    limit: Option<i64>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match limit {
        None => Ok(default),
        Some(l) if (1..=max as i64).contains(&l) => Ok(l as usize),
        Some(_) => Err(ApiError::bad_request(format!("limit: must be 1 to {max}"))),
    }
}

/// One page of a list over positions (ids, or a hidden sequence), resumed after the position in
/// `cursor` (sealed with `fingerprint`, the query's; from the start without one). `fetch(after, n)` reads
/// up to `n` rows after `after` and says whether more follow; rows that are not `visible` are dropped and
/// more are read until `limit` are kept or none are left. Answers the rows kept and the cursor of the next
/// page when more may follow.
pub(super) async fn visible_page<T, F, Fut>(
    app: &AppState,
    cursor: Option<&str>,
    fingerprint: [u8; 8],
    limit: usize,
    mut fetch: F,
    position: impl Fn(&T) -> i64,
    visible: impl Fn(&T) -> bool,
) -> Result<(Vec<T>, Option<String>), ApiError>
where
    F: FnMut(i64, usize) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, bool), StoreError>>,
{
    let mut after = match cursor.filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => app.cursors.open(c, fingerprint).map_err(|_| {
            ApiError::bad_request(
                "cursor: not a cursor of this query (the filter changed, or it was altered)",
            )
        })?,
    };
    let mut items = Vec::new();
    let mut next = None;
    loop {
        let (page, more) = fetch(after, limit - items.len()).await?;
        let last = page.last().map(&position);
        items.extend(page.into_iter().filter(|row| visible(row)));
        match (more, last) {
            (true, Some(last)) if items.len() < limit => after = last,
            (true, Some(last)) => {
                next = Some(app.cursors.seal(last, fingerprint));
                break;
            }
            _ => break,
        }
    }
    Ok((items, next))
}

/// A list's answer: `{"items": [...], "nextCursor"?}`.
pub(super) fn page_json(items: Vec<Value>, next: Option<String>) -> Value {
    let mut body = json!({ "items": items });
    if let Some(next) = next {
        body["nextCursor"] = json!(next);
    }
    body
}

/// The fingerprint a list of `kind` (`datasets`, `labels`) filtered by `raw` seals its cursors with.
pub(super) fn fingerprint(
    project: &str,
    kind: &str,
    raw: &serde_json::Map<String, Value>,
) -> [u8; 8] {
    CursorCodec::fingerprint(project, &format!("{kind}|{}", Value::Object(raw.clone())))
}
