-- Updates and overwrites did not refresh a changed geoLocation's box in the spatial index before this
-- migration (deletes did, by trigger): the index is emptied here and refilled from every file's
-- geoLocation right after, in Rust (store/sqlite/mod.rs, `migrate`).
DELETE FROM file_geo;
