//! Name search on PostgreSQL: `POST /files/search` with `search.name`, ranked exactly as on SQLite (the
//! tiers and the reference ranking [`tier_of`] are shared, in store/name_search.rs): exact (ASCII case
//! ignored, as SQLite's NOCASE), prefix, words, word prefixes, typos; each tier in id order.
//!
//! # Plan (the columns and tables are in `migrations/0004_queries.sql`)
//! Without a name, the filter's files in listing order (as list). With one:
//! 1. Exact tier: `lower(name) = lower(query)` on `files_by_lower_name (project_id, lower(name), id)`, in id
//!    order; [`tier_of`] keeps the ASCII-only case folding exact.
//! 2. Each query word becomes the project's vocabulary words (`name_terms`, kept by a trigger from
//!    `files.name_words`) it is a prefix of (a range of the "C"-ordered key) and, for the typo tier, those
//!    within its edit bound (the words of a length within the bound, checked here with the bounded edit
//!    distance). A tier is then array conditions on `name_words` under GIN: `@>` for whole words, `&&`
//!    with a word's alternatives. These conditions are supersets of the tiers; [`tier_of`] decides.
//! 3. The broadest tier (typos, which contains the prefix, word and word-prefix tiers) with the filter, at
//!    most [`BROAD_SET`] + 1 rows: when there are no more, they are every match and are ranked here at once.
//! 4. Otherwise each tier in turn, in id order, keyset batches growing to [`MAX_BATCH`], until `limit`.
//!
//! The filter is part of every statement, so the planner combines it with the name conditions; the spatial
//! condition is checked on the rows in rank order, within its time budget (a search that uses it up
//! returns what it found, as on SQLite).

use std::collections::HashSet;

use tokio_postgres::types::ToSql;

use super::files::{file_from_row, FILE_COLUMNS};
use super::filter_sql::PgFilter;
use super::{pg_err, PgStore};
use crate::domain::{FileFilter, FileRecord, ProjectName};
use crate::store::filter_sql::prefix_end;
use crate::store::name_search::{
    distance_within, tier_of, Query, SearchPlan, Tier, Word, MAX_TERM_CHARS, TYPO_WORDS,
};
use crate::store::StoreError;

/// When the broadest tier has at most this many matches, they are read at once and ranked in memory.
const BROAD_SET: usize = 1000;
/// The largest batch of a tier walk.
const MAX_BATCH: usize = 4096;
/// A query word that is the prefix of more vocabulary words than this is left to [`tier_of`] (its array
/// condition would cost more than it saves); the other words' conditions still narrow the candidates.
const MAX_ALTERNATIVES: usize = 4096;

/// What a tier asks of `files.name_words`.
struct WordConditions {
    /// Every one of these words.
    all: Vec<String>,
    /// For each list, at least one of its words.
    any: Vec<Vec<String>>,
}

/// The vocabulary words each query word may stand for.
struct Alternatives {
    /// Per query word: the words it is a prefix of, `None` when too many.
    prefixes: Vec<Option<Vec<String>>>,
    /// Per query word: the words it is a prefix or a typo of, `None` when too many.
    typos: Vec<Option<Vec<String>>>,
}

/// The results so far: each file once, at most `limit`.
struct Results {
    items: Vec<FileRecord>,
    seen: HashSet<i64>,
    limit: usize,
}

impl Results {
    fn full(&self) -> bool {
        self.items.len() >= self.limit
    }
}

impl PgStore {
    /// [`MetadataStore::search`](crate::store::MetadataStore::search) on PostgreSQL.
    pub async fn search_files(
        &self,
        project: &ProjectName,
        filter: &FileFilter,
        name: Option<&str>,
        limit: usize,
    ) -> Result<Vec<FileRecord>, StoreError> {
        if limit == 0 {
            return Ok(vec![]);
        }
        let query = match SearchPlan::new(filter, name, limit) {
            SearchPlan::Ranked(q) => q,
            SearchPlan::List(page) => return Ok(self.list_files(project, *page).await?.items),
        };
        let client = self.client().await?;
        let Some(pid) = self.project_id(&client, project).await? else {
            return Ok(vec![]);
        };
        let search = Search {
            client: &client,
            filter,
            pid,
            query: &query,
        };
        // The spatial condition's budget, carried through every statement of this search.
        let mut checker = PgFilter::new(filter, pid);
        let mut out = Results {
            items: Vec::with_capacity(limit),
            seen: HashSet::new(),
            limit,
        };
        let exact = |f: &mut PgFilter| {
            let q = f.bind(query.trimmed.clone());
            format!("lower(files.name) = lower({q})")
        };
        if search
            .walk(Tier::Exact, &exact, &mut checker, &mut out)
            .await?
            || out.full()
            || query.words.is_empty()
        {
            return Ok(out.items);
        }
        let alternatives = search.alternatives().await?;
        let Some(broadest) = tier_conditions(&query, &alternatives, Tier::Typos) else {
            return Ok(out.items);
        };
        // Few matches in the broadest tier: every one of them at once (ids and names), ranked here; then
        // only the rows that may make the page are read.
        let broad = |f: &mut PgFilter| words_sql(f, &broadest);
        let sql_filter = search.statement_filter(&broad);
        let st = client
            .prepare(&format!(
                "SELECT files.id, files.name FROM files WHERE {} ORDER BY files.id LIMIT {}",
                sql_filter.clause,
                BROAD_SET + 1
            ))
            .await
            .map_err(pg_err)?;
        let rows = client
            .query(&st, &sql_filter.refs())
            .await
            .map_err(pg_err)?;
        if rows.len() <= BROAD_SET {
            let mut ranked: Vec<(Tier, i64)> = Vec::with_capacity(rows.len());
            for row in &rows {
                let id: i64 = row.try_get(0).map_err(pg_err)?;
                let name: String = row.try_get(1).map_err(pg_err)?;
                if let Some(tier) = tier_of(&query, &name).filter(|t| *t != Tier::Exact) {
                    ranked.push((tier, id));
                }
            }
            ranked.sort_unstable();
            let hydrate = client
                .prepare_cached(&format!(
                    "SELECT {FILE_COLUMNS} FROM files WHERE project_id = $1 AND id = ANY($2)"
                ))
                .await
                .map_err(pg_err)?;
            for chunk in ranked.chunks(limit.max(64)) {
                let ids: Vec<i64> = chunk.iter().map(|(_, id)| *id).collect();
                let mut by_id = std::collections::HashMap::with_capacity(ids.len());
                for row in client
                    .query(&hydrate, &[&pid, &ids])
                    .await
                    .map_err(pg_err)?
                    .iter()
                {
                    let file = file_from_row(row)?;
                    by_id.insert(file.id, file);
                }
                let files = ids.iter().filter_map(|id| by_id.remove(id)).collect();
                if take(&mut checker, files, &mut out) || out.full() {
                    break;
                }
            }
            return Ok(out.items);
        }
        for tier in [Tier::Prefix, Tier::Words, Tier::WordPrefixes, Tier::Typos] {
            let Some(conditions) = tier_conditions(&query, &alternatives, tier) else {
                continue;
            };
            let sql = |f: &mut PgFilter| words_sql(f, &conditions);
            if search.walk(tier, &sql, &mut checker, &mut out).await? || out.full() {
                break;
            }
        }
        Ok(out.items)
    }
}

/// One search's fixed parts.
struct Search<'a> {
    client: &'a deadpool_postgres::Client,
    filter: &'a FileFilter,
    pid: i64,
    query: &'a Query,
}

impl Search<'_> {
    /// The filter with a tier's condition (written by `condition`, which binds its own parameters).
    fn statement_filter(&self, condition: &(dyn Fn(&mut PgFilter) -> String + Sync)) -> PgFilter {
        let mut f = PgFilter::new(self.filter, self.pid);
        let extra = condition(&mut f);
        f.clause = format!("{} AND {extra}", f.clause);
        f
    }

    /// Walks the files matching the filter and `condition` in id order, keeping those whose name falls in
    /// `tier`, until `out` is full. True when the spatial check ran out of time (the search ends).
    async fn walk(
        &self,
        tier: Tier,
        condition: &(dyn Fn(&mut PgFilter) -> String + Sync),
        checker: &mut PgFilter,
        out: &mut Results,
    ) -> Result<bool, StoreError> {
        let f = self.statement_filter(condition);
        let n = f.params.len();
        let st = self
            .client
            .prepare(&format!(
                "SELECT {FILE_COLUMNS} FROM files WHERE {} AND files.id > ${} ORDER BY files.id LIMIT ${}",
                f.clause,
                n + 1,
                n + 2
            ))
            .await
            .map_err(pg_err)?;
        let mut after = i64::MIN;
        let mut batch = (out.limit + 1).clamp(64, MAX_BATCH);
        loop {
            let size = batch as i64;
            let mut params = f.refs();
            params.extend([&after as &(dyn ToSql + Sync), &size]);
            let rows = self.client.query(&st, &params).await.map_err(pg_err)?;
            let mut files = Vec::with_capacity(rows.len());
            for row in &rows {
                let file = file_from_row(row)?;
                after = file.id;
                if tier_of(self.query, &file.name) == Some(tier) {
                    files.push(file);
                }
            }
            if take(checker, files, out) {
                return Ok(true);
            }
            if out.full() || rows.len() < batch {
                return Ok(false);
            }
            batch = (batch * 4).min(MAX_BATCH);
        }
    }

    /// What each query word may stand for, from the project's vocabulary.
    async fn alternatives(&self) -> Result<Alternatives, StoreError> {
        let prefix_st = self
            .client
            .prepare_cached(
                "SELECT term FROM name_terms WHERE project_id = $1 AND term >= $2 AND term < $3 \
                 ORDER BY term LIMIT $4",
            )
            .await
            .map_err(pg_err)?;
        let length_st = self
            .client
            .prepare_cached(
                "SELECT term FROM name_terms WHERE project_id = $1 \
                 AND length(term) BETWEEN $2 AND $3 AND term !~ '[0-9]'",
            )
            .await
            .map_err(pg_err)?;
        let mut out = Alternatives {
            prefixes: vec![],
            typos: vec![],
        };
        for (i, w) in self.query.words.iter().enumerate() {
            let end = prefix_end(&w.text);
            let bound = (MAX_ALTERNATIVES + 1) as i64;
            let mut prefixed: Vec<String> = self
                .client
                .query(&prefix_st, &[&self.pid, &w.text, &end, &bound])
                .await
                .map_err(pg_err)?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()
                .map_err(pg_err)?;
            // A word continuing with U+10FFFF lies past the range; the exact test keeps the rest right.
            prefixed.retain(|t| t.starts_with(&w.text));
            let prefixes = (prefixed.len() <= MAX_ALTERNATIVES).then_some(prefixed);
            let typos = match (&prefixes, i < TYPO_WORDS && w.max_edits > 0) {
                (Some(p), true) => {
                    let mut all = p.clone();
                    all.extend(self.typo_terms(&length_st, w).await?);
                    all.sort();
                    all.dedup();
                    Some(all)
                }
                (p, _) => p.clone(),
            };
            out.prefixes.push(prefixes);
            out.typos.push(typos);
        }
        Ok(out)
    }

    /// The vocabulary words within `w`'s edit bound, as [`tier_of`] counts typos.
    async fn typo_terms(
        &self,
        st: &tokio_postgres::Statement,
        w: &Word,
    ) -> Result<Vec<String>, StoreError> {
        let k = w.max_edits;
        let low = i32::try_from(w.chars.len().saturating_sub(k).max(2)).unwrap_or(i32::MAX);
        let high = i32::try_from((w.chars.len() + k).min(MAX_TERM_CHARS)).unwrap_or(i32::MAX);
        let rows = self
            .client
            .query(st, &[&self.pid, &low, &high])
            .await
            .map_err(pg_err)?;
        let mut out = Vec::new();
        for row in &rows {
            let term: String = row.try_get(0).map_err(pg_err)?;
            let chars: Vec<char> = term.chars().collect();
            if !chars.iter().any(char::is_ascii_digit)
                && distance_within(&w.chars, &chars, k).is_some()
            {
                out.push(term);
            }
        }
        Ok(out)
    }
}

/// The word conditions of `tier`, `None` when no file can be in it (a query word stands for no word).
fn tier_conditions(query: &Query, alt: &Alternatives, tier: Tier) -> Option<WordConditions> {
    let words: Vec<String> = query.words.iter().map(|w| w.text.clone()).collect();
    let lists = |per_word: &[Option<Vec<String>>]| -> Option<Vec<Vec<String>>> {
        let mut any = Vec::new();
        for list in per_word.iter().flatten() {
            if list.is_empty() {
                return None;
            }
            any.push(list.clone());
        }
        Some(any)
    };
    let (all, any) = match tier {
        Tier::Exact => return None,
        Tier::Prefix => {
            let (_, first) = words.split_last()?;
            (
                first.to_vec(),
                lists(&alt.prefixes[alt.prefixes.len() - 1..])?,
            )
        }
        Tier::Words => (words, vec![]),
        Tier::WordPrefixes => (vec![], lists(&alt.prefixes)?),
        Tier::Typos => (vec![], lists(&alt.typos)?),
    };
    Some(WordConditions { all, any })
}

/// [`WordConditions`] as SQL on `files.name_words`.
fn words_sql(f: &mut PgFilter, c: &WordConditions) -> String {
    let mut parts = Vec::new();
    if !c.all.is_empty() {
        parts.push(format!(
            "files.name_words @> {}::text[]",
            f.bind(c.all.clone())
        ));
    }
    for list in &c.any {
        parts.push(format!(
            "files.name_words && {}::text[]",
            f.bind(list.clone())
        ));
    }
    match parts.is_empty() {
        true => "true".into(),
        false => parts.join(" AND "),
    }
}

/// Appends `files` (in rank order) that pass the spatial check to `out`, each once, until it is full. True
/// when the check ran out of time.
fn take(checker: &mut PgFilter, files: Vec<FileRecord>, out: &mut Results) -> bool {
    let fresh: Vec<FileRecord> = files
        .into_iter()
        .filter(|f| !out.seen.contains(&f.id))
        .collect();
    let (verdicts, exhausted) = checker.post_check(fresh.iter().map(|f| f.geo_location.as_ref()));
    for (file, ok) in fresh.into_iter().zip(verdicts) {
        if ok && !out.full() && out.seen.insert(file.id) {
            out.items.push(file);
        }
    }
    exhausted
}
