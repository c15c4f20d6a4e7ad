-- How many files each project has, kept by a trigger, so that counting all of a project's files (the
-- unfiltered aggregate) reads a few rows instead of an index of every file. SQLite keeps one counter per
-- project (its single writer serializes creates anyway); here one counter row would serialize every
-- create of a project across all nodes until its commit, so each project has 64 counters and a
-- transaction adds to the one of its backend process: one counter lock per transaction, taken after the
-- file rows it locks, so it adds no deadlock.
CREATE TABLE file_counts (
    project_id bigint NOT NULL REFERENCES projects (id),
    shard integer NOT NULL,
    n bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, shard)
);

INSERT INTO file_counts (project_id, shard, n)
SELECT project_id, 0, count(*) FROM files GROUP BY project_id;

-- Statement triggers over the rows a statement inserted or deleted: one counter update per statement and
-- project, also for a statement that writes many rows (COPY, INSERT … SELECT).
CREATE FUNCTION files_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO file_counts (project_id, shard, n)
    SELECT project_id, pg_backend_pid() % 64, count(*) FROM inserted GROUP BY project_id
    ON CONFLICT (project_id, shard) DO UPDATE SET n = file_counts.n + EXCLUDED.n;
    RETURN NULL;
END;
$$;

CREATE FUNCTION files_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO file_counts (project_id, shard, n)
    SELECT project_id, pg_backend_pid() % 64, -count(*) FROM deleted GROUP BY project_id
    ON CONFLICT (project_id, shard) DO UPDATE SET n = file_counts.n + EXCLUDED.n;
    RETURN NULL;
END;
$$;

CREATE TRIGGER files_count_insert AFTER INSERT ON files
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION files_count_inserted();
CREATE TRIGGER files_count_delete AFTER DELETE ON files
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION files_count_deleted();
