//! The name-search semantics shared by the stores: how `search.name` is split into words, which tier a
//! file name falls in ([`tier_of`], the reference ranking), and the bounded edit distance of the typo tier.
//! Each store finds candidates through its own indexes and ranks them with these functions, so that both
//! rank alike.

use crate::domain::FileFilter;
use crate::store::PageRequest;

/// The most query words given typo alternatives (the rest still match as words or prefixes).
pub const TYPO_WORDS: usize = 8;
/// Vocabulary words are 2 to this many characters long: longer words are never typo-matched.
pub const MAX_TERM_CHARS: usize = 64;

/// The ranking tiers, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    /// The whole name, ASCII case ignored.
    Exact,
    /// The name's words begin with the query's words.
    Prefix,
    /// Every query word is a word of the name.
    Words,
    /// Every query word is a word of the name or the beginning of one.
    WordPrefixes,
    /// Every query word is the beginning of a word of the name or within its edit bound of one.
    Typos,
}

/// What a search asks for: files ranked by how well their name matches a query, or, without a name or with
/// a blank one, the filter's first files in listing order, exactly as list gives them.
#[derive(Debug)]
pub enum SearchPlan {
    /// Rank the filter's files by [`tier_of`] for this query.
    Ranked(Query),
    /// List this page instead.
    List(Box<PageRequest>),
}

impl SearchPlan {
    /// The plan of a search for at most `limit` files matching `filter`, ranked by `name`.
    pub fn new(filter: &FileFilter, name: Option<&str>, limit: usize) -> SearchPlan {
        match name.map(Query::parse) {
            Some(q) if !q.trimmed.is_empty() => SearchPlan::Ranked(q),
            _ => SearchPlan::List(Box::new(PageRequest {
                filter: filter.clone(),
                limit,
                after: None,
                partition: None,
            })),
        }
    }
}

/// A parsed `search.name`.
#[derive(Debug)]
pub struct Query {
    /// Without surrounding whitespace: what the exact tier compares with.
    pub trimmed: String,
    /// Its words, as [`words`] makes them.
    pub words: Vec<Word>,
}

/// A word of a query.
#[derive(Debug)]
pub struct Word {
    /// The word, as [`words`] makes it.
    pub text: String,
    /// Its characters.
    pub chars: Vec<char>,
    /// How many edits a typo of this word may have; 0 when it is not typo-matched.
    pub max_edits: usize,
}

impl Query {
    /// Parses `search.name`.
    pub fn parse(name: &str) -> Query {
        let trimmed = name.trim().to_string();
        let words = words(&trimmed)
            .into_iter()
            .map(|text| {
                let chars: Vec<char> = text.chars().collect();
                let max_edits = max_edits(&chars);
                Word {
                    text,
                    chars,
                    max_edits,
                }
            })
            .collect();
        Query { trimmed, words }
    }
}

/// The edit bound of a query word: 1 for 3–7 characters, 2 for 8 or more; none for shorter words, words with
/// digits and words longer than any vocabulary word.
pub fn max_edits(word: &[char]) -> usize {
    if word.iter().any(char::is_ascii_digit) || word.len() > MAX_TERM_CHARS {
        0
    } else {
        match word.len() {
            0..=2 => 0,
            3..=7 => 1,
            _ => 2,
        }
    }
}

/// Splits `s` into words as the FTS5 `unicode61 remove_diacritics 2` tokenizer does for the common cases:
/// runs of letters and digits, lowercased, Latin diacritics removed, combining marks dropped.
pub fn words(s: &str) -> Vec<String> {
    let combining = |c: char| ('\u{300}'..='\u{36f}').contains(&c);
    let mut out = Vec::new();
    let mut current = String::new();
    for c in s.chars() {
        if c.is_alphanumeric() || combining(c) {
            current.extend(
                c.to_lowercase()
                    .filter(|&l| !combining(l))
                    .map(fold_diacritic),
            );
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// What the FTS5 tokenizer makes of U+00E0..=U+024F (Latin-1 Supplement from `à`, Latin Extended-A and -B),
/// read from SQLite itself.
const LATIN_FOLDS: &str = concat!(
    "aaaaaaæceeeeiiiiðnooooo÷øuuuuyþy",
    "aaaaaaccccccccddđđeeeeeeeeeegggggggghhħħiiiiiiiiiıĳĳjjkkĸllllllŀŀłłnnnnnnŉŋŋooooooœœrrrrrrssssssssttttŧŧ",
    "uuuuuuuuuuuuwwyyyzzzzzzs",
    "ƀɓƃƃƅƅɔƈƈɖɗƌƌƍǝəɛƒƒɠɣƕɩɨƙƙƚƛɯɲƞɵooƣƣƥƥʀƨƨʃƪƫƭƭʈuuʊʋƴƴƶƶʒƹƹƺƻƽƽƾƿǀǁǂǃǆǆǆǉǉǉǌǌǌaaiioouuuuuuuuuuǝaaǡǡǣǣ",
    "ǥǥggkkooooǯǯjǳǳǳggƕƿnnaaǽǽǿǿaaaaeeeeiiiioooorrrruuuussttȝȝhhƞȡȣȣȥȥaaeeooooooooyyȴȵȶȷȸȹⱥȼȼƚⱦȿɀɂɂƀʉʌɇɇɉɉɋɋɍɍɏɏ",
);

/// The letter without its diacritic, for Latin letters.
fn fold_diacritic(c: char) -> char {
    match c as u32 {
        code @ 0xE0..=0x24F => LATIN_FOLDS.chars().nth((code - 0xE0) as usize).unwrap_or(c),
        _ => c,
    }
}

/// The optimal string alignment distance (Levenshtein plus swaps of adjacent characters) between `a` and
/// `b` if it is at most `k`. Only the diagonal band of width `2k + 1` is computed, and it gives up as soon as
/// a whole row exceeds `k`.
pub fn distance_within(a: &[char], b: &[char], k: usize) -> Option<usize> {
    let (n, m) = (a.len(), b.len());
    if n.abs_diff(m) > k {
        return None;
    }
    let over = k + 1;
    let mut before: Vec<usize> = vec![over; m + 1];
    let mut prev: Vec<usize> = (0..=m).map(|j| j.min(over)).collect();
    let mut cur: Vec<usize> = vec![over; m + 1];
    for i in 1..=n {
        cur.fill(over);
        cur[0] = i.min(over);
        let mut row_min = cur[0];
        for j in i.saturating_sub(k).max(1)..=(i + k).min(m) {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j - 1] + cost).min(prev[j] + 1).min(cur[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            cur[j] = d.min(over);
            row_min = row_min.min(cur[j]);
        }
        if row_min > k {
            return None;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    (prev[m] <= k).then_some(prev[m])
}

/// The tier in which `name` matches `query`, if any.
pub fn tier_of(query: &Query, name: &str) -> Option<Tier> {
    // ASCII case only, as the NOCASE index of the other path.
    if name.eq_ignore_ascii_case(&query.trimmed) {
        return Some(Tier::Exact);
    }
    let q = &query.words;
    let last = q.last()?;
    let tokens = words(name);
    let n = q.len();
    if tokens.len() >= n
        && tokens.iter().zip(q).take(n - 1).all(|(t, w)| *t == w.text)
        && tokens[n - 1].starts_with(&last.text)
    {
        return Some(Tier::Prefix);
    }
    if q.iter().all(|w| tokens.contains(&w.text)) {
        return Some(Tier::Words);
    }
    if q.iter()
        .all(|w| tokens.iter().any(|t| t.starts_with(&w.text)))
    {
        return Some(Tier::WordPrefixes);
    }
    let token_chars: Vec<Vec<char>> = tokens.iter().map(|t| t.chars().collect()).collect();
    let typo = |w: &Word, t: &Vec<char>| {
        w.max_edits > 0
            && (2..=MAX_TERM_CHARS).contains(&t.len())
            && !t.iter().any(char::is_ascii_digit)
            && distance_within(&w.chars, t, w.max_edits).is_some()
    };
    let all = q.iter().enumerate().all(|(i, w)| {
        tokens
            .iter()
            .zip(&token_chars)
            .any(|(t, tc)| t.starts_with(&w.text) || (i < TYPO_WORDS && typo(w, tc)))
    });
    all.then_some(Tier::Typos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_is_bounded_and_counts_swaps_as_one_edit() {
        let d = |a: &str, b: &str, k| {
            distance_within(
                &a.chars().collect::<Vec<_>>(),
                &b.chars().collect::<Vec<_>>(),
                k,
            )
        };
        assert_eq!(d("pump", "pump", 1), Some(0));
        assert_eq!(d("pump", "pumo", 1), Some(1));
        assert_eq!(d("pump", "pmup", 1), Some(1), "a swap is one edit");
        assert_eq!(d("pump", "pum", 1), Some(1));
        assert_eq!(d("pump", "pumps", 1), Some(1));
        assert_eq!(d("pump", "bumps", 1), None);
        assert_eq!(d("pump", "bumps", 2), Some(2));
        assert_eq!(d("compressor", "kompresor", 2), Some(2));
        assert_eq!(d("compressor", "kompresr", 2), None);
        assert_eq!(
            d("abc", "abcdef", 2),
            None,
            "length difference alone exceeds the bound"
        );
        assert_eq!(d("", "ab", 2), Some(2));
        assert_eq!(d("exchanger", "exchnager", 2), Some(1));
        assert_eq!(d("straße", "strasse", 2), Some(2));
    }

    #[test]
    fn tiers_in_memory() {
        let q = Query::parse("pump sta");
        assert_eq!(tier_of(&q, "Pump Sta"), Some(Tier::Exact));
        assert_eq!(tier_of(&q, "pump_station.pdf"), Some(Tier::Prefix));
        assert_eq!(tier_of(&q, "big pump sta"), Some(Tier::Words));
        assert_eq!(tier_of(&q, "station of the pump"), Some(Tier::WordPrefixes));
        assert_eq!(tier_of(&q, "pmup station"), Some(Tier::Typos));
        assert_eq!(tier_of(&q, "valve station"), None);
        let q = Query::parse("compressr");
        assert_eq!(
            tier_of(&q, "old kompressor"),
            Some(Tier::Typos),
            "two edits for 8+ characters"
        );
        let q = Query::parse("pmp");
        assert_eq!(tier_of(&q, "pump"), Some(Tier::Typos));
        assert_eq!(tier_of(&q, "pumps"), None, "one edit for 3-7 characters");
        let q = Query::parse("2023");
        assert_eq!(tier_of(&q, "report 2024"), None, "no typos in numbers");
    }
}
