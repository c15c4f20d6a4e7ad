-- A deleted file's bounding box leaves the spatial index with it (its position could be handed out again).
-- The boxes of files whose geoLocation an update or overwrite changed before this migration are recomputed
-- right after it, in Rust (store/sqlite/mod.rs, `migrate`).
CREATE TRIGGER files_geo_delete AFTER DELETE ON files WHEN old.geo_location IS NOT NULL BEGIN
    DELETE FROM file_geo WHERE seq = old.seq;
END;
DELETE FROM file_geo;
