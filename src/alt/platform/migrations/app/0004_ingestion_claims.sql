-- Work claims for the pre-processor's fetcher and extractor. A claim is a lease: a worker that
-- dies lets it run out and another worker takes the feed or article again; its writes are
-- idempotent upserts, so a second run changes nothing twice. Manual "refresh now" only moves
-- next_check_at, never a claim, so one feed is never fetched twice at once.

ALTER TABLE feeds ADD COLUMN claimed_until timestamptz;
ALTER TABLE feeds ADD COLUMN last_status integer;

ALTER TABLE article_contents ADD COLUMN claimed_until timestamptz;
ALTER TABLE article_contents ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now();

CREATE INDEX article_contents_due_idx ON article_contents (next_attempt_at)
    WHERE status = 'pending';

-- The pre-processor creates the feed row when it validates a new subscription (it alone
-- fetches from the internet for feeds).
GRANT INSERT ON feeds TO alt_pre_processor;
