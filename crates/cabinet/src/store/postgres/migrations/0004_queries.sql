-- What the list, count and search queries need beyond 0001 (store/postgres/filter_sql.rs, search.rs).

-- The words of each name as the shared search tokenizer makes them (store/name_search.rs: runs of letters
-- and digits, lowercased, Latin diacritics removed), filled by the store on every insert and update: the
-- word, word-prefix and typo tiers test them through GIN. An array, not a tsvector, so that the words are
-- exactly the tokenizer's, whatever the database's text search configuration.
ALTER TABLE files ADD COLUMN name_words TEXT[] NOT NULL DEFAULT '{}';
CREATE INDEX files_by_name_words ON files USING GIN (name_words);

-- Search results come tier by tier in id order.
CREATE INDEX files_by_project_id ON files (project_id, id);

-- The vocabulary of each project's names, for the prefix and typo tiers: a query word becomes the list of
-- vocabulary words it is a prefix or a typo of, and files are then found by array overlap on
-- files_by_name_words. Kept by a trigger, so that no write path can forget it. Words are never removed
-- (a word whose files are gone matches nothing); byte order ("C") makes a prefix a range of the key.
CREATE TABLE name_terms (
    project_id BIGINT NOT NULL,
    term       TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (project_id, term)
);
-- Typo candidates: the words of a length within the edit bound (words with digits are never typos).
CREATE INDEX name_terms_by_length ON name_terms (project_id, length(term)) INCLUDE (term)
    WHERE term !~ '[0-9]';

CREATE FUNCTION files_name_terms() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO name_terms (project_id, term)
        SELECT DISTINCT NEW.project_id, w FROM unnest(NEW.name_words) AS w
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER files_name_terms_insert AFTER INSERT ON files
    FOR EACH ROW EXECUTE FUNCTION files_name_terms();
-- Updates set every column (files.rs): only a changed name adds words.
CREATE TRIGGER files_name_terms_update AFTER UPDATE OF name_words ON files
    FOR EACH ROW WHEN (OLD.name_words IS DISTINCT FROM NEW.name_words)
    EXECUTE FUNCTION files_name_terms();

-- Prefix conditions (directoryPrefix, externalIdPrefix) are ranges in byte order, whatever the database's
-- collation: these indexes compare in "C".
DROP INDEX files_by_directory;
CREATE INDEX files_by_directory ON files (project_id, (directory COLLATE "C"), seq);
CREATE INDEX files_by_external_id_prefix ON files (project_id, (external_id COLLATE "C"))
    WHERE external_id IS NOT NULL;
