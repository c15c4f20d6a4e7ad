-- The files schema on PostgreSQL, mirroring SQLite's (store/sqlite/migrations) column for column, with
-- PostgreSQL's own types where they serve the queries: id lists as bigint[] and metadata as jsonb, each
-- under a GIN index, so that containment filters are index scans; names under a pg_trgm index for the
-- search tiers. Times are milliseconds since the epoch, as everywhere in cabinet.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Values that every node must agree on, created once here (under the migration lock).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
-- The key of the file id permutation (store/ids.rs): random per database, from gen_random_uuid's strong
-- random source, so that two deployments hand out unrelated ids.
INSERT INTO settings (key, value)
    VALUES ('file_id_seed', ('x' || substr(md5(gen_random_uuid()::text), 1, 16))::bit(64)::bigint);

-- Projects come into existence on first write; their small id keeps the file indexes compact.
CREATE TABLE projects (
    id   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

-- The file counter: a sequence never hands out a value twice (not even when the transaction that took it
-- rolls back), on any node, so ids derived from it (store/ids.rs) never collide and are never reused.
-- Listing order is seq order.
CREATE SEQUENCE files_seq AS BIGINT MINVALUE 0 START WITH 0 MAXVALUE 9007199254740990 NO CYCLE;

CREATE TABLE files (
    seq                  BIGINT PRIMARY KEY,
    id                   BIGINT NOT NULL UNIQUE,
    project_id           BIGINT NOT NULL REFERENCES projects (id),
    external_id          TEXT,
    name                 TEXT NOT NULL,
    directory            TEXT,
    source               TEXT,
    mime_type            TEXT,
    metadata             JSONB,
    asset_ids            BIGINT[],
    data_set_id          BIGINT,
    source_created_time  BIGINT,
    source_modified_time BIGINT,
    security_categories  BIGINT[],
    labels               TEXT[],
    -- `json`: the GeoJSON text as the client sent it, as SQLite keeps it; geo_box is its bounding box,
    -- the spatial pre-filter (SQLite's R*Tree), set by the store.
    geo_location         JSON,
    geo_box              BOX,
    created_time         BIGINT NOT NULL,
    last_updated_time    BIGINT NOT NULL,
    uploaded_time        BIGINT,
    content_key          TEXT,
    content_size         BIGINT,
    -- `uploaded` as a column of its own, so that filtering on it is an equality that keeps listing order.
    uploaded             BOOLEAN GENERATED ALWAYS AS (uploaded_time IS NOT NULL) STORED
);

-- A unique constraint, not only an index: two nodes racing to create one externalId meet here, and
-- exactly one insert commits.
CREATE UNIQUE INDEX files_by_external_id ON files (project_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX files_by_project ON files (project_id, seq);

-- One b-tree per equality or range filter, each ending in seq: an equality walks its index in listing
-- order and a keyset cursor (seq > $n) continues inside it.
CREATE INDEX files_by_name ON files (project_id, name, seq);
CREATE INDEX files_by_directory ON files (project_id, directory, seq);
CREATE INDEX files_by_mime_type ON files (project_id, mime_type, seq);
CREATE INDEX files_by_source ON files (project_id, source, seq);
CREATE INDEX files_by_data_set ON files (project_id, data_set_id, seq);
CREATE INDEX files_by_created_time ON files (project_id, created_time, seq);
CREATE INDEX files_by_last_updated_time ON files (project_id, last_updated_time, seq);
CREATE INDEX files_by_uploaded_time ON files (project_id, uploaded_time, seq);
CREATE INDEX files_by_uploaded ON files (project_id, uploaded, seq);
CREATE INDEX files_by_source_created_time ON files (project_id, source_created_time, seq);
CREATE INDEX files_by_source_modified_time ON files (project_id, source_modified_time, seq);

-- Containment filters (metadata key/value pairs, assetIds, labels, security categories): GIN.
CREATE INDEX files_by_metadata ON files USING GIN (metadata jsonb_path_ops);
CREATE INDEX files_by_asset_ids ON files USING GIN (asset_ids);
CREATE INDEX files_by_labels ON files USING GIN (labels);
CREATE INDEX files_by_security_categories ON files USING GIN (security_categories);

-- The spatial pre-filter of geoLocation filters.
CREATE INDEX files_by_geo_box ON files USING GIST (geo_box);

-- Name search: the exact tier on the case-folded name, the others through trigrams.
CREATE INDEX files_by_lower_name ON files (project_id, lower(name), id);
CREATE INDEX files_by_name_trigrams ON files USING GIN (name gin_trgm_ops);

-- Open and completed upload sessions. parts is NULL for a single-PUT session.
CREATE TABLE upload_sessions (
    id             TEXT PRIMARY KEY,
    project_id     BIGINT NOT NULL,
    file_id        BIGINT NOT NULL,
    parts          INTEGER,
    created_time   BIGINT NOT NULL,
    expires_time   BIGINT NOT NULL,
    completed_time BIGINT
);
CREATE INDEX upload_sessions_by_file ON upload_sessions (file_id);
CREATE INDEX upload_sessions_by_expiry ON upload_sessions (expires_time);
