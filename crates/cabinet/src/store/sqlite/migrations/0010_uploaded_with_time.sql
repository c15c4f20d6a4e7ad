-- `uploaded` with an `uploadedTime` range (the files uploaded in a period) is walked in listing order through
-- files_by_uploaded; with uploaded_time in the index, SQLite tests the range on the index entry and reads
-- only the files that match, instead of every uploaded file it passes.
DROP INDEX files_by_uploaded;
CREATE INDEX files_by_uploaded ON files (project_id, uploaded, seq, uploaded_time);
