-- Sources as last seen by the poller; rows outlive their config entry so history is kept.
CREATE TABLE sources (
    id                 TEXT PRIMARY KEY,
    url                TEXT NOT NULL,
    title              TEXT,
    site_link          TEXT,
    etag               TEXT,
    last_modified      TEXT,
    last_fetch_at      INTEGER,
    last_status        INTEGER,
    last_error         TEXT,
    consecutive_errors INTEGER NOT NULL DEFAULT 0,
    next_poll_at       INTEGER,
    last_success_at    INTEGER,
    content_updated_at INTEGER,
    last_bytes         INTEGER,
    last_items         INTEGER
) STRICT;

-- One row per story item, however many sources carried it.
CREATE TABLE items (
    id             INTEGER PRIMARY KEY,
    uid            TEXT NOT NULL UNIQUE,
    -- Two sources that link the same page carry the same item: the schema, not the code, says so.
    canonical_link TEXT UNIQUE,
    link           TEXT,
    title          TEXT NOT NULL,
    summary        TEXT,
    content        TEXT,
    body_text      TEXT NOT NULL,
    published      INTEGER NOT NULL,
    updated        INTEGER NOT NULL,
    categories     TEXT NOT NULL DEFAULT '[]',
    author         TEXT,
    event_type     TEXT,
    -- The source whose version is shown: only its edits change the item.
    first_source   TEXT NOT NULL,
    created_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX items_updated ON items (updated DESC, id DESC);

-- Which source carried which item, under the source's own identity key. The content hash is per
-- source: two sources carrying one item in different words must not look like edits.
CREATE TABLE item_sources (
    source_id    TEXT NOT NULL,
    key          TEXT NOT NULL,
    item_id      INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    content_hash TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (source_id, key)
) STRICT;
CREATE INDEX item_sources_item ON item_sources (item_id);

-- Region tags with their evidence.
CREATE TABLE item_regions (
    item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    code    TEXT NOT NULL,
    matched TEXT NOT NULL,
    rule    TEXT NOT NULL,
    PRIMARY KEY (item_id, code)
) STRICT;
CREATE INDEX item_regions_code ON item_regions (code, item_id);
