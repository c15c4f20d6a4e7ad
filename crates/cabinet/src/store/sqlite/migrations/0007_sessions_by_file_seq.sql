-- Upload sessions found by file through the file's position (`seq`, creation order) instead of its random
-- id, so that a create's new session appends to this index instead of landing on a random page of it (with
-- the random session ids of before, sessions were a third of the pages a batch of creates wrote). New
-- session ids begin with their creation time for the same reason (api/routes/mod.rs).
ALTER TABLE upload_sessions ADD COLUMN file_seq INTEGER;
UPDATE upload_sessions SET file_seq = (SELECT seq FROM files WHERE files.id = upload_sessions.file_id);
DROP INDEX upload_sessions_by_file;
CREATE INDEX upload_sessions_by_file ON upload_sessions (file_seq);
