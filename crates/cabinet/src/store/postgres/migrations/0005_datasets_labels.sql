-- Data sets and label definitions (store/datasets.rs, store/labels.rs). A NULL externalId is not unique,
-- as UNIQUE allows. Sequences never hand out an id or a label's position twice.
CREATE TABLE data_sets (
    id                BIGSERIAL PRIMARY KEY,
    project           TEXT NOT NULL,
    external_id       TEXT,
    name              TEXT,
    description       TEXT,
    metadata          TEXT NOT NULL,
    write_protected   BOOLEAN NOT NULL,
    created_time      BIGINT NOT NULL,
    last_updated_time BIGINT NOT NULL,
    UNIQUE (project, external_id)
);
CREATE INDEX data_sets_by_project ON data_sets (project, id);

CREATE TABLE labels (
    seq          BIGSERIAL PRIMARY KEY,
    project      TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT,
    data_set_id  BIGINT,
    created_time BIGINT NOT NULL,
    UNIQUE (project, external_id)
);
CREATE INDEX labels_by_project ON labels (project, seq);
