-- The name-search index (0003) is kept once per write batch instead of once per row: the triggers on `files`
-- only note which names came and went, and the writer folds that into name_fts and the vocabulary before each
-- commit (store/sqlite/name_index.rs). Per row, the old triggers made FTS5 flush its pending data at every
-- statement, and tokenized each name in SQL; per batch, FTS5 flushes once and Rust tokenizes.

DROP TRIGGER files_name_search_insert_ascii;
DROP TRIGGER files_name_search_insert_other;
DROP TRIGGER files_name_search_update;
DROP TRIGGER files_name_search_update_old_ascii;
DROP TRIGGER files_name_search_update_old_other;
DROP TRIGGER files_name_search_update_new_ascii;
DROP TRIGGER files_name_search_update_new_other;
DROP TRIGGER files_name_search_delete_ascii;
DROP TRIGGER files_name_search_delete_other;
DROP VIEW name_ascii_words;
DROP TABLE name_tokenizer;
DROP TABLE name_scratch_terms;

-- Names to add to (delta 1) or take out of (delta -1) the index, in the order they happened. Empty between
-- write transactions: the writer drains it in the transaction that filled it.
CREATE TABLE name_index_queue (
    seq        INTEGER PRIMARY KEY,
    file_id    INTEGER NOT NULL,
    project_id INTEGER NOT NULL,
    name       TEXT NOT NULL,
    delta      INTEGER NOT NULL
);

CREATE TRIGGER files_name_queue_insert AFTER INSERT ON files BEGIN
    INSERT INTO name_index_queue (file_id, project_id, name, delta)
        VALUES (new.id, new.project_id, new.name, 1);
END;

CREATE TRIGGER files_name_queue_update AFTER UPDATE OF name, project_id ON files
WHEN (old.name IS NOT new.name OR old.project_id IS NOT new.project_id) BEGIN
    INSERT INTO name_index_queue (file_id, project_id, name, delta)
        VALUES (old.id, old.project_id, old.name, -1), (new.id, new.project_id, new.name, 1);
END;

CREATE TRIGGER files_name_queue_delete AFTER DELETE ON files BEGIN
    INSERT INTO name_index_queue (file_id, project_id, name, delta)
        VALUES (old.id, old.project_id, old.name, -1);
END;

-- Words of names that are not printable ASCII, as the FTS5 tokenizer makes them: the drain puts such names
-- in name_scratch (one row each) and reads their words here.
CREATE VIRTUAL TABLE name_scratch_words USING fts5vocab (name_scratch, 'instance');
