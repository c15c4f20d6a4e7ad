-- Groups and security categories created through the IAM endpoints. AUTOINCREMENT: an id is never
-- handed out twice, not even after the row is deleted. Stored group ids start above 2^48, where the
-- ids of configured groups end.
CREATE TABLE iam_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    name TEXT NOT NULL,
    source_id TEXT,
    members TEXT,
    capabilities TEXT NOT NULL,
    metadata TEXT NOT NULL,
    app_ids TEXT,
    created_time INTEGER NOT NULL
);
CREATE INDEX iam_groups_by_project ON iam_groups (project, id);
INSERT INTO sqlite_sequence (name, seq) VALUES ('iam_groups', 281474976710656);

CREATE TABLE iam_security_categories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    name TEXT NOT NULL,
    UNIQUE (project, name)
);
CREATE INDEX iam_security_categories_by_project ON iam_security_categories (project, id);
