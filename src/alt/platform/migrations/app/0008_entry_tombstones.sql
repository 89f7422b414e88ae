-- Retention is final: what it deletes leaves a tombstone, and an entry with a tombstone in its
-- feed is never stored again, so a purged article does not come back as unread on the next
-- fetch of a feed that still serves it.
--
-- A tombstone lives while its feed serves the entry. The first full fetch (200) that no longer
-- lists it sets unserved_since; a later one that lists it again clears it. Retention deletes
-- tombstones unserved for longer than a grace period (`alt.preprocessor.retention`). A 304, a
-- failure or a feed that is never fetched again changes nothing: the feed may still serve the
-- entry. Deleting the feed deletes its tombstones.
CREATE TABLE entry_tombstones (
    feed_id        bigint      NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    -- The article's entry_hash: what the upsert of a fetch looks up.
    entry_hash     bytea       NOT NULL,
    purged_at      timestamptz NOT NULL DEFAULT now(),
    unserved_since timestamptz,

    PRIMARY KEY (feed_id, entry_hash),
    CONSTRAINT entry_tombstones_entry_hash_check CHECK (octet_length(entry_hash) = 32)
);

-- Retention's "which tombstones have been unserved long enough?"; the served ones (NULL, most
-- of them) stay out of it.
CREATE INDEX entry_tombstones_unserved_idx ON entry_tombstones (unserved_since)
    WHERE unserved_since IS NOT NULL;

-- The pre-processor writes them (retention) and reads and updates them (fetches).
GRANT SELECT, INSERT, UPDATE, DELETE ON entry_tombstones TO alt_pre_processor;
