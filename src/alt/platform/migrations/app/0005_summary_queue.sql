-- The summary work queue of the pre-processor (alt.summaries.loop) and the per-user daily
-- summary quota (TESTS.md LLM-07).
--
-- A summaries row is the job: 'pending' rows wait until next_attempt_at; a worker claims one
-- with a lease (claimed_until) so that a dead worker's claim runs out and another takes it,
-- and only one call per article is in flight. requested_for is the subscriber whose turn and
-- quota paid for the summary (NULL when it cost no model call: copied from an identical text).

ALTER TABLE summaries ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE summaries ADD COLUMN claimed_until timestamptz;
ALTER TABLE summaries ADD COLUMN requested_for uuid;

CREATE INDEX summaries_due_idx ON summaries (next_attempt_at) WHERE status = 'pending';
-- Reuse of a ready summary for the same text in another feed.
CREATE INDEX summaries_content_hash_idx ON summaries (content_hash, prompt_version)
    WHERE status = 'ready';

CREATE TABLE summary_quota (
    user_id    uuid    NOT NULL,
    day        date    NOT NULL,
    used       integer NOT NULL DEFAULT 0,

    PRIMARY KEY (user_id, day),
    CONSTRAINT summary_quota_used_check CHECK (used >= 0)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON summary_quota TO alt_pre_processor;
GRANT SELECT ON summary_quota TO alt_backend;
