-- How many files each project has, kept by triggers, so that counting all files reads one row.
ALTER TABLE projects ADD COLUMN file_count INTEGER NOT NULL DEFAULT 0;
UPDATE projects SET file_count = (SELECT count(*) FROM files WHERE files.project_id = projects.id);

CREATE TRIGGER projects_count_insert AFTER INSERT ON files BEGIN
    UPDATE projects SET file_count = file_count + 1 WHERE id = new.project_id;
END;

CREATE TRIGGER projects_count_delete AFTER DELETE ON files BEGIN
    UPDATE projects SET file_count = file_count - 1 WHERE id = old.project_id;
END;
