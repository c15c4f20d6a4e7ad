-- Indexes for every filter of list, search and aggregate. Each ends in seq, so an equality filter walks its
-- index in listing order and a keyset cursor (seq > ?) continues inside it.
CREATE INDEX files_by_name ON files (project_id, name, seq);
CREATE INDEX files_by_directory ON files (project_id, directory, seq);
CREATE INDEX files_by_mime_type ON files (project_id, mime_type, seq);
CREATE INDEX files_by_source ON files (project_id, source, seq);
CREATE INDEX files_by_data_set ON files (project_id, data_set_id, seq);
CREATE INDEX files_by_created_time ON files (project_id, created_time, seq);
CREATE INDEX files_by_last_updated_time ON files (project_id, last_updated_time, seq);
CREATE INDEX files_by_uploaded_time ON files (project_id, uploaded_time, seq);
-- `uploaded` as a column of its own, so that filtering on it is an equality that keeps listing order.
ALTER TABLE files ADD COLUMN uploaded INTEGER GENERATED ALWAYS AS (uploaded_time IS NOT NULL) VIRTUAL;
CREATE INDEX files_by_uploaded ON files (project_id, uploaded, seq);
CREATE INDEX files_by_source_created_time ON files (project_id, source_created_time, seq);
CREATE INDEX files_by_source_modified_time ON files (project_id, source_modified_time, seq);

-- Multi-valued fields, one row per value (keyed by the file's seq), kept in step with the JSON columns of
-- files by the triggers below.
CREATE TABLE file_assets (
    project_id INTEGER NOT NULL,
    asset_id   INTEGER NOT NULL,
    file_seq   INTEGER NOT NULL,
    PRIMARY KEY (project_id, asset_id, file_seq)
) WITHOUT ROWID;
CREATE INDEX file_assets_by_file ON file_assets (file_seq);

CREATE TABLE file_labels (
    project_id INTEGER NOT NULL,
    label      TEXT NOT NULL,
    file_seq   INTEGER NOT NULL,
    PRIMARY KEY (project_id, label, file_seq)
) WITHOUT ROWID;
CREATE INDEX file_labels_by_file ON file_labels (file_seq);

CREATE TABLE file_metadata (
    project_id INTEGER NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    file_seq   INTEGER NOT NULL
);
CREATE INDEX file_metadata_by_value ON file_metadata (project_id, key, value, file_seq);
CREATE INDEX file_metadata_by_file ON file_metadata (file_seq);

-- Bounding boxes of geoLocations by file seq, kept by the store (store/sqlite/rows.rs): a spatial pre-filter.
CREATE VIRTUAL TABLE file_geo USING rtree (seq, min_x, max_x, min_y, max_y);

CREATE TRIGGER files_index_insert AFTER INSERT ON files BEGIN
    INSERT OR IGNORE INTO file_assets (project_id, asset_id, file_seq)
        SELECT new.project_id, value, new.seq FROM json_each(new.asset_ids);
    INSERT OR IGNORE INTO file_labels (project_id, label, file_seq)
        SELECT new.project_id, value, new.seq FROM json_each(new.labels);
    INSERT INTO file_metadata (project_id, key, value, file_seq)
        SELECT new.project_id, key, value, new.seq FROM json_each(new.metadata);
END;

CREATE TRIGGER files_index_assets AFTER UPDATE OF asset_ids ON files
WHEN old.asset_ids IS NOT new.asset_ids BEGIN
    DELETE FROM file_assets WHERE file_seq = old.seq;
    INSERT OR IGNORE INTO file_assets (project_id, asset_id, file_seq)
        SELECT new.project_id, value, new.seq FROM json_each(new.asset_ids);
END;

CREATE TRIGGER files_index_labels AFTER UPDATE OF labels ON files
WHEN old.labels IS NOT new.labels BEGIN
    DELETE FROM file_labels WHERE file_seq = old.seq;
    INSERT OR IGNORE INTO file_labels (project_id, label, file_seq)
        SELECT new.project_id, value, new.seq FROM json_each(new.labels);
END;

CREATE TRIGGER files_index_metadata AFTER UPDATE OF metadata ON files
WHEN old.metadata IS NOT new.metadata BEGIN
    DELETE FROM file_metadata WHERE file_seq = old.seq;
    INSERT INTO file_metadata (project_id, key, value, file_seq)
        SELECT new.project_id, key, value, new.seq FROM json_each(new.metadata);
END;

CREATE TRIGGER files_index_delete AFTER DELETE ON files BEGIN
    DELETE FROM file_assets WHERE file_seq = old.seq;
    DELETE FROM file_labels WHERE file_seq = old.seq;
    DELETE FROM file_metadata WHERE file_seq = old.seq;
    DELETE FROM file_geo WHERE seq = old.seq;
END;
