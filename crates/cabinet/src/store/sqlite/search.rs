//! Name search of the SQLite store: `POST /files/search` with `search.name`.
//!
//! # Ranking
//! A file matches `name` in the first of these tiers that applies; results come tier by tier, each tier in
//! id order:
//! 1. exact: the whole name equals the query (without surrounding spaces), ignoring ASCII case as SQLite's
//!    NOCASE does (`CAFÉ` vs `café` differ only in a non-ASCII letter: a prefix match, first by id there);
//! 2. prefix: the name's words begin with the query's words, the last query word as a prefix
//!    (`"pump sta"` finds `Pump_Station_2.pdf`);
//! 3. words: every query word is a word of the name;
//! 4. word prefixes: every query word is a word of the name or the beginning of one;
//! 5. typos: every query word is the beginning of a word of the name, or within one edit of a word of the name
//!    (query words of 3–7 characters) or two edits (8 or more). An edit is an insertion, deletion,
//!    substitution or swap of adjacent characters (optimal string alignment distance). Words with digits are
//!    not typo-matched (`2023` is not a typo of `2024`).
//!
//! Words are runs of letters and digits, lowercased, with the diacritics of Latin letters removed — the
//! `unicode61 remove_diacritics 2` tokenizer of the FTS5 index, which the in-memory path mirrors.
//!
//! # Plan (the tables are in `migrations/0003_name_search.sql`)
//! Without a name, the filter's files in id order (as list). With one, the filter is translated once
//! ([`filter_sql::translate`]) and:
//! 1. Exact tier: ids from `files_by_name_nocase (project_id, name COLLATE NOCASE, id)`.
//! 2. The broadest tier's FTS5 query (typos, which contains the prefix, word and word-prefix tiers) on
//!    `name_fts`, at most [`BROAD_SET`] + 1 ids. If there are no more than [`BROAD_SET`], that is every match:
//!    their names are read (with the filter) and ranked in memory by [`tier_of`]. One FTS query instead of
//!    four, which matters for rare multi-word names.
//! 3. Otherwise each tier's FTS query in turn, in id order, in growing batches (at most [`MAX_BATCH`]).
//!
//! Candidate ids are joined to `files` by rowid (`json_each` CROSS JOIN, so the planner cannot drive from
//! another index) with the filter clause, then the spatial post-check; only as many rows as may still be
//! needed are read. The project is a token of `name_fts`; with several projects in the database every FTS
//! query is limited to it, with one it is left out (it costs an intersection with every file).
//!
//! Bounds: if the filter rejects [`FIRST_REJECTIONS`] candidates, and at most [`SMALL_FILTER`] files match
//! the filter, those files' names are ranked in memory instead (exact, whatever the filter). Otherwise the
//! indexes go on until [`MAX_REJECTIONS`] rejections and stop: a search whose filter rejects nearly every
//! name match returns what it found by then (search is for finding; list is exact).
//!
//! Prefixes: a query word of up to 4 characters is `"word"*`, read from the FTS5 prefix indexes. A longer one
//! would make FTS5 merge the doclists of every term with that prefix before the first row (milliseconds for
//! a common word at a million files), so it becomes an OR of the project's vocabulary words with the prefix
//! (`name_terms`, read lazily), when there are at most [`PREFIX_TERMS`] of them; else `"word"*` after all.
//! (The vocabulary holds words of 2 to 64 characters: a longer name word is not found by a prefix of more
//! than 4 characters.)
//!
//! Typo candidates: for each eligible query word (the first [`TYPO_WORDS`]), vocabulary words (`name_terms`,
//! per project) of a length within the edit bound sharing at least `n + 2 - 4k` of the query word's padded
//! trigrams (`name_term_grams`; an edit changes at most 4 of them, so none within the bound is lost), at most
//! [`GRAM_CANDIDATES`], are checked with a bounded edit distance; the closest [`TYPO_TERMS`] become
//! alternatives of the word in the FTS query.

use std::collections::{HashMap, HashSet};

use rusqlite::types::Value as SqlValue;
use rusqlite::Connection;

use super::file_seq::row_of_id;
use super::filter_sql::{self, SqlFilter};
use super::query;
use super::rows::{file_from_row, sql_err, FILE_COLUMNS};
use crate::domain::{FileFilter, FileRecord};
use crate::store::filter_sql::prefix_end;
use crate::store::name_search::{
    distance_within, tier_of, Query, SearchPlan, Tier, Word, MAX_TERM_CHARS, TYPO_WORDS,
};
use crate::store::StoreError;

/// A filter matching at most this many files is ranked in memory, when the indexes do not do better.
const SMALL_FILTER: usize = 5000;
/// Candidates from the name indexes that the filter may reject before the in-memory ranking is considered.
const FIRST_REJECTIONS: usize = 2000;
/// Candidates from the name indexes that the filter may reject in one search, in all.
const MAX_REJECTIONS: usize = 10_000;
/// When the broadest tier has at most this many matches, they are read at once and ranked in memory.
const BROAD_SET: usize = 1000;
/// The largest candidate batch read from an index at once.
const MAX_BATCH: usize = 4096;
/// The most vocabulary words checked for typos of one query word.
const GRAM_CANDIDATES: usize = 2000;
/// The most typo alternatives of one query word put in the FTS query.
const TYPO_TERMS: usize = 32;
/// The longest prefix `name_fts` has a prefix index for (`prefix = '1 2 3 4'`).
const PREFIX_INDEX_CHARS: usize = 4;
/// Longer query words match as prefixes through at most this many vocabulary words (else `"word"*`).
const PREFIX_TERMS: usize = 64;

/// At most `limit` files of the project matching `filter`, ranked by how well their name matches `name`.
pub(super) fn search_files(
    conn: &Connection,
    project_id: i64,
    filter: &FileFilter,
    name: Option<&str>,
    limit: usize,
) -> Result<Vec<FileRecord>, StoreError> {
    search_with(conn, project_id, filter, name, limit, Strategy::Auto)
}

/// How a search is served. Tests force one path to compare them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))] // only `Auto` outside tests
enum Strategy {
    /// The indexes; the in-memory ranking when the filter rejects most name matches and matches few files.
    Auto,
    /// The indexes only.
    Indexes,
    /// The indexes only, tier by tier even when the matches are few.
    Tiers,
    /// The in-memory ranking of every file matching the filter.
    Memory,
}

fn search_with(
    conn: &Connection,
    project_id: i64,
    filter: &FileFilter,
    name: Option<&str>,
    limit: usize,
    strategy: Strategy,
) -> Result<Vec<FileRecord>, StoreError> {
    if limit == 0 {
        return Ok(vec![]);
    }
    let query = match SearchPlan::new(filter, name, limit) {
        SearchPlan::Ranked(q) => q,
        SearchPlan::List(page) => {
            return Ok(
                query::list_page(conn, project_id, &page, super::SqliteTuning::default())?.items,
            );
        }
    };
    let sql = filter_sql::translate(filter, project_id);
    match strategy {
        Strategy::Indexes | Strategy::Tiers => {
            let broad = if strategy == Strategy::Tiers {
                0
            } else {
                BROAD_SET
            };
            Ok(from_indexes(conn, project_id, &sql, &query, limit, MAX_REJECTIONS, broad)?.0)
        }
        Strategy::Memory => {
            let files = filtered_names(conn, &sql, usize::MAX)?.unwrap_or_default();
            ranked_in_memory(conn, &sql, &query, files, limit)
        }
        Strategy::Auto => {
            let (items, complete) = from_indexes(
                conn,
                project_id,
                &sql,
                &query,
                limit,
                FIRST_REJECTIONS,
                BROAD_SET,
            )?;
            if complete {
                return Ok(items);
            }
            if let Some(files) = filtered_names(conn, &sql, SMALL_FILTER)? {
                return ranked_in_memory(conn, &sql, &query, files, limit);
            }
            Ok(from_indexes(
                conn,
                project_id,
                &sql,
                &query,
                limit,
                MAX_REJECTIONS,
                BROAD_SET,
            )?
            .0)
        }
    }
}

/// The ranked matches from the name indexes, and whether they are all there are: false when the filter
/// rejected `rejections` candidates and the search stopped there. When the broadest tier has at most
/// `broad_set` matches they are ranked in memory, otherwise each tier is walked in turn.
fn from_indexes(
    conn: &Connection,
    project_id: i64,
    sql: &SqlFilter,
    query: &Query,
    limit: usize,
    rejections: usize,
    broad_set: usize,
) -> Result<(Vec<FileRecord>, bool), StoreError> {
    // With a single project in the database, the project condition of the FTS queries is redundant (and
    // intersecting with every file's project token costs a few milliseconds at a million files).
    let scoped = conn
        .prepare_cached("SELECT count(*) > 1 FROM projects")
        .and_then(|mut st| st.query_row([], |r| r.get::<_, bool>(0)))
        .map_err(sql_err)?;
    let mut out = Results {
        items: Vec::with_capacity(limit),
        seen: HashSet::new(),
        limit,
    };
    let mut budget = rejections;
    walk_tier(
        conn,
        project_id,
        sql,
        &Source::Exact(&query.trimmed),
        &mut out,
        &mut budget,
    )?;
    if out.full() || budget == 0 {
        let full = out.full();
        return Ok((out.items, full));
    }
    // The typo tier contains the prefix, word and word-prefix tiers: when it has few matches, one query
    // finds them all and they are ranked here.
    let prefixes = prefixes(conn, project_id, query)?;
    let Some(broadest) = fts_query(conn, project_id, scoped, query, &prefixes, Tier::Typos)? else {
        return Ok((out.items, true));
    };
    if broad_set > 0 {
        let ids = candidates(conn, project_id, &Source::Fts(&broadest), 0, broad_set + 1)?;
        if ids.len() <= broad_set {
            let fresh: Vec<i64> = ids
                .into_iter()
                .filter(|id| !out.seen.contains(id))
                .collect();
            let files = names_of(conn, sql, &fresh)?;
            rank_into(conn, sql, query, files, Some(Tier::Typos), &mut out)?;
            return Ok((out.items, true));
        }
    }
    let mut previous: Option<String> = None;
    for tier in [Tier::Prefix, Tier::Words, Tier::WordPrefixes, Tier::Typos] {
        let fts = match tier {
            Tier::Typos => Some(broadest.clone()),
            _ => fts_query(conn, project_id, scoped, query, &prefixes, tier)?,
        };
        let source = match fts {
            // Typo alternatives may add nothing to the word prefixes; don't walk the same matches twice.
            Some(q) if previous.as_ref() != Some(&q) => {
                previous = Some(q);
                Source::Fts(previous.as_deref().unwrap_or_default())
            }
            _ => continue,
        };
        walk_tier(conn, project_id, sql, &source, &mut out, &mut budget)?;
        if out.full() {
            return Ok((out.items, true));
        }
        if budget == 0 {
            return Ok((out.items, false));
        }
    }
    Ok((out.items, true))
}

/// The distinct trigrams of `^^word$$` and how many shared ones a word within `k` edits must have.
fn trigrams(word: &[char], k: usize) -> (Vec<String>, usize) {
    let padded: Vec<char> = ['^', '^']
        .into_iter()
        .chain(word.iter().copied())
        .chain(['$', '$'])
        .collect();
    let all: Vec<String> = padded.windows(3).map(|w| w.iter().collect()).collect();
    let mut distinct = all.clone();
    distinct.sort();
    distinct.dedup();
    // Each edit changes at most 4 of the n + 2 trigrams; repeated trigrams count once here.
    let needed = all
        .len()
        .saturating_sub(4 * k)
        .saturating_sub(all.len() - distinct.len())
        .max(1);
    (distinct, needed)
}

// ---------------------------------------------------------------------------------------------------------
// In memory: a small filtered set.

/// The ids and names of the files matching the filter, if there are at most `small` of them.
fn filtered_names(
    conn: &Connection,
    sql: &SqlFilter,
    small: usize,
) -> Result<Option<Vec<(i64, String)>>, StoreError> {
    let mut params = sql.params.clone();
    params.push(SqlValue::Integer(
        i64::try_from(small).unwrap_or(i64::MAX - 1) + 1,
    ));
    let text = filtered_names_sql(sql);
    let rows = conn
        .prepare_cached(&text)
        .and_then(|mut st| {
            st.query_map(rusqlite::params_from_iter(params), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<Vec<(i64, String)>>>()
        })
        .map_err(sql_err)?;
    Ok((rows.len() <= small).then_some(rows))
}

fn filtered_names_sql(sql: &SqlFilter) -> String {
    format!(
        "SELECT files.id, files.name FROM files WHERE {} LIMIT ?",
        sql.clause
    )
}

fn ranked_in_memory(
    conn: &Connection,
    sql: &SqlFilter,
    query: &Query,
    files: Vec<(i64, String)>,
    limit: usize,
) -> Result<Vec<FileRecord>, StoreError> {
    let mut out = Results {
        items: Vec::with_capacity(limit),
        seen: HashSet::new(),
        limit,
    };
    rank_into(conn, sql, query, files, None, &mut out)?;
    Ok(out.items)
}

/// Ranks `files` by [`tier_of`] (those matching no tier are left out, or put in `unmatched` if given) and
/// appends the best to `out`.
fn rank_into(
    conn: &Connection,
    sql: &SqlFilter,
    query: &Query,
    files: Vec<(i64, String)>,
    unmatched: Option<Tier>,
    out: &mut Results,
) -> Result<(), StoreError> {
    let mut ranked: Vec<(Tier, i64)> = files
        .iter()
        .filter_map(|(id, name)| tier_of(query, name).or(unmatched).map(|t| (t, *id)))
        .collect();
    ranked.sort_unstable();
    for chunk in ranked.chunks(out.limit.max(64)) {
        let ids: Vec<i64> = chunk.iter().map(|(_, id)| *id).collect();
        out.take(sql, hydrate(conn, sql, &ids)?);
        if out.full() {
            break;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// From the indexes: a large filtered set.

/// Where a tier's candidates come from, in id order.
enum Source<'a> {
    /// `files_by_name_nocase`: names equal to this, ignoring ASCII case.
    Exact(&'a str),
    /// `name_fts`: rows matching this FTS5 query.
    Fts(&'a str),
}

/// How a query word matches as a prefix in FTS5 queries.
#[derive(Debug)]
enum Prefix {
    /// `"word"*`: FTS5 reads it from its prefix index (up to 4 characters), or merges the doclists of every
    /// term with the prefix before the first row (longer words with many such terms).
    Star,
    /// The project's vocabulary words with this prefix, as alternatives: each doclist is read lazily, so
    /// a common word does not cost a merge of its whole doclist.
    Terms(Vec<String>),
}

/// The [`Prefix`] of each query word.
fn prefixes(conn: &Connection, project_id: i64, query: &Query) -> Result<Vec<Prefix>, StoreError> {
    let mut out = Vec::with_capacity(query.words.len());
    for w in &query.words {
        let n = w.chars.len();
        if n <= PREFIX_INDEX_CHARS || n > MAX_TERM_CHARS {
            out.push(Prefix::Star);
            continue;
        }
        let terms = conn
            .prepare_cached(PREFIX_TERMS_SQL)
            .and_then(|mut st| {
                st.query_map(
                    rusqlite::params![
                        project_id,
                        w.text,
                        prefix_end(&w.text),
                        PREFIX_TERMS as i64 + 1
                    ],
                    |r| r.get::<_, String>(0),
                )?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(sql_err)?;
        out.push(if terms.len() > PREFIX_TERMS {
            Prefix::Star
        } else {
            Prefix::Terms(
                terms
                    .into_iter()
                    .filter(|t| t.starts_with(&w.text))
                    .collect(),
            )
        });
    }
    Ok(out)
}

const PREFIX_TERMS_SQL: &str = "SELECT term FROM name_terms \
    WHERE project_id = ?1 AND term >= ?2 AND term < ?3 ORDER BY term LIMIT ?4";

fn quoted(w: &str) -> String {
    format!("\"{}\"", w.replace('"', "\"\""))
}

/// The FTS5 alternatives of query word `w` as a prefix.
fn prefix_alternatives(w: &Word, prefix: &Prefix) -> Vec<String> {
    match prefix {
        Prefix::Star => vec![format!("{}*", quoted(&w.text))],
        // No vocabulary word begins with it: only the word itself, which matches nothing either.
        Prefix::Terms(terms) if terms.is_empty() => vec![quoted(&w.text)],
        Prefix::Terms(terms) => terms.iter().map(|t| quoted(t)).collect(),
    }
}

/// The FTS5 query of a tier, or none when the tier cannot match anything. `prefixes` are the query words'.
fn fts_query(
    conn: &Connection,
    project_id: i64,
    scoped: bool,
    query: &Query,
    prefixes: &[Prefix],
    tier: Tier,
) -> Result<Option<String>, StoreError> {
    let words = &query.words;
    let (Some(last), Some(last_prefix)) = (words.last(), prefixes.last()) else {
        return Ok(None);
    };
    let group = |alternatives: Vec<String>| match alternatives.len() {
        1 => alternatives.concat(),
        _ => format!("({})", alternatives.join(" OR ")),
    };
    let names = match tier {
        Tier::Exact => return Ok(None),
        Tier::Prefix => {
            let head: String = words[..words.len() - 1]
                .iter()
                .map(|w| format!("{} ", w.text))
                .collect();
            match last_prefix {
                Prefix::Star => format!("^{}*", quoted(&format!("{head}{}", last.text))),
                Prefix::Terms(terms) if terms.is_empty() => {
                    format!("^{}", quoted(&format!("{head}{}", last.text)))
                }
                Prefix::Terms(terms) => group(
                    terms
                        .iter()
                        .map(|t| format!("^{}", quoted(&format!("{head}{t}"))))
                        .collect(),
                ),
            }
        }
        Tier::Words => words
            .iter()
            .map(|w| quoted(&w.text))
            .collect::<Vec<_>>()
            .join(" AND "),
        Tier::WordPrefixes => words
            .iter()
            .zip(prefixes)
            .map(|(w, p)| group(prefix_alternatives(w, p)))
            .collect::<Vec<_>>()
            .join(" AND "),
        Tier::Typos => {
            let mut parts = Vec::with_capacity(words.len());
            for (i, (w, p)) in words.iter().zip(prefixes).enumerate() {
                let mut alternatives = prefix_alternatives(w, p);
                if i < TYPO_WORDS {
                    alternatives.extend(typo_terms(conn, project_id, w)?.iter().map(|t| quoted(t)));
                }
                parts.push(group(alternatives));
            }
            parts.join(" AND ")
        }
    };
    if !scoped {
        return Ok(Some(format!("name : ({names})")));
    }
    let project = quoted(&format!("\u{E000}{project_id}"));
    Ok(Some(format!("project : {project} AND name : ({names})")))
}

/// Vocabulary words of the project within the edit bound of `word` (and not already its prefix matches),
/// closest and most common first, at most [`TYPO_TERMS`].
fn typo_terms(conn: &Connection, project_id: i64, word: &Word) -> Result<Vec<String>, StoreError> {
    let k = word.max_edits;
    if k == 0 {
        return Ok(vec![]);
    }
    let (grams, needed) = trigrams(&word.chars, k);
    let sql = typo_terms_sql(grams.len());
    let mut params = vec![SqlValue::Integer(project_id)];
    params.extend(grams.into_iter().map(SqlValue::Text));
    params.extend([
        SqlValue::Integer(word.chars.len().saturating_sub(k) as i64),
        SqlValue::Integer((word.chars.len() + k) as i64),
        SqlValue::Integer(needed as i64),
        SqlValue::Integer(GRAM_CANDIDATES as i64),
    ]);
    let candidates = conn
        .prepare_cached(&sql)
        .and_then(|mut st| {
            st.query_map(rusqlite::params_from_iter(params), |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(sql_err)?;
    let mut close: Vec<(usize, i64, String)> = candidates
        .into_iter()
        .filter(|(term, _)| !term.starts_with(&word.text))
        .filter_map(|(term, count)| {
            let chars: Vec<char> = term.chars().collect();
            distance_within(&word.chars, &chars, k).map(|d| (d, -count, term))
        })
        .collect();
    close.sort_unstable();
    close.truncate(TYPO_TERMS);
    Ok(close.into_iter().map(|(_, _, term)| term).collect())
}

fn typo_terms_sql(grams: usize) -> String {
    format!(
        "SELECT t.term, t.file_count FROM name_terms AS t WHERE t.id IN (\
         SELECT term_id FROM name_term_grams WHERE project_id = ? AND gram IN ({}) AND len BETWEEN ? AND ? \
         GROUP BY term_id HAVING count(*) >= ? LIMIT ?)",
        vec!["?"; grams].join(", ")
    )
}

const EXACT_CANDIDATES: &str =
    "SELECT id FROM files WHERE project_id = ?1 AND name = ?2 COLLATE NOCASE \
    AND id > ?3 ORDER BY id LIMIT ?4";
const FTS_CANDIDATES: &str =
    "SELECT rowid FROM name_fts WHERE name_fts MATCH ?1 AND rowid > ?2 ORDER BY rowid LIMIT ?3";

/// Up to `n` candidate ids after `after`, in id order.
fn candidates(
    conn: &Connection,
    project_id: i64,
    source: &Source<'_>,
    after: i64,
    n: usize,
) -> Result<Vec<i64>, StoreError> {
    let n = n as i64;
    let result = match source {
        Source::Exact(name) => conn.prepare_cached(EXACT_CANDIDATES).and_then(|mut st| {
            st.query_map(rusqlite::params![project_id, name, after, n], |r| r.get(0))?
                .collect()
        }),
        Source::Fts(fts) => conn.prepare_cached(FTS_CANDIDATES).and_then(|mut st| {
            st.query_map(rusqlite::params![fts, after, n], |r| r.get(0))?
                .collect()
        }),
    };
    result.map_err(sql_err)
}

/// Adds a tier's matches to `out`, walking its candidates in growing batches while fewer than `budget`
/// of them have been rejected by the filter (the budget is decreased by the rejections).
fn walk_tier(
    conn: &Connection,
    project_id: i64,
    sql: &SqlFilter,
    source: &Source<'_>,
    out: &mut Results,
    budget: &mut usize,
) -> Result<(), StoreError> {
    // With no rejections, one batch fills the results: at most `seen` candidates are repeats.
    let mut batch = (out.limit - out.items.len() + out.seen.len()).clamp(16, MAX_BATCH);
    let mut after = 0;
    while !out.full() && *budget > 0 {
        let ids = candidates(conn, project_id, source, after, batch)?;
        let Some(&last) = ids.last() else { break };
        after = last;
        let fresh: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| !out.seen.contains(id))
            .collect();
        // Read only as many as may still be needed, more as the filter rejects them.
        let mut rest = fresh.as_slice();
        while !rest.is_empty() && !out.full() && *budget > 0 {
            let need = (out.limit - out.items.len()).max(32);
            let (chunk, tail) = rest.split_at(need.min(rest.len()));
            rest = tail;
            let added = out.take(sql, hydrate(conn, sql, chunk)?);
            *budget = budget.saturating_sub(chunk.len() - added);
        }
        if ids.len() < batch {
            break;
        }
        batch = (batch * 4).min(MAX_BATCH);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------

/// The results so far.
struct Results {
    items: Vec<FileRecord>,
    seen: HashSet<i64>,
    limit: usize,
}

impl Results {
    fn full(&self) -> bool {
        self.items.len() >= self.limit
    }

    /// Appends `files` (in order) that pass the spatial post-check and are new, up to the limit; returns
    /// how many it appended.
    fn take(&mut self, sql: &SqlFilter, files: Vec<FileRecord>) -> usize {
        let before = self.items.len();
        for f in files {
            if self.full() {
                break;
            }
            if sql.accepts(&f) && self.seen.insert(f.id) {
                self.items.push(f);
            }
            if sql.exhausted() {
                // The spatial post-check ran out of time: what was found is the answer.
                self.limit = self.items.len();
            }
        }
        self.items.len() - before
    }
}

/// The files with these ids that match the filter's SQL clause, in the order of `ids`.
fn hydrate(conn: &Connection, sql: &SqlFilter, ids: &[i64]) -> Result<Vec<FileRecord>, StoreError> {
    let text = hydrate_sql(sql);
    let ids_json = serde_json::to_string(ids).map_err(|e| StoreError::internal("sqlite", e))?;
    let mut params = vec![SqlValue::Text(ids_json)];
    params.extend(sql.params.iter().cloned());
    let rows = conn
        .prepare_cached(&text)
        .and_then(|mut st| {
            st.query_map(rusqlite::params_from_iter(params), file_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(sql_err)?;
    let mut by_id: HashMap<i64, FileRecord> = rows.into_iter().map(|f| (f.id, f)).collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// The ids and names of the files with these ids that match the filter's SQL clause.
fn names_of(
    conn: &Connection,
    sql: &SqlFilter,
    ids: &[i64],
) -> Result<Vec<(i64, String)>, StoreError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let ids_json = serde_json::to_string(ids).map_err(|e| StoreError::internal("sqlite", e))?;
    let mut params = vec![SqlValue::Text(ids_json)];
    params.extend(sql.params.iter().cloned());
    conn.prepare_cached(&names_of_sql(sql))
        .and_then(|mut st| {
            st.query_map(rusqlite::params_from_iter(params), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(sql_err)
}

fn names_of_sql(sql: &SqlFilter) -> String {
    format!(
        "SELECT files.id, files.name FROM json_each(?) AS m CROSS JOIN files ON {} WHERE {}",
        row_of_id("files", "m.value"),
        sql.clause
    )
}

fn hydrate_sql(sql: &SqlFilter) -> String {
    let columns: Vec<String> = FILE_COLUMNS
        .split(", ")
        .map(|c| format!("files.{c}"))
        .collect();
    // CROSS JOIN keeps the id list outside, so each id is one rowid lookup whatever indexes the clause could use.
    format!(
        "SELECT {} FROM json_each(?) AS m CROSS JOIN files ON {} WHERE {}",
        columns.join(", "),
        row_of_id("files", "m.value"),
        sql.clause
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::BTreeSet;

    use crate::store::name_search::{max_edits, words};

    use serde_json::json;

    use super::super::rows::{insert_file, update_file};
    use super::*;
    use crate::domain::FileSpec;

    struct Db {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
        conn: Connection,
        next_id: i64,
        /// Whether every write is followed by a drain (else the queue is drained before reading).
        drain_each: bool,
    }

    /// A database migrated by the store itself, and a second connection on it.
    fn db() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.db");
        drop(super::super::SqliteStore::open(&path, 7).unwrap());
        let conn = super::super::open_connection(&path, false).unwrap();
        super::super::file_seq::register(&conn, &crate::store::ids::IdPermutation::new(7)).unwrap();
        Db {
            _dir: dir,
            path,
            conn,
            next_id: 1000,
            drain_each: false,
        }
    }

    impl Db {
        fn add(&mut self, project: i64, spec: serde_json::Value) -> i64 {
            self.next_id += 7;
            let mut spec = spec;
            if spec.get("name").is_none() {
                spec["name"] = json!("unnamed");
            }
            let v = |k: &str| spec.get(k).and_then(|v| v.as_str()).map(str::to_string);
            let metadata = spec
                .get("metadata")
                .map(|m| serde_json::from_value(m.clone()).unwrap());
            let file = FileRecord::from_spec(
                self.next_id,
                FileSpec {
                    name: v("name").unwrap(),
                    mime_type: v("mimeType"),
                    directory: v("directory"),
                    metadata,
                    ..Default::default()
                },
                0,
            );
            self.conn
                .execute(
                    "INSERT OR IGNORE INTO projects (id, name) VALUES (?1, 'p' || ?1)",
                    [project],
                )
                .unwrap();
            insert_file(&self.conn, project, None, &file).unwrap();
            if self.drain_each {
                self.drain();
            }
            file.id
        }

        /// Brings the name index up to date, as the writer does before each commit.
        fn drain(&self) {
            super::super::name_index::drain(&self.conn).unwrap();
        }

        fn rename(&self, project: i64, id: i64, name: &str) {
            let mut file = super::super::rows::file_by_id(&self.conn, project, id)
                .unwrap()
                .unwrap();
            file.name = name.to_string();
            update_file(&self.conn, project, &file).unwrap();
            if self.drain_each {
                self.drain();
            }
        }

        fn search(
            &self,
            project: i64,
            filter: serde_json::Value,
            name: &str,
            limit: usize,
            strategy: Strategy,
        ) -> Vec<i64> {
            self.drain();
            let filter = FileFilter::from_json(filter.as_object().unwrap()).unwrap();
            search_with(&self.conn, project, &filter, Some(name), limit, strategy)
                .unwrap()
                .into_iter()
                .map(|f| f.id)
                .collect()
        }

        /// The same search through the indexes and in memory, which must agree.
        fn both(
            &self,
            project: i64,
            filter: serde_json::Value,
            name: &str,
            limit: usize,
        ) -> Vec<i64> {
            let indexed = self.search(project, filter.clone(), name, limit, Strategy::Indexes);
            let tiers = self.search(project, filter.clone(), name, limit, Strategy::Tiers);
            let in_memory = self.search(project, filter, name, limit, Strategy::Memory);
            assert_eq!(
                indexed, in_memory,
                "index and memory paths disagree on {name:?}"
            );
            assert_eq!(
                tiers, in_memory,
                "tier walk and memory disagree on {name:?}"
            );
            indexed
        }
    }

    /// Every word within k edits shares at least the required number of trigrams (the filter never loses
    /// a match): all single edits of some words, and all pairs of edits of a long one.
    #[test]
    fn the_trigram_threshold_keeps_every_word_within_the_bound() {
        fn edits(w: &[char]) -> Vec<Vec<char>> {
            let mut out = Vec::new();
            for i in 0..=w.len() {
                for c in ['a', 'e', 'x', 'p'] {
                    let mut v = w.to_vec();
                    v.insert(i, c);
                    out.push(v);
                    if i < w.len() {
                        let mut v = w.to_vec();
                        v[i] = c;
                        out.push(v);
                    }
                }
                if i < w.len() {
                    let mut v = w.to_vec();
                    v.remove(i);
                    out.push(v);
                }
                if i + 1 < w.len() {
                    let mut v = w.to_vec();
                    v.swap(i, i + 1);
                    out.push(v);
                }
            }
            out
        }
        let shared = |a: &[char], b: &[char]| {
            let (ga, _) = trigrams(a, 0);
            let (gb, _) = trigrams(b, 0);
            ga.iter().filter(|g| gb.contains(g)).count()
        };
        for word in [
            "pum",
            "pump",
            "aaaa",
            "valve",
            "abcabca",
            "station",
            "compressor",
            "aaaaaaaaa",
            "exchanger",
        ] {
            let w: Vec<char> = word.chars().collect();
            let k = max_edits(&w);
            let (_, needed) = trigrams(&w, k);
            let mut variants = edits(&w);
            if k == 2 {
                variants = variants.iter().flat_map(|v| edits(v)).collect();
            }
            for v in variants {
                if let Some(d) = distance_within(&w, &v, k) {
                    assert!(d <= k);
                    assert!(
                        shared(&w, &v) >= needed,
                        "{word} vs {}: {} < {needed}",
                        v.iter().collect::<String>(),
                        shared(&w, &v)
                    );
                }
            }
        }
    }

    #[test]
    fn words_are_folded_like_the_fts_tokenizer() {
        assert_eq!(
            words("Pump_Station-01.PDF"),
            ["pump", "station", "01", "pdf"]
        );
        assert_eq!(words("  Café crème  "), ["cafe", "creme"]);
        assert_eq!(words("e\u{301}te\u{301}"), ["ete"]);
        assert_eq!(words("--"), Vec::<String>::new());
        assert_eq!(max_edits(&['a', 'b']), 0);
        assert_eq!(max_edits(&"pump".chars().collect::<Vec<_>>()), 1);
        assert_eq!(max_edits(&"compress".chars().collect::<Vec<_>>()), 2);
        assert_eq!(max_edits(&"v2000".chars().collect::<Vec<_>>()), 0);

        // The tokenizer itself decides; the Rust side must agree on these.
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE VIRTUAL TABLE t USING fts5 (x, tokenize = 'unicode61 remove_diacritics 2');
             CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance');",
        )
        .unwrap();
        let names = [
            "Pump_Station_01.pdf",
            "Café Crème brûlée",
            "İstanbul ǅemal ÆRØ Ørsted",
            "naïve e\u{301}te façade",
            "straße Œuvre ŁÓDŹ Dvořák",
            "日本語 ファイル",
            "ΑΘΗΝΑ Москва",
            "a.b-c d/e\\f",
            "x\u{2014}y 3.14",
            "ǍǏǑǓ ȘȚ",
            "a!b\"c#d$e%f&g'h(i)j*k+l,m-n.o/p:q;r<s=t>u?v@w[x\\y]z^A_B`C{D|E}F~G 12",
            "tab\tand\nnewline\u{7f}del",
        ];
        for (i, name) in names.iter().enumerate() {
            conn.execute(
                "INSERT INTO t (rowid, x) VALUES (?1, ?2)",
                rusqlite::params![i as i64, name],
            )
            .unwrap();
            let fts: Vec<String> = conn
                .prepare("SELECT term FROM v WHERE doc = ?1 ORDER BY offset")
                .unwrap()
                .query_map([i as i64], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert_eq!(words(name), fts, "{name}");
        }
    }

    fn fill(db: &mut Db) -> BTreeSet<i64> {
        let names = [
            "pump",
            "Pump",
            "PUMP.pdf",
            "pump station",
            "Pump_Station_01.pdf",
            "station pump",
            "pumping station",
            "the big pump house",
            "pmup report",
            "pumo",
            "pumps",
            "valve",
            "valve housing",
            "compressor",
            "compresor notes",
            "kompressor",
            "heat exchanger",
            "heat exchnager",
            "exchanger heat",
            "Café crème",
            "cafe",
            "CAFE",
            "naïve plan",
            "2023 report",
            "report 2024",
            "reprot",
            "re-port",
            "ærø",
            "straße",
            "strasse",
            "--",
        ];
        let mut ids = BTreeSet::new();
        for (i, name) in names.iter().enumerate() {
            let mime = if i % 2 == 0 {
                "application/pdf"
            } else {
                "text/plain"
            };
            let dir = if i % 3 == 0 { "/plant/a" } else { "/plant/b" };
            ids.insert(db.add(
                1,
                json!({"name": name, "mimeType": mime, "directory": dir, "metadata": {"n": (i % 4).to_string()}}),
            ));
            // Noise in another project, with the same names.
            db.add(2, json!({"name": name}));
        }
        for i in 0..60 {
            db.add(
                1,
                json!({"name": format!("file {i}.txt"), "mimeType": "text/plain"}),
            );
        }
        db.drain();
        ids
    }

    #[test]
    fn index_and_memory_paths_agree() {
        let mut db = db();
        fill(&mut db);
        let filters = [
            json!({}),
            json!({"mimeType": "application/pdf"}),
            json!({"directoryPrefix": "/plant/b"}),
            json!({"metadata": {"n": "1"}}),
        ];
        let queries = [
            "pump",
            "PUMP",
            "pump sta",
            "station",
            "pmup",
            "pumo",
            "compressor",
            "kompresor",
            "heat exchanger",
            "exchanger",
            "exchnager heat",
            "cafe",
            "café",
            "naive",
            "report",
            "repot",
            "p",
            "st",
            "-",
            "pump.pdf",
            "xyz",
            "Pump_Station_01.pdf",
            "ærø",
            "strase",
            "file 1",
            "2023",
            "re port",
            "e",
        ];
        for filter in &filters {
            for q in queries {
                for limit in [1, 3, 100] {
                    db.both(1, filter.clone(), q, limit);
                }
            }
        }
    }

    #[test]
    fn ranking_through_the_indexes() {
        let mut db = db();
        fill(&mut db);
        let name_of = |id: i64| {
            super::super::rows::file_by_id(&db.conn, 1, id)
                .unwrap()
                .unwrap()
                .name
        };
        let names = |q: &str| {
            db.both(1, json!({}), q, 100)
                .into_iter()
                .map(name_of)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names("pump"),
            [
                "pump",
                "Pump", // exact, by id
                "PUMP.pdf",
                "pump station",
                "Pump_Station_01.pdf",
                "pumping station",
                "pumps", // prefix
                "station pump",
                "the big pump house", // word
                "pmup report",
                "pumo", // typos
            ]
        );
        assert_eq!(
            names("compressor"),
            ["compressor", "compresor notes", "kompressor"]
        );
        assert_eq!(
            names("heat exchanger"),
            ["heat exchanger", "exchanger heat", "heat exchnager"]
        );
        assert_eq!(names("café"), ["Café crème", "cafe", "CAFE"]);
        assert_eq!(names("CAFE"), ["cafe", "CAFE", "Café crème"]);
        assert_eq!(names("strase"), ["straße", "strasse"]);
        assert_eq!(names("nothing like it"), Vec::<String>::new());
        assert_eq!(names("--"), ["--"]);
    }

    /// When the filter rejects most name matches, the indexes give up after a bounded number of
    /// rejections; a filter matching few files is then ranked in memory instead.
    #[test]
    fn a_filter_rejecting_most_matches_falls_back_to_ranking_in_memory() {
        let mut db = db();
        db.conn.execute_batch("BEGIN").unwrap();
        for i in 0..FIRST_REJECTIONS + 100 {
            db.add(1, json!({"name": format!("pump {i}"), "mimeType": "a"}));
        }
        db.drain();
        db.conn.execute_batch("COMMIT").unwrap();
        // The highest id: the indexes meet every other pump first.
        let rare = db.add(1, json!({"name": "pump rare", "mimeType": "b"}));
        let filter = json!({"mimeType": "b"});
        let file_filter = FileFilter::from_json(filter.as_object().unwrap()).unwrap();
        let sql = filter_sql::translate(&file_filter, 1);
        let (items, complete) = from_indexes(
            &db.conn,
            1,
            &sql,
            &Query::parse("pump"),
            10,
            FIRST_REJECTIONS,
            BROAD_SET,
        )
        .unwrap();
        assert!(items.is_empty() && !complete, "stops after the rejections");
        assert_eq!(
            db.search(1, filter.clone(), "pump", 10, Strategy::Auto),
            [rare]
        );
        assert_eq!(
            db.search(1, filter.clone(), "pump", 10, Strategy::Indexes),
            [rare]
        );
        assert_eq!(db.search(1, filter, "pump", 10, Strategy::Memory), [rare]);
    }

    /// With several projects in the database, the FTS queries are limited to the project inside the index.
    #[test]
    fn fts_candidates_are_the_projects_own() {
        let mut db = db();
        fill(&mut db);
        let project_of = |id: i64| -> i64 {
            db.conn
                .query_row("SELECT project_id FROM files WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .unwrap()
        };
        for project in [1, 2] {
            for word in ["pump", "station"] {
                let query = Query::parse(word);
                let pre = prefixes(&db.conn, project, &query).unwrap();
                for tier in [Tier::Prefix, Tier::Words, Tier::WordPrefixes, Tier::Typos] {
                    for scoped in [true, false] {
                        let q = fts_query(&db.conn, project, scoped, &query, &pre, tier)
                            .unwrap()
                            .unwrap();
                        let ids = candidates(&db.conn, project, &Source::Fts(&q), 0, 1000).unwrap();
                        let own = ids.iter().filter(|&&id| project_of(id) == project).count();
                        assert!(own > 0, "{q}");
                        assert_eq!(own == ids.len(), scoped, "{q}");
                    }
                }
            }
        }
    }

    /// Query words longer than the prefix index match as prefixes through the vocabulary.
    #[test]
    fn long_prefixes_expand_through_the_vocabulary() {
        let mut db = db();
        let station = db.add(1, json!({"name": "Pump station"}));
        let numbered = db.add(1, json!({"name": "valve2000 stations"}));
        for i in 0..=PREFIX_TERMS {
            db.add(1, json!({"name": format!("compressor{i}")}));
        }
        db.drain();
        let terms = |q: &str| prefixes(&db.conn, 1, &Query::parse(q)).unwrap();
        assert!(
            matches!(terms("stat")[..], [Prefix::Star]),
            "the prefix index serves it"
        );
        assert!(
            matches!(&terms("stati")[..], [Prefix::Terms(t)] if t == &["station", "stations"]),
            "{:?}",
            terms("stati")
        );
        assert!(matches!(&terms("valve")[..], [Prefix::Terms(t)] if t == &["valve2000"]));
        assert!(matches!(&terms("xylophone")[..], [Prefix::Terms(t)] if t.is_empty()));
        assert!(
            matches!(terms("compr")[..], [Prefix::Star]),
            "too many words with the prefix"
        );
        let find = |q: &str| db.search(1, json!({}), q, 100, Strategy::Tiers);
        assert_eq!(find("stati"), [station, numbered]);
        assert_eq!(find("pump stati"), [station]);
        assert_eq!(find("valve"), [numbered]);
        assert_eq!(find("xylophone"), Vec::<i64>::new());
        assert_eq!(find("compr").len(), PREFIX_TERMS + 1);
        assert_eq!(find("stati pump"), [station]);
    }

    /// The queue triggers and the drain keep the FTS index and the vocabulary in step through inserts,
    /// renames and deletes, whether drained after each write or once for many.
    #[test]
    fn the_indexes_follow_writes() {
        for drain_each in [false, true] {
            the_indexes_follow(drain_each);
        }
    }

    fn the_indexes_follow(drain_each: bool) {
        let mut db = db();
        db.drain_each = drain_each;
        let a = db.add(1, json!({"name": "Pump station"}));
        let b = db.add(1, json!({"name": "pump house"}));
        let c = db.add(2, json!({"name": "Pump valve"}));
        db.rename(1, a, "valve Station");
        db.rename(1, b, "pump house"); // unchanged name: no work
        db.conn
            .execute("DELETE FROM files WHERE id = ?1", [c])
            .unwrap();
        if drain_each {
            db.drain();
        }
        let d = db.add(1, json!({"name": "Ærø kompressor 2024"}));
        db.rename(1, d, "compressor");
        // Both tokenizers of the drain (Rust for printable ASCII, FTS5 otherwise), back and forth.
        let e = db.add(
            1,
            json!({"name": "a!b\"c#d$e%f&g'h(i)j*k+l,m-n.o/p:q;r<s=t>u?v@w[x\\y]z^_`{|}~ 12"}),
        );
        let f = db.add(1, json!({"name": "tab\tand\nnewline ærø"}));
        db.rename(1, e, "Søknad compressor");
        db.rename(1, f, "compressor--station__12");
        db.add(1, json!({"name": ""}));
        db.add(1, json!({"name": "   "}));
        db.add(2, json!({"name": "tab\tand"}));
        check_consistent(&db.conn);

        assert_eq!(db.search(1, json!({}), "pump", 10, Strategy::Indexes), [b]);
        assert_eq!(db.search(1, json!({}), "valve", 10, Strategy::Indexes), [a]);
        assert_eq!(
            db.search(2, json!({}), "pump", 10, Strategy::Indexes),
            Vec::<i64>::new()
        );
        assert_eq!(
            db.search(1, json!({}), "kompresor", 10, Strategy::Indexes),
            [d, e, f]
        );
        assert_eq!(
            db.search(1, json!({}), "soknad", 10, Strategy::Indexes),
            [e]
        );
        assert_eq!(
            db.search(2, json!({}), "tab", 10, Strategy::Indexes).len(),
            1
        );
        assert_eq!(
            db.search(1, json!({}), "ærø", 10, Strategy::Indexes),
            Vec::<i64>::new()
        );
    }

    /// FTS integrity against `files`, and the vocabulary and its trigrams recomputed in Rust.
    fn check_consistent(conn: &Connection) {
        super::super::name_index::drain(conn).unwrap();
        conn.execute(
            "INSERT INTO name_fts (name_fts) VALUES ('integrity-check')",
            [],
        )
        .unwrap();
        let mut expected: HashMap<(i64, String), i64> = HashMap::new();
        let files: Vec<(i64, String)> = conn
            .prepare("SELECT project_id, name FROM files")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for (project, name) in files {
            let distinct: BTreeSet<String> = words(&name).into_iter().collect();
            for w in distinct {
                if (2..=MAX_TERM_CHARS).contains(&w.chars().count()) {
                    *expected.entry((project, w)).or_default() += 1;
                }
            }
        }
        let terms: Vec<(i64, i64, String, i64)> = conn
            .prepare("SELECT id, project_id, term, file_count FROM name_terms")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let actual: HashMap<(i64, String), i64> = terms
            .iter()
            .map(|(_, p, t, n)| ((*p, t.clone()), *n))
            .collect();
        assert_eq!(actual, expected);
        let mut expected_grams = BTreeSet::new();
        for (id, project, term, _) in terms
            .iter()
            .filter(|t| !t.2.contains(|c: char| c.is_ascii_digit()))
        {
            let chars: Vec<char> = term.chars().collect();
            for g in trigrams(&chars, 0).0 {
                expected_grams.insert((*project, g, chars.len() as i64, *id));
            }
        }
        let grams: BTreeSet<(i64, String, i64, i64)> = conn
            .prepare("SELECT project_id, gram, len, term_id FROM name_term_grams")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(grams, expected_grams);
    }

    /// Files written before migration 3 are indexed by it.
    #[test]
    fn the_migration_indexes_existing_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let mut conn = super::super::open_connection(&path, false).unwrap();
        for sql in &super::super::MIGRATIONS[..2] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch("PRAGMA user_version = 2").unwrap();
        for (id, project, name) in [
            (1, 1, "Pump station"),
            (2, 1, "pump house"),
            (3, 2, "valve pump"),
        ] {
            conn.execute(
                "INSERT INTO files (id, project_id, name, created_time, last_updated_time) VALUES (?1, ?2, ?3, 0, 0)",
                rusqlite::params![id, project, name],
            )
            .unwrap();
        }
        super::super::migrate(&mut conn).unwrap();
        super::super::file_seq::register(&conn, &crate::store::ids::IdPermutation::new(7)).unwrap();
        check_consistent(&conn);
        let find = |project: i64, q: &str| -> Vec<i64> {
            search_with(
                &conn,
                project,
                &FileFilter::default(),
                Some(q),
                10,
                Strategy::Indexes,
            )
            .unwrap()
            .iter()
            .map(|f| f.id)
            .collect()
        };
        assert_eq!(find(1, "pump"), [1, 2]);
        assert_eq!(find(2, "pmup"), [3]);
    }

    /// The statements of a search read indexes only: no `SCAN files`, whatever the filter.
    #[test]
    fn no_statement_scans_files() {
        let mut db = db();
        fill(&mut db);
        let reader = super::super::open_connection(&db.path, true).unwrap();
        super::super::file_seq::register(&reader, &crate::store::ids::IdPermutation::new(7))
            .unwrap();
        let filters = [
            json!({}),
            json!({"mimeType": "text/plain"}),
            json!({"directoryPrefix": "/plant"}),
            json!({"metadata": {"n": "1"}}),
            json!({"assetIds": [1, 2]}),
            json!({"labels": {"containsAny": [{"externalId": "x"}]}}),
            json!({"createdTime": {"min": 0, "max": 10}}),
            json!({"uploaded": false}),
            json!({"name": "pump", "source": "s"}),
            json!({"geoLocation": {"relation": "intersects", "shape": {"type": "Point", "coordinates": [1.0, 2.0]}}}),
        ];
        // Each statement, and what its plan must show.
        let mut statements = vec![
            (
                EXACT_CANDIDATES.to_string(),
                "SEARCH files USING COVERING INDEX files_by_name_nocase",
            ),
            (
                FTS_CANDIDATES.to_string(),
                "SCAN name_fts VIRTUAL TABLE INDEX",
            ),
            (
                typo_terms_sql(6),
                "SEARCH name_term_grams USING PRIMARY KEY",
            ),
        ];
        for f in filters {
            let filter = FileFilter::from_json(f.as_object().unwrap()).unwrap();
            let sql = filter_sql::translate(&filter, 1);
            statements.extend([
                (
                    hydrate_sql(&sql),
                    "SEARCH files USING INTEGER PRIMARY KEY (rowid=?)",
                ),
                (filtered_names_sql(&sql), "SEARCH files USING"),
            ]);
        }
        for (sql, expected) in statements {
            let mut st = reader
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            let nulls = vec![SqlValue::Null; st.parameter_count()];
            let plan: Vec<String> = st
                .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert!(
                !plan.iter().any(|line| line.starts_with("SCAN files")),
                "{sql}\n{plan:#?}"
            );
            assert!(
                plan.iter().any(|line| line.starts_with(expected)),
                "{sql}\n{plan:#?}"
            );
        }
    }
}
