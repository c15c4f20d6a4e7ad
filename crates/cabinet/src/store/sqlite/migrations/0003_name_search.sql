-- Name search (POST /files/search, store/sqlite/search.rs). Everything here is kept in step with `files` by
-- the triggers at the end; the search reads only indexes, never scans `files`.

-- Exact tier: case-insensitive (ASCII, as NOCASE is) equality on the whole name, in id order.
CREATE INDEX files_by_name_nocase ON files (project_id, name COLLATE NOCASE, id);

-- Prefix, word and typo tiers: a full-text index over names. Each row also holds its project as one token in
-- the column `project` (U+E000 followed by the project id; a private-use character, so the token and its
-- prefixes never meet a real name token), so a match is limited to one project inside the index.
-- External content: the index stores no copy of the names. The view is what `rebuild` reads.
-- prefix='1 2 3 4': prefix queries of up to four characters read one prefix doclist instead of merging the
-- doclists of every term with that prefix.
CREATE VIEW name_fts_source AS SELECT id, name, char(57344) || project_id AS project FROM files;
CREATE VIRTUAL TABLE name_fts USING fts5 (
    name, project,
    content = 'name_fts_source', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3 4', columnsize = 0
);

-- The vocabulary of name words per project (as the tokenizer above folds them, 2 to 64 characters), with how
-- many files of the project contain each. Typo candidates come from it, and the prefix expansions of query
-- words longer than the prefix index (an OR of the words, read lazily, instead of FTS5 merging the doclists
-- of every term with the prefix up front).
CREATE TABLE name_terms (
    id         INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    term       TEXT NOT NULL,
    file_count INTEGER NOT NULL,
    UNIQUE (project_id, term)
);

-- The trigrams of each vocabulary word without digits (words with digits are not typo-matched) padded as
-- '^^word$$' (so a word of n characters has n + 2), keyed
-- for `gram IN (…) AND len BETWEEN …`: words sharing enough trigrams with a query word, of a length within
-- the edit bound, are the candidates that search.rs checks with a bounded Levenshtein distance.
CREATE TABLE name_term_grams (
    project_id INTEGER NOT NULL,
    gram       TEXT NOT NULL,
    len        INTEGER NOT NULL,
    term_id    INTEGER NOT NULL,
    PRIMARY KEY (project_id, gram, len, term_id)
) WITHOUT ROWID;

-- 1..66: the trigram positions of a padded word of at most 64 characters (triggers cannot use WITH).
CREATE TABLE name_gram_positions (i INTEGER PRIMARY KEY);
INSERT INTO name_gram_positions (i)
    WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 66) SELECT i FROM n;

-- Tokenizing one name at a time as name_fts does, for the vocabulary. Each trigger below comes in two kinds:
-- - a name of printable ASCII (most names) is put in name_tokenizer and split by the view name_ascii_words:
--   lowercased, each of the 32 ASCII punctuation characters replaced by a space, split on spaces by json_each
--   (what is left is only [a-z0-9 ], safe inside a JSON string) — exactly unicode61's words for such a name;
-- - any other name goes through name_scratch, a one-row FTS5 table with the same tokenizer, emptied and
--   refilled each time, and its vocabulary (about 60 µs more per name).
-- The kinds are separate triggers (WHEN), so that a statement never even opens what it does not need.
CREATE TABLE name_tokenizer (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL);
INSERT INTO name_tokenizer (id, name) VALUES (1, '');
CREATE VIEW name_ascii_words AS
    SELECT DISTINCT j.value AS term
    FROM name_tokenizer AS t,
         json_each('["' || replace(
             replace(replace(replace(replace(replace(replace(replace(replace(
             replace(replace(replace(replace(replace(replace(replace(replace(
             replace(replace(replace(replace(replace(replace(replace(replace(
             replace(replace(replace(replace(replace(replace(replace(replace(lower(t.name),
             '!', ' '), '"', ' '), '#', ' '), '$', ' '), '%', ' '), '&', ' '), '''', ' '), '(', ' '),
             ')', ' '), '*', ' '), '+', ' '), ',', ' '), '-', ' '), '.', ' '), '/', ' '), ':', ' '),
             ';', ' '), '<', ' '), '=', ' '), '>', ' '), '?', ' '), '@', ' '), '[', ' '), '\', ' '),
             ']', ' '), '^', ' '), '_', ' '), '`', ' '), '{', ' '), '|', ' '), '}', ' '), '~', ' '),
             ' ', '","') || '"]') AS j
    WHERE length(j.value) BETWEEN 2 AND 64;
CREATE VIRTUAL TABLE name_scratch USING fts5 (name, content = '', tokenize = 'unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE name_scratch_terms USING fts5vocab (name_scratch, 'row');

CREATE TRIGGER name_terms_grams_insert AFTER INSERT ON name_terms
WHEN new.term NOT GLOB '*[0-9]*' BEGIN
    INSERT OR IGNORE INTO name_term_grams (project_id, gram, len, term_id)
        SELECT new.project_id, substr('^^' || new.term || '$$', i, 3), length(new.term), new.id
        FROM name_gram_positions WHERE i <= length(new.term) + 2;
END;

CREATE TRIGGER name_terms_grams_delete AFTER DELETE ON name_terms
WHEN old.term NOT GLOB '*[0-9]*' BEGIN
    DELETE FROM name_term_grams
    WHERE project_id = old.project_id AND len = length(old.term) AND term_id = old.id
      AND gram IN (SELECT substr('^^' || old.term || '$$', i, 3) FROM name_gram_positions
                   WHERE i <= length(old.term) + 2);
END;

-- The triggers on files: name_fts, and the vocabulary by the two kinds of tokenizing above.
CREATE TRIGGER files_name_search_insert_ascii AFTER INSERT ON files
WHEN new.name NOT GLOB '*[^ -~]*' BEGIN
    INSERT INTO name_fts (rowid, name, project) VALUES (new.id, new.name, char(57344) || new.project_id);
    UPDATE name_tokenizer SET name = new.name;
    INSERT INTO name_terms (project_id, term, file_count)
        SELECT new.project_id, term, 1 FROM name_ascii_words WHERE true
        ON CONFLICT (project_id, term) DO UPDATE SET file_count = file_count + 1;
END;

CREATE TRIGGER files_name_search_insert_other AFTER INSERT ON files
WHEN new.name GLOB '*[^ -~]*' BEGIN
    INSERT INTO name_fts (rowid, name, project) VALUES (new.id, new.name, char(57344) || new.project_id);
    INSERT INTO name_scratch (name_scratch) VALUES ('delete-all');
    INSERT INTO name_scratch (rowid, name) VALUES (1, new.name);
    INSERT INTO name_terms (project_id, term, file_count)
        SELECT new.project_id, term, 1 FROM name_scratch_terms WHERE length(term) BETWEEN 2 AND 64
        ON CONFLICT (project_id, term) DO UPDATE SET file_count = file_count + 1;
END;

CREATE TRIGGER files_name_search_update AFTER UPDATE OF name, project_id ON files
WHEN (old.name IS NOT new.name OR old.project_id IS NOT new.project_id) BEGIN
    INSERT INTO name_fts (name_fts, rowid, name, project)
        VALUES ('delete', old.id, old.name, char(57344) || old.project_id);
    INSERT INTO name_fts (rowid, name, project) VALUES (new.id, new.name, char(57344) || new.project_id);
END;

CREATE TRIGGER files_name_search_update_old_ascii AFTER UPDATE OF name, project_id ON files
WHEN (old.name IS NOT new.name OR old.project_id IS NOT new.project_id)
     AND old.name NOT GLOB '*[^ -~]*' BEGIN
    UPDATE name_tokenizer SET name = old.name;
    UPDATE name_terms SET file_count = file_count - 1
        WHERE project_id = old.project_id
          AND term IN (SELECT term FROM name_ascii_words);
    DELETE FROM name_terms
        WHERE project_id = old.project_id AND file_count <= 0
          AND term IN (SELECT term FROM name_ascii_words);
END;

CREATE TRIGGER files_name_search_update_old_other AFTER UPDATE OF name, project_id ON files
WHEN (old.name IS NOT new.name OR old.project_id IS NOT new.project_id)
     AND old.name GLOB '*[^ -~]*' BEGIN
    INSERT INTO name_scratch (name_scratch) VALUES ('delete-all');
    INSERT INTO name_scratch (rowid, name) VALUES (1, old.name);
    UPDATE name_terms SET file_count = file_count - 1
        WHERE project_id = old.project_id
          AND term IN (SELECT term FROM name_scratch_terms WHERE length(term) BETWEEN 2 AND 64);
    DELETE FROM name_terms
        WHERE project_id = old.project_id AND file_count <= 0
          AND term IN (SELECT term FROM name_scratch_terms WHERE length(term) BETWEEN 2 AND 64);
END;

CREATE TRIGGER files_name_search_update_new_ascii AFTER UPDATE OF name, project_id ON files
WHEN (old.name IS NOT new.name OR old.project_id IS NOT new.project_id)
     AND new.name NOT GLOB '*[^ -~]*' BEGIN
    UPDATE name_tokenizer SET name = new.name;
    INSERT INTO name_terms (project_id, term, file_count)
        SELECT new.project_id, term, 1 FROM name_ascii_words WHERE true
        ON CONFLICT (project_id, term) DO UPDATE SET file_count = file_count + 1;
END;

CREATE TRIGGER files_name_search_update_new_other AFTER UPDATE OF name, project_id ON files
WHEN (old.name IS NOT new.name OR old.project_id IS NOT new.project_id)
     AND new.name GLOB '*[^ -~]*' BEGIN
    INSERT INTO name_scratch (name_scratch) VALUES ('delete-all');
    INSERT INTO name_scratch (rowid, name) VALUES (1, new.name);
    INSERT INTO name_terms (project_id, term, file_count)
        SELECT new.project_id, term, 1 FROM name_scratch_terms WHERE length(term) BETWEEN 2 AND 64
        ON CONFLICT (project_id, term) DO UPDATE SET file_count = file_count + 1;
END;

CREATE TRIGGER files_name_search_delete_ascii AFTER DELETE ON files
WHEN old.name NOT GLOB '*[^ -~]*' BEGIN
    INSERT INTO name_fts (name_fts, rowid, name, project)
        VALUES ('delete', old.id, old.name, char(57344) || old.project_id);
    UPDATE name_tokenizer SET name = old.name;
    UPDATE name_terms SET file_count = file_count - 1
        WHERE project_id = old.project_id
          AND term IN (SELECT term FROM name_ascii_words);
    DELETE FROM name_terms
        WHERE project_id = old.project_id AND file_count <= 0
          AND term IN (SELECT term FROM name_ascii_words);
END;

CREATE TRIGGER files_name_search_delete_other AFTER DELETE ON files
WHEN old.name GLOB '*[^ -~]*' BEGIN
    INSERT INTO name_fts (name_fts, rowid, name, project)
        VALUES ('delete', old.id, old.name, char(57344) || old.project_id);
    INSERT INTO name_scratch (name_scratch) VALUES ('delete-all');
    INSERT INTO name_scratch (rowid, name) VALUES (1, old.name);
    UPDATE name_terms SET file_count = file_count - 1
        WHERE project_id = old.project_id
          AND term IN (SELECT term FROM name_scratch_terms WHERE length(term) BETWEEN 2 AND 64);
    DELETE FROM name_terms
        WHERE project_id = old.project_id AND file_count <= 0
          AND term IN (SELECT term FROM name_scratch_terms WHERE length(term) BETWEEN 2 AND 64);
END;

-- Files written before this migration: index them as the insert triggers would have.
INSERT INTO name_fts (name_fts) VALUES ('rebuild');
CREATE TEMP TABLE name_search_backfill (project_id INTEGER NOT NULL, name TEXT NOT NULL);
CREATE TEMP TRIGGER name_search_backfill_ascii AFTER INSERT ON name_search_backfill
WHEN new.name NOT GLOB '*[^ -~]*' BEGIN
    UPDATE name_tokenizer SET name = new.name;
    INSERT INTO name_terms (project_id, term, file_count)
        SELECT new.project_id, term, 1 FROM name_ascii_words WHERE true
        ON CONFLICT (project_id, term) DO UPDATE SET file_count = file_count + 1;
END;
CREATE TEMP TRIGGER name_search_backfill_other AFTER INSERT ON name_search_backfill
WHEN new.name GLOB '*[^ -~]*' BEGIN
    INSERT INTO name_scratch (name_scratch) VALUES ('delete-all');
    INSERT INTO name_scratch (rowid, name) VALUES (1, new.name);
    INSERT INTO name_terms (project_id, term, file_count)
        SELECT new.project_id, term, 1 FROM name_scratch_terms WHERE length(term) BETWEEN 2 AND 64
        ON CONFLICT (project_id, term) DO UPDATE SET file_count = file_count + 1;
END;
INSERT INTO name_search_backfill (project_id, name) SELECT project_id, name FROM files;
DROP TABLE name_search_backfill;
