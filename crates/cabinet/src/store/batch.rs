//! Rules about a batch of files that both stores apply the same way.

use std::collections::HashSet;

use crate::domain::FileRecord;

/// The externalIds that two or more files of `files` would carry, each once, in the order of their
/// second holder: an update batch that would give them is refused with them as `duplicated`.
pub(crate) fn external_ids_twice(files: &[FileRecord]) -> Vec<String> {
    let mut clashes: Vec<String> = Vec::new();
    let mut taken: HashSet<&str> = HashSet::new();
    for file in files {
        if let Some(x) = &file.external_id {
            if !taken.insert(x) && !clashes.contains(x) {
                clashes.push(x.clone());
            }
        }
    }
    clashes
}
