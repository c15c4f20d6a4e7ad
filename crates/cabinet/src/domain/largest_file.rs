//! The largest legal file, built from the limits: what every bound on a file, and so on a page of files,
//! is checked against.

use serde_json::{json, Value};

use super::limits::*;

/// The create body of the largest legal file, number `i` (its externalId starts with `i`, so many of them
/// can be created): every field at its limit, every string of control characters (6 bytes each in JSON),
/// the geoLocation at its most positions and bytes. For the tests and benchmarks of [`MAX_FILE_JSON_BYTES`]:
/// this is what a page of 1,000 files at their worst looks like.
pub fn largest_file_body(i: usize) -> Value {
    let c = |n: usize| "\u{1}".repeat(n);
    // Control characters that JSON escapes as `\u00XX`, for distinct metadata keys.
    let escaped: Vec<char> = (1u8..0x20)
        .filter(|b| !(0x08..=0x0d).contains(b) || *b == 0x0b)
        .map(char::from)
        .collect();
    let per_pair = MAX_METADATA_TOTAL_BYTES / MAX_METADATA_PAIRS;
    let metadata: serde_json::Map<String, Value> = (0..MAX_METADATA_PAIRS)
        .map(|k| {
            let key: String = [escaped[k % escaped.len()], escaped[k / escaped.len()]]
                .into_iter()
                .collect();
            let value = c(per_pair - key.len());
            (key, Value::String(value))
        })
        .collect();
    let positions: Vec<Value> = (0..MAX_GEO_POINTS)
        .map(|k| json!([k as f64 + 0.5, -(k as f64) - 0.5]))
        .collect();
    let mut geo = json!({"type": "Feature", "geometry": {"type": "MultiPoint", "coordinates": positions},
                         "properties": {"p": ""}});
    let room = MAX_GEO_LOCATION_BYTES - geo.to_string().len();
    geo["properties"]["p"] = Value::String(c(room / 6));
    json!({
        "name": c(MAX_NAME),
        "externalId": format!("{i:06}{}", c(MAX_EXTERNAL_ID - 6)),
        "directory": format!("/{}", c(MAX_DIRECTORY - 1)),
        "source": c(MAX_SOURCE),
        "mimeType": c(MAX_MIME_TYPE),
        "metadata": metadata,
        "assetIds": vec![MAX_ID; MAX_ASSET_IDS],
        "dataSetId": MAX_ID,
        "sourceCreatedTime": i64::MAX,
        "sourceModifiedTime": i64::MAX,
        "securityCategories": vec![MAX_ID; MAX_SECURITY_CATEGORIES],
        "labels": (0..MAX_LABELS)
            .map(|l| json!({"externalId": format!("{l}{}", c(MAX_EXTERNAL_ID - 1))}))
            .collect::<Vec<_>>(),
        "geoLocation": geo,
    })
}
