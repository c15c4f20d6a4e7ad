-- Assets (store/assets.rs). `path` holds the ids of an asset's ancestors, root first, as "/1/5/" ("/" for a
-- root), so the subtree of asset X is X plus the rows whose path starts with X's path || X.id || '/': a range
-- of the (project, path) index (COLLATE "C", so that the range is bytewise as on SQLite). metadata and labels
-- are JSON text, read as jsonb by the filters.
CREATE SEQUENCE assets_id_seq MAXVALUE 9007199254740991;
CREATE TABLE assets (
    id                BIGINT PRIMARY KEY,
    project           TEXT NOT NULL,
    external_id       TEXT,
    name              TEXT NOT NULL,
    parent_id         BIGINT,
    root_id           BIGINT NOT NULL,
    depth             INTEGER NOT NULL,
    path              TEXT COLLATE "C" NOT NULL,
    description       TEXT,
    data_set_id       BIGINT,
    source            TEXT,
    metadata          TEXT NOT NULL,
    labels            TEXT NOT NULL,
    created_time      BIGINT NOT NULL,
    last_updated_time BIGINT NOT NULL
);
CREATE UNIQUE INDEX assets_by_external_id ON assets (project, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX assets_by_parent ON assets (project, parent_id, id);
CREATE INDEX assets_by_root ON assets (project, root_id, id);
CREATE INDEX assets_by_path ON assets (project, path);
CREATE INDEX assets_by_project ON assets (project, id);
