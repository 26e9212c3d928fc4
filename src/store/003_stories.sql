-- Stories: near-duplicate reports from different sources form one story, led by its earliest
-- report. A member points at its leader; a leader (or a lone item) has story_id NULL.
ALTER TABLE items ADD COLUMN story_id INTEGER REFERENCES items (id) ON DELETE SET NULL;
-- The item's near-duplicate signature (dedup::Signature bytes); NULL when its text is too short.
ALTER TABLE items ADD COLUMN signature BLOB;
CREATE INDEX items_story ON items (story_id) WHERE story_id IS NOT NULL;
CREATE INDEX items_published ON items (published);

-- What `regionfeed forget` removed, so that the next poll does not bring it back.
CREATE TABLE tombstones (
    source_id TEXT NOT NULL,
    key       TEXT NOT NULL,
    forgotten INTEGER NOT NULL,
    PRIMARY KEY (source_id, key)
) STRICT;
CREATE TABLE tombstone_links (
    canonical_link TEXT PRIMARY KEY,
    forgotten      INTEGER NOT NULL
) STRICT;
