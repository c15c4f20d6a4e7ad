-- Files are found by id through the inverse of the id permutation (store/sqlite/file_seq.rs): from now on
-- a file's seq is its id counter + 1, and the unique index on the random id, which cost a random page per
-- create, goes. The files from before keep their seqs and are listed here, as are rows inserted by hand.
CREATE TABLE file_seq_exceptions (
    id  INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL
);
INSERT INTO file_seq_exceptions (id, seq) SELECT id, seq FROM files;
DROP INDEX files_by_id;

CREATE TRIGGER file_seq_exceptions_delete AFTER DELETE ON files BEGIN
    DELETE FROM file_seq_exceptions WHERE id = old.id;
END;
