-- Why a source's next poll is when it is (interval, retry-after, backoff, host budget, gone …).
ALTER TABLE sources ADD COLUMN next_reason TEXT;
-- Where a chain of permanent redirects (301/308) led; polled instead of the configured URL.
ALTER TABLE sources ADD COLUMN redirect_url TEXT;
-- The URL that answered 410 Gone; the source is not polled while its configured URL is this one.
ALTER TABLE sources ADD COLUMN gone_url TEXT;
