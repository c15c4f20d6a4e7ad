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
