-- Data sets and label definitions (store/datasets.rs, store/labels.rs). AUTOINCREMENT: an id or a
-- label's position is never handed out twice. A NULL externalId is not unique, as UNIQUE allows.
CREATE TABLE data_sets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    external_id TEXT,
    name TEXT,
    description TEXT,
    metadata TEXT NOT NULL,
    write_protected INTEGER NOT NULL,
    created_time INTEGER NOT NULL,
    last_updated_time INTEGER NOT NULL,
    UNIQUE (project, external_id)
);
CREATE INDEX data_sets_by_project ON data_sets (project, id);

CREATE TABLE labels (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    external_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    data_set_id INTEGER,
    created_time INTEGER NOT NULL,
    UNIQUE (project, external_id)
);
CREATE INDEX labels_by_project ON labels (project, seq);
