-- What the nodes of one deployment share besides files, so that a URL signed or a cursor written by one
-- node is good on every other.

-- The root secret, when none is configured (--secret-file, CABINET_SECRET): created once by whichever
-- node starts first (INSERT … ON CONFLICT DO NOTHING settles a race), read by every node.
CREATE TABLE cluster_secrets (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

-- The URL signing key ring (signing/ring.rs, as JSON): one row, replaced whole by each rotation, with a
-- version that every rotation increments, which nodes poll to notice a rotation.
CREATE TABLE url_key_ring (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    ring    BYTEA NOT NULL,
    version BIGINT NOT NULL
);
