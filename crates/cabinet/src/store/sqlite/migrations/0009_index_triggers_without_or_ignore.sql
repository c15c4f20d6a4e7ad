-- The writes to `files` run `OR FAIL` (store/sqlite/rows.rs says why), and an outer statement's conflict
-- clause overrides the ones of the trigger statements it fires: the `INSERT OR IGNORE`s of 0002, which
-- skipped an asset id or label named twice in one file, would fail instead. The duplicates are dropped by
-- SELECT DISTINCT now.
DROP TRIGGER files_index_insert;
DROP TRIGGER files_index_assets;
DROP TRIGGER files_index_labels;

CREATE TRIGGER files_index_insert AFTER INSERT ON files BEGIN
    INSERT INTO file_assets (project_id, asset_id, file_seq)
        SELECT DISTINCT new.project_id, value, new.seq FROM json_each(new.asset_ids);
    INSERT INTO file_labels (project_id, label, file_seq)
        SELECT DISTINCT new.project_id, value, new.seq FROM json_each(new.labels);
    INSERT INTO file_metadata (project_id, key, value, file_seq)
        SELECT new.project_id, key, value, new.seq FROM json_each(new.metadata);
END;

CREATE TRIGGER files_index_assets AFTER UPDATE OF asset_ids ON files
WHEN old.asset_ids IS NOT new.asset_ids BEGIN
    DELETE FROM file_assets WHERE file_seq = old.seq;
    INSERT INTO file_assets (project_id, asset_id, file_seq)
        SELECT DISTINCT new.project_id, value, new.seq FROM json_each(new.asset_ids);
END;

CREATE TRIGGER files_index_labels AFTER UPDATE OF labels ON files
WHEN old.labels IS NOT new.labels BEGIN
    DELETE FROM file_labels WHERE file_seq = old.seq;
    INSERT INTO file_labels (project_id, label, file_seq)
        SELECT DISTINCT new.project_id, value, new.seq FROM json_each(new.labels);
END;
