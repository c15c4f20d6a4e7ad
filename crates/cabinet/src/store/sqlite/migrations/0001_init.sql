-- Counters that must survive restarts (the id counter of store/ids.rs).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

-- Projects come into existence on first write; their small integer id keeps the file indexes compact.
CREATE TABLE projects (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

-- One row per file. The rowid `seq` counts up as files are created: new rows, and new entries of every
-- index ending in seq, land at the end of their b-tree, so a batch of creates dirties few pages. The public
-- `id` is random (store/ids.rs) and unique across projects. Listing order is seq order.
-- List-like fields are JSON text, NULL when empty.
CREATE TABLE files (
    seq                  INTEGER PRIMARY KEY,
    id                   INTEGER NOT NULL,
    project_id           INTEGER NOT NULL,
    external_id          TEXT,
    name                 TEXT NOT NULL,
    directory            TEXT,
    source               TEXT,
    mime_type            TEXT,
    metadata             TEXT,
    asset_ids            TEXT,
    data_set_id          INTEGER,
    source_created_time  INTEGER,
    source_modified_time INTEGER,
    security_categories  TEXT,
    labels               TEXT,
    geo_location         TEXT,
    created_time         INTEGER NOT NULL,
    last_updated_time    INTEGER NOT NULL,
    uploaded_time        INTEGER,
    content_key          TEXT,
    content_size         INTEGER
);
CREATE UNIQUE INDEX files_by_id ON files (id);
CREATE INDEX files_by_project ON files (project_id, seq);
CREATE UNIQUE INDEX files_by_external_id ON files (project_id, external_id) WHERE external_id IS NOT NULL;

-- Open and completed upload sessions. parts is NULL for a single-PUT session.
CREATE TABLE upload_sessions (
    id             TEXT PRIMARY KEY,
    project_id     INTEGER NOT NULL,
    file_id        INTEGER NOT NULL,
    parts          INTEGER,
    created_time   INTEGER NOT NULL,
    expires_time   INTEGER NOT NULL,
    completed_time INTEGER
) WITHOUT ROWID;
CREATE INDEX upload_sessions_by_file ON upload_sessions (file_id);
