//! `cabinet keys rotate` and `cabinet keys list`: what they do to a data directory's ring, and what they
//! print (ids and times, never key bytes).

use std::fmt::Write;
use std::path::Path;

use anyhow::Context;

use super::live::CHECK_INTERVAL;
use super::ring::{kept_until, KeyRing, LEGACY_ID};
use super::store::{FileKeyRingStore, KeyRingStore};

/// Adds a new current key to the ring of `data_dir` at `now` (making the ring first if the directory has
/// none yet), prunes the keys nothing valid can have been signed with, and says what it did.
pub fn rotate(data_dir: &Path, now: i64) -> anyhow::Result<String> {
    let store = ring_store(data_dir)?;
    rotate_in(&store, &store.path().display().to_string(), now)
}

/// [`rotate`] on any ring store; `place` names it in errors. Blocks on the store.
pub fn rotate_in(store: &dyn KeyRingStore, place: &str, now: i64) -> anyhow::Result<String> {
    let mut rotation = None;
    let ring = store
        .update(&mut |old| match old {
            Some(old) => {
                let mut ring = old.clone();
                rotation = Some(ring.rotate(now));
                Some(ring)
            }
            // A first ring: its new key replaces the derived one.
            None => Some(KeyRing::new(now)),
        })
        .with_context(|| format!("cannot rotate the keys in {place}"))?;
    let pruned = rotation.map(|r| r.pruned).unwrap_or_default();
    let current = ring.current();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "new current key: {} (created {})",
        current.id,
        utc(current.created_ms)
    );
    for (id, retired) in retired(&ring) {
        let _ = writeln!(
            out,
            "kept: {id} (retired {}; URLs it signed may be valid until {})",
            utc(retired),
            utc(kept_until(retired))
        );
    }
    for id in pruned {
        let _ = writeln!(out, "pruned: {id} (every URL it signed has expired)");
    }
    let _ = writeln!(
        out,
        "running servers sign new URLs with {} within {} s",
        current.id,
        CHECK_INTERVAL.as_secs()
    );
    Ok(out)
}

/// The keys of `data_dir`'s ring: id, creation time, current or until when it is kept.
pub fn list(data_dir: &Path) -> anyhow::Result<String> {
    let store = ring_store(data_dir)?;
    list_in(&store, &data_dir.display().to_string())
}

/// [`list`] on any ring store; `place` names it in errors. Blocks on the store.
pub fn list_in(store: &dyn KeyRingStore, place: &str) -> anyhow::Result<String> {
    let ring = store.load()?.with_context(|| {
        format!(
            "{place} holds no URL signing keys yet: `cabinet serve` makes them on its first start, \
                 `cabinet keys rotate` makes them now"
        )
    })?;
    let mut out = String::new();
    let _ = writeln!(out, "{:<16}  {:<20}  STATE", "ID", "CREATED");
    for key in ring.keys() {
        let state = match key.retired_ms {
            None => "current".to_string(),
            Some(r) => format!("retired {}, kept until {}", utc(r), utc(kept_until(r))),
        };
        let _ = writeln!(out, "{:<16}  {:<20}  {state}", key.id, utc(key.created_ms));
    }
    if let Some(r) = ring.legacy_retired_ms {
        let _ = writeln!(
            out,
            "{LEGACY_ID:<16}  {:<20}  URLs without a key id: retired {}, kept until {}",
            "-",
            utc(r),
            utc(kept_until(r))
        );
    }
    Ok(out)
}

/// The retired keys still in the ring, with the derived key under [`LEGACY_ID`].
fn retired(ring: &KeyRing) -> Vec<(String, i64)> {
    let keys = ring
        .keys()
        .iter()
        .filter_map(|k| k.retired_ms.map(|r| (k.id.clone(), r)));
    ring.legacy_retired_ms
        .map(|r| (LEGACY_ID.to_string(), r))
        .into_iter()
        .chain(keys)
        .collect()
}

/// The ring of an existing data directory, one that holds the installation's `secret.key` (a mistyped
/// path is an error, not a new key file in some other directory).
fn ring_store(data_dir: &Path) -> anyhow::Result<FileKeyRingStore> {
    if !data_dir.join("secret.key").is_file() {
        anyhow::bail!(
            "{} is not a data directory: it has no secret.key (give the one `cabinet serve` uses: \
             --data-dir, CABINET_DATA_DIR or data_dir in --config)",
            data_dir.display()
        );
    }
    Ok(FileKeyRingStore::new(data_dir))
}

/// `ms` since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_in_utc() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_795_865_400_123), "2026-11-28T11:30:00Z");
    }

    #[test]
    fn rotate_reports_the_new_key_and_what_it_kept_and_list_shows_no_key_bytes() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            rotate(dir.path(), 0).is_err(),
            "no secret.key: not a data directory"
        );
        std::fs::write(dir.path().join("secret.key"), [0u8; 32]).unwrap();
        assert!(list(dir.path()).is_err(), "no ring yet");
        let first = rotate(dir.path(), 0).unwrap();
        assert!(first.starts_with("new current key: "), "{first}");
        assert!(first.contains("kept: legacy"), "{first}");
        let second = rotate(dir.path(), 1000).unwrap();
        let ring = FileKeyRingStore::new(dir.path()).load().unwrap().unwrap();
        assert_eq!(ring.keys().len(), 2);
        let (old, new) = (&ring.keys()[0], &ring.keys()[1]);
        assert!(second.contains(&format!("new current key: {}", new.id)));
        assert!(second.contains(&format!("kept: {}", old.id)), "{second}");

        let late = kept_until(1000) + 1;
        let third = rotate(dir.path(), late).unwrap();
        assert!(third.contains(&format!("pruned: {}", old.id)), "{third}");
        assert!(third.contains("pruned: legacy"), "{third}");

        let listed = list(dir.path()).unwrap();
        let ring = FileKeyRingStore::new(dir.path()).load().unwrap().unwrap();
        assert_eq!(listed.matches("current").count(), 1, "{listed}");
        for key in ring.keys() {
            assert!(listed.contains(&key.id), "{listed}");
            let bytes =
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, key.bytes());
            assert!(!listed.contains(&bytes));
        }
        assert!(rotate(&dir.path().join("nope"), 0).is_err());
    }
}
