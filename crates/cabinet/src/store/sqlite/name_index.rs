//! Upkeep of the name-search index (`name_fts` and the vocabulary `name_terms`, migrations 0003 and 0006)
//! once per write batch.
//!
//! Triggers on `files` only append to `name_index_queue`; [`drain`] folds the queue into the index inside
//! the same transaction, just before it commits, so readers never see files and index disagree. Done per
//! row, this work cost four times the rest of a create: FTS5 flushes its pending data at the start of every
//! statement that writes to it, and the vocabulary was tokenized one name at a time in SQL. Per batch there
//! is one FTS5 statement (rows in rowid order, so FTS5 keeps them in one pending segment) and one upsert per
//! distinct word.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;

use crate::store::name_search::MAX_TERM_CHARS;

/// The queue's net effect per (file, project, name): 1 to index the name, -1 to take it out. Renames
/// back and forth within a batch cancel out. Deletions come first for each file, as FTS5 wants them.
const NET_CHANGES: &str = "SELECT file_id, project_id, name, d FROM \
     (SELECT file_id, project_id, name, sum(delta) AS d FROM name_index_queue \
      GROUP BY file_id, project_id, name) \
     WHERE d <> 0 ORDER BY file_id, d";

/// One name entering (`delta` 1) or leaving (-1) the index.
struct NetChange {
    project_id: i64,
    name: String,
    delta: i64,
}

/// Applies and empties `name_index_queue`. Must run in the transaction that filled the queue, before it
/// commits; cheap when the queue is empty.
pub(crate) fn drain(conn: &Connection) -> rusqlite::Result<()> {
    let pending: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM name_index_queue)")?
        .query_row([], |r| r.get(0))?;
    if !pending {
        return Ok(());
    }
    conn.prepare_cached(&format!(
        "INSERT INTO name_fts (name_fts, rowid, name, project) \
         SELECT CASE WHEN d < 0 THEN 'delete' END, file_id, name, char(57344) || project_id \
         FROM ({NET_CHANGES})"
    ))?
    .execute([])?;
    let changes = conn
        .prepare_cached(NET_CHANGES)?
        .query_map([], |r| {
            Ok(NetChange {
                project_id: r.get(1)?,
                name: r.get(2)?,
                delta: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    update_vocabulary(conn, &changes)?;
    conn.prepare_cached("DELETE FROM name_index_queue")?
        .execute([])?;
    Ok(())
}

/// Adds the batch's words to `name_terms` (how many files of the project contain each word), removing
/// words no file has any more.
fn update_vocabulary(conn: &Connection, changes: &[NetChange]) -> rusqlite::Result<()> {
    let mut counts: BTreeMap<(i64, String), i64> = BTreeMap::new();
    let mut others = Vec::new();
    for change in changes {
        if is_printable_ascii(&change.name) {
            for word in ascii_words(&change.name) {
                *counts.entry((change.project_id, word)).or_default() += change.delta;
            }
        } else {
            others.push(change);
        }
    }
    if !others.is_empty() {
        for (i, words) in fts_words(conn, others.iter().map(|c| c.name.as_str()))?
            .into_iter()
            .enumerate()
        {
            let change = others[i];
            for word in words {
                *counts.entry((change.project_id, word)).or_default() += change.delta;
            }
        }
    }
    for ((project_id, term), delta) in counts {
        if delta > 0 {
            conn.prepare_cached(
                "INSERT INTO name_terms (project_id, term, file_count) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (project_id, term) DO UPDATE SET file_count = file_count + excluded.file_count",
            )?
            .execute(rusqlite::params![project_id, term, delta])?;
        } else if delta < 0 {
            conn.prepare_cached(
                "UPDATE name_terms SET file_count = file_count + ?3 WHERE project_id = ?1 AND term = ?2",
            )?
            .execute(rusqlite::params![project_id, term, delta])?;
            conn.prepare_cached(
                "DELETE FROM name_terms WHERE project_id = ?1 AND term = ?2 AND file_count <= 0",
            )?
            .execute(rusqlite::params![project_id, term])?;
        }
    }
    Ok(())
}

/// Whether every character is printable ASCII (U+0020..=U+007E), for which [`ascii_words`] is exact.
fn is_printable_ascii(name: &str) -> bool {
    name.bytes().all(|b| (b' '..=b'~').contains(&b))
}

/// The distinct vocabulary words of a printable-ASCII name, exactly as `unicode61` makes them: lowercased
/// runs of letters and digits (every other printable ASCII character separates), of 2 to
/// [`MAX_TERM_CHARS`] characters.
fn ascii_words(name: &str) -> BTreeSet<String> {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| (2..=MAX_TERM_CHARS).contains(&w.len()))
        .map(str::to_ascii_lowercase)
        .collect()
}

/// The distinct vocabulary words of each name, read from the FTS5 tokenizer itself through the one-use
/// table `name_scratch` (emptied first) and its word list `name_scratch_words`.
fn fts_words<'a>(
    conn: &Connection,
    names: impl Iterator<Item = &'a str>,
) -> rusqlite::Result<Vec<BTreeSet<String>>> {
    conn.prepare_cached("INSERT INTO name_scratch (name_scratch) VALUES ('delete-all')")?
        .execute([])?;
    let mut words = Vec::new();
    for (i, name) in names.enumerate() {
        conn.prepare_cached("INSERT INTO name_scratch (rowid, name) VALUES (?1, ?2)")?
            .execute(rusqlite::params![i as i64, name])?;
        words.push(BTreeSet::new());
    }
    let mut st = conn.prepare_cached(&format!(
        "SELECT DISTINCT doc, term FROM name_scratch_words \
         WHERE length(term) BETWEEN 2 AND {MAX_TERM_CHARS}"
    ))?;
    let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (doc, term) = row?;
        if let Some(set) = usize::try_from(doc).ok().and_then(|i| words.get_mut(i)) {
            set.insert(term);
        }
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_words_split_like_unicode61() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE VIRTUAL TABLE t USING fts5 (x, content = '', tokenize = 'unicode61 remove_diacritics 2');
             CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance');",
        )
        .unwrap();
        let names = [
            "Pump station 12.PDF",
            "a!b\"c#d$e%f&g'h(i)j*k+l,m-n.o/p:q;r<s=t>u?v@w[x\\y]z^_`{|}~ 12 ab",
            "  x  yy zzz  ",
            "",
            "note-1-123456.txt",
            &"w".repeat(64),
            &"w".repeat(65),
        ];
        for (i, name) in names.iter().enumerate() {
            conn.execute(
                "INSERT INTO t (rowid, x) VALUES (?1, ?2)",
                rusqlite::params![i as i64, name],
            )
            .unwrap();
        }
        for (i, name) in names.iter().enumerate() {
            let expected: BTreeSet<String> = conn
                .prepare("SELECT term FROM v WHERE doc = ?1 AND length(term) BETWEEN 2 AND 64")
                .unwrap()
                .query_map([i as i64], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert!(is_printable_ascii(name));
            assert_eq!(ascii_words(name), expected, "{name:?}");
        }
        assert!(!is_printable_ascii("tab\there"));
        assert!(!is_printable_ascii("Ærø"));
    }
}
