-- One row per (file, asset) link, the twin of SQLite's file_assets (store/sqlite/migrations/0002), so that a
-- page filtered by an asset set reads the set's links by primary key, in (asset, seq) order, instead of
-- walking the files in listing order and testing `asset_ids && $set` on each (3 × 1,000 comparisons per
-- row for a subtree of 1,000 assets). Kept in step with files.asset_ids by the triggers below; the table
-- holds no row the files do not imply, and `asset_ids` stays the truth that the rows are read from.
-- Other nodes may still be writing files while this runs: the lock (the one CREATE TRIGGER takes anyway,
-- taken first) makes them wait until the backfill and the triggers commit together, so that no file is
-- written between the backfill's snapshot and the triggers. Reads go on.
LOCK TABLE files IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE file_assets (
    project_id bigint NOT NULL,
    asset_id   bigint NOT NULL,
    seq        bigint NOT NULL,
    PRIMARY KEY (project_id, asset_id, seq)
);

INSERT INTO file_assets (project_id, asset_id, seq)
SELECT DISTINCT f.project_id, a.id, f.seq FROM files AS f CROSS JOIN LATERAL unnest(f.asset_ids) AS a (id);

-- Inserts and deletes: statement triggers over the rows the statement wrote, so that COPY (which fires
-- them, as cabinet-bench's loaders and `cabinet migrate` rely on) and INSERT … SELECT write the links in one
-- statement. A delete finds each old link by the primary key, from the deleted row's own asset_ids (no
-- index by seq is needed).
CREATE FUNCTION file_assets_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO file_assets (project_id, asset_id, seq)
    SELECT DISTINCT i.project_id, a.id, i.seq FROM inserted AS i CROSS JOIN LATERAL unnest(i.asset_ids) AS a (id);
    RETURN NULL;
END;
$$;

CREATE FUNCTION file_assets_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM file_assets AS fa
    USING (SELECT d.project_id, a.id, d.seq FROM deleted AS d CROSS JOIN LATERAL unnest(d.asset_ids) AS a (id)) AS o
    WHERE fa.project_id = o.project_id AND fa.asset_id = o.id AND fa.seq = o.seq;
    RETURN NULL;
END;
$$;

-- Updates: a row trigger, because a statement trigger with transition tables cannot be limited to a column
-- and would then run for every update of a file (an upload's completion, a rename); this one runs only
-- when the links change. The key columns are listed too, though no statement changes them today.
CREATE FUNCTION file_assets_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM file_assets
    WHERE project_id = OLD.project_id AND asset_id = ANY (OLD.asset_ids) AND seq = OLD.seq;
    INSERT INTO file_assets (project_id, asset_id, seq)
    SELECT DISTINCT NEW.project_id, a.id, NEW.seq FROM unnest(NEW.asset_ids) AS a (id);
    RETURN NULL;
END;
$$;

CREATE TRIGGER file_assets_insert AFTER INSERT ON files
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION file_assets_inserted();
CREATE TRIGGER file_assets_delete AFTER DELETE ON files
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION file_assets_deleted();
CREATE TRIGGER file_assets_update AFTER UPDATE OF asset_ids, project_id, seq ON files
    FOR EACH ROW
    WHEN (OLD.asset_ids IS DISTINCT FROM NEW.asset_ids OR OLD.project_id <> NEW.project_id OR OLD.seq <> NEW.seq)
    EXECUTE FUNCTION file_assets_updated();
