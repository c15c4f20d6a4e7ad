//! The parts of a filter's translation into SQL that are the same on every backend: `sqlite/filter_sql.rs`
//! and `postgres/filter_sql.rs` each write their own conditions, over columns of the same names.

use crate::domain::{FileFilter, TimeRange};

/// The filter's time ranges that are set, each with the column of `files` it is on, in the order the
/// filter's conditions are written.
pub(crate) fn time_ranges(filter: &FileFilter) -> impl Iterator<Item = (&'static str, &TimeRange)> {
    [
        ("created_time", &filter.created_time),
        ("last_updated_time", &filter.last_updated_time),
        ("uploaded_time", &filter.uploaded_time),
        ("source_created_time", &filter.source_created_time),
        ("source_modified_time", &filter.source_modified_time),
    ]
    .into_iter()
    .filter_map(|(column, range)| range.as_ref().map(|r| (column, r)))
}

/// The upper end of a prefix range: every string starting with `prefix` sorts below it in byte order
/// (except ones continuing with U+10FFFF itself, which no name or directory holds in practice; the exact
/// prefix test after the range keeps the answer right either way, for those inside the range).
pub(crate) fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}
