-- The rule that joined a report to its story (`dedup::Rule::name`: "copied-text",
-- "own-account", …), so an operator can review what the matcher merged (`regionfeed stories`).
-- NULL for a story's leader, a lone item, or a report joined before this column existed.
ALTER TABLE items ADD COLUMN story_rule TEXT;
