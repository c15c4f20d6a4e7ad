//! Blob keys of completed uploads: `{project}/{file id & 0xfff in hex}/{file id}/{session id}-{nonce}`.
//!
//! A key is fresh for every upload that completes, so content under a key never changes (the key is also
//! the download ETag). It names the file and the upload session it came from, which lets the orphan
//! collector ask the metadata store whether a stored object is still some file's content, and lets a
//! publish tell whether the file's current content came from a newer upload session.

use super::ProjectName;

/// A fresh key for content of `file_id` uploaded through `session`, spread over subdirectories so that no
/// directory grows huge.
pub fn new_content_key(project: &ProjectName, file_id: i64, session: &str) -> String {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{project}/{:03x}/{file_id}/{session}-{}",
        file_id & 0xfff,
        &nonce[..12]
    )
}

/// The file id a key was made for; `None` for a key of another shape.
pub fn content_key_file_id(key: &str) -> Option<i64> {
    let mut segments = key.rsplit('/');
    let _last = segments.next()?;
    segments.next()?.parse().ok()
}

/// The upload session a key was made for; `None` for a key of another shape.
pub fn content_key_session(key: &str) -> Option<&str> {
    let last = key.rsplit('/').next()?;
    let (session, _nonce) = last.rsplit_once('-')?;
    (!session.is_empty()).then_some(session)
}

/// Whether content uploaded through session `current` (the file's content now) came from a newer upload
/// session than `session`, so that `session` must no longer replace it. Session ids begin with their
/// creation time in fixed-width hex (`api::routes::new_session`), so newer ids sort after older ones; two
/// sessions of one file made in the same millisecond are ordered by their random rest.
pub fn is_newer_session(current: &str, session: &str) -> bool {
    let time_led = |s: &str| s.len() >= 12 && s.bytes().all(|b| b.is_ascii_hexdigit());
    time_led(current) && time_led(session) && current > session
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_names_its_file_and_session() {
        let project = ProjectName::parse("plant-a").unwrap();
        let session = "0190a1b2c3d4aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let key = new_content_key(&project, 4_000_123, session);
        assert!(key.starts_with("plant-a/"), "{key}");
        assert_eq!(content_key_file_id(&key), Some(4_000_123));
        assert_eq!(content_key_session(&key), Some(session));
        assert_ne!(key, new_content_key(&project, 4_000_123, session));
        assert_eq!(content_key_file_id("nonsense"), None);
        assert_eq!(content_key_session("a/b/c"), None);
    }

    #[test]
    fn newer_sessions_sort_after_older_ones() {
        let older = "0190a1b2c3d4ffffffffffffffffffffffffffffffff";
        let newer = "0190a1b2c3d50000000000000000000000000000000000";
        assert!(is_newer_session(newer, older));
        assert!(!is_newer_session(older, newer));
        assert!(!is_newer_session(older, older));
        assert!(
            !is_newer_session("legacy-id", older),
            "ids of another shape never block"
        );
    }
}
