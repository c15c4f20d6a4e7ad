//! The limits of the CDF Files API (spec §2.3, §8), in one place so that the validation, the tests and the
//! documentation cannot disagree.

/// Largest id, external reference or data set id: 2^53 − 1, the largest integer JavaScript holds exactly.
pub const MAX_ID: i64 = 9_007_199_254_740_991;
/// Longest file name, in characters.
pub const MAX_NAME: usize = 256;
/// Longest externalId, in characters.
pub const MAX_EXTERNAL_ID: usize = 255;
/// Longest directory, in characters.
pub const MAX_DIRECTORY: usize = 512;
/// Longest source, in characters.
pub const MAX_SOURCE: usize = 128;
/// Longest mimeType, in characters.
pub const MAX_MIME_TYPE: usize = 256;
/// Longest metadata key, in bytes.
pub const MAX_METADATA_KEY_BYTES: usize = 128;
/// Longest metadata value, in bytes.
pub const MAX_METADATA_VALUE_BYTES: usize = 10_240;
/// Most metadata pairs on one file.
pub const MAX_METADATA_PAIRS: usize = 256;
/// Most bytes of all metadata keys and values of one file together.
pub const MAX_METADATA_TOTAL_BYTES: usize = 10_240;
/// Most asset links on one file.
pub const MAX_ASSET_IDS: usize = 1000;
/// Most security categories on one file.
pub const MAX_SECURITY_CATEGORIES: usize = 100;
/// Most labels on one file, and in one label list of a request.
pub const MAX_LABELS: usize = 10;
/// Largest `geoLocation` of a file, in bytes of its compact JSON text (properties included). CDF documents
/// no figure; 64 KiB holds a geometry of the most positions allowed below at 9 decimals
/// (`[10.123456789,59.123456789],` is 28 bytes), and keeps a page of 1000 files bounded (see
/// [`MAX_FILE_JSON_BYTES`]).
pub const MAX_GEO_LOCATION_BYTES: usize = 64 * 1024;
/// Largest `geoLocation` text a request may carry before it is parsed: the compact limit with room for
/// whitespace. Larger text is refused unread, so a huge geoLocation never becomes a tree in memory.
pub const MAX_GEO_LOCATION_REQUEST_BYTES: usize = 4 * MAX_GEO_LOCATION_BYTES;
/// Most positions (points, line and ring vertices together) in a file's `geoLocation` geometry. Relating
/// a geometry to a filter's shape builds its edge graph, which costs up to quadratic time in its positions
/// (about 6 ms for 2000 positions laid out as badly as possible, 26 ms for 4000).
pub const MAX_GEO_POINTS: usize = 2000;
/// Most positions in the shape of a `geoLocation` filter. The shape is prepared once per request (up to
/// quadratic time: about 45 ms for 5000 positions laid out as badly as possible, 3.4 s for 40,000), and
/// each file's test then costs time linear in the shape's positions.
pub const MAX_GEO_FILTER_POINTS: usize = 5000;
/// Most time the exact geometry tests of one request may take (the bounding boxes decide most files
/// without one). Files laid out as badly as possible cost up to about 80 ms each against a shape of the
/// most positions, so without a budget a request's cost would grow with the files in the shape's box.
pub const GEO_TEST_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);
/// Items per byids, update and delete request.
pub const MAX_ITEMS: usize = 1000;
/// Items per downloadlink request.
pub const MAX_DOWNLOAD_ITEMS: usize = 100;
/// Page size of list, when the client gives none.
pub const DEFAULT_LIST_LIMIT: usize = 100;
/// Largest page of list.
pub const MAX_LIST_LIMIT: usize = 1000;
/// Most parts of one multipart upload.
pub const MAX_PARTS: u32 = 250;
/// Largest body of a single-part upload, in bytes (spec: 5000 MB).
pub const MAX_SINGLE_UPLOAD_BYTES: u64 = 5_000_000_000;
/// Largest part of a multipart upload, in bytes (spec: less than 4000 MiB).
pub const MAX_PART_BYTES: u64 = 4000 * 1024 * 1024 - 1;
/// Smallest part of a multipart upload except the last, in bytes (what S3 enforces too).
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// Lifetime of upload URLs and of upload sessions, in milliseconds: one week.
pub const UPLOAD_URL_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// Lifetime of download URLs, in milliseconds.
pub const DOWNLOAD_URL_TTL_MS: i64 = 30 * 1000;
/// Lifetime of download URLs asked for with `extendedExpiration=true`, in milliseconds.
pub const EXTENDED_DOWNLOAD_URL_TTL_MS: i64 = 3600 * 1000;

/// Most bytes of a JSON string of `chars` characters: its quotes, and 6 bytes a character (a control
/// character is written `\u00XX`; no other character takes more than 4).
const fn json_string(chars: usize) -> usize {
    2 + 6 * chars
}

/// Most bytes of a member `"key":value,` whose value takes at most `value` bytes.
const fn member(key: &str, value: usize) -> usize {
    key.len() + 4 + value
}

/// Digits of the largest id (2^53 − 1).
const ID_DIGITS: usize = 16;
/// Digits of the largest time (i64::MAX ms; times are never negative).
const TIME_DIGITS: usize = 19;

/// Most bytes of one file's JSON as list, search, byids and update return it (without upload URLs),
/// derived from the limits above: every string at its longest in the worst escaping, metadata at its
/// total and pair limits, every list full, every number at its widest, the geoLocation at its limit.
/// A page of 1000 files is at most 1000 times this (about 172 MB); a file in memory takes less than its
/// JSON (strings and geoLocation are held unescaped, ids as 8 bytes).
pub const MAX_FILE_JSON_BYTES: usize = 2
    + member("id", ID_DIGITS)
    + member("externalId", json_string(MAX_EXTERNAL_ID))
    + member("name", json_string(MAX_NAME))
    + member("directory", json_string(MAX_DIRECTORY))
    + member("source", json_string(MAX_SOURCE))
    + member("mimeType", json_string(MAX_MIME_TYPE))
    // `{"k":"v",…}`: 6 bytes of quotes, colon and comma per pair, each byte of a key or value escaped.
    + member(
        "metadata",
        2 + 6 * MAX_METADATA_PAIRS + 6 * MAX_METADATA_TOTAL_BYTES,
    )
    + member("assetIds", 2 + MAX_ASSET_IDS * (ID_DIGITS + 1))
    + member("dataSetId", ID_DIGITS)
    + member("sourceCreatedTime", TIME_DIGITS)
    + member("sourceModifiedTime", TIME_DIGITS)
    + member(
        "securityCategories",
        2 + MAX_SECURITY_CATEGORIES * (ID_DIGITS + 1),
    )
    + member(
        "labels",
        2 + MAX_LABELS * (member("externalId", json_string(MAX_EXTERNAL_ID)) + 2),
    )
    + member("geoLocation", MAX_GEO_LOCATION_BYTES)
    + member("uploaded", 5)
    + member("uploadedTime", TIME_DIGITS)
    + member("createdTime", TIME_DIGITS)
    + member("lastUpdatedTime", TIME_DIGITS);
