-- Groups and security categories created through the IAM endpoints (store/iam.rs). Identity columns are
-- sequences: an id is never handed out twice, not even after the row is deleted or its transaction rolled
-- back. Stored group ids start above 2^48, where the ids of configured groups end; every id stays below
-- 2^53 (a JSON number that JavaScript reads exactly).
-- `json`, not `jsonb`: the text is kept as written, so groups read back exactly as on SQLite.
CREATE TABLE iam_groups (
    id           BIGINT GENERATED ALWAYS AS IDENTITY
                     (START WITH 281474976710657 MINVALUE 281474976710657 MAXVALUE 9007199254740991)
                     PRIMARY KEY,
    project      TEXT NOT NULL,
    name         TEXT NOT NULL,
    source_id    TEXT,
    members      JSON,
    capabilities JSON NOT NULL,
    metadata     JSON NOT NULL,
    app_ids      JSON,
    created_time BIGINT NOT NULL
);
CREATE INDEX iam_groups_by_project ON iam_groups (project, id);

CREATE TABLE iam_security_categories (
    id      BIGINT GENERATED ALWAYS AS IDENTITY (MAXVALUE 9007199254740991) PRIMARY KEY,
    project TEXT NOT NULL,
    name    TEXT NOT NULL,
    UNIQUE (project, name)
);
CREATE INDEX iam_security_categories_by_project ON iam_security_categories (project, id);
