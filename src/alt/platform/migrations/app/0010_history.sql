-- History for the stats page (`alt.backend.history`): what happened per feed and UTC day, kept by
-- triggers in the transactions that make it happen, so that a year of a reader's history is a
-- few thousand small rows to add up rather than a scan of every article of every feed.
--
-- The rows outlive the articles (retention deletes articles, not what was fetched on a day) and
-- go with their feed. Reads per day need no table: read_states keeps when each mark was made.

CREATE TABLE feed_days (
    feed_id  bigint  NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    day      date    NOT NULL,
    -- Articles first stored that day (by articles.fetched_at).
    articles integer NOT NULL DEFAULT 0,
    -- Fetches that counted as a failure (feeds.error_count went up); nothing recorded them
    -- before this table, so there is no history of errors from before it.
    errors   integer NOT NULL DEFAULT 0,

    PRIMARY KEY (feed_id, day),
    CONSTRAINT feed_days_counts_check CHECK (articles >= 0 AND errors >= 0)
);

-- Summaries that became ready that day, by engine and mark: grounded (written by a model and
-- checked against the article), extractive (sentences of the article), none (written, not
-- checked).
CREATE TABLE feed_summary_days (
    feed_id   bigint  NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    day       date    NOT NULL,
    engine    text    NOT NULL,
    mark      text    NOT NULL,
    summaries integer NOT NULL DEFAULT 0,

    PRIMARY KEY (feed_id, day, engine, mark),
    CONSTRAINT feed_summary_days_mark_check CHECK (mark IN ('grounded', 'extractive', 'none')),
    CONSTRAINT feed_summary_days_engine_check CHECK (char_length(engine) <= 32),
    CONSTRAINT feed_summary_days_summaries_check CHECK (summaries >= 0)
);

-- One statement, one row per feed and day (feeds in id order, as feed_article_counts_add locks
-- them, so two writers never wait on each other in opposite orders).
CREATE FUNCTION feed_days_add_articles() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO feed_days AS d (feed_id, day, articles)
    SELECT feed_id, (fetched_at AT TIME ZONE 'UTC')::date, count(*)
      FROM inserted GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (feed_id, day) DO UPDATE SET articles = d.articles + EXCLUDED.articles;
    RETURN NULL;
END
$$;

CREATE TRIGGER articles_history_inserted AFTER INSERT ON articles
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION feed_days_add_articles();

CREATE FUNCTION feed_days_add_errors() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO feed_days AS d (feed_id, day, errors)
    VALUES (NEW.id, (now() AT TIME ZONE 'UTC')::date, NEW.error_count - OLD.error_count)
    ON CONFLICT (feed_id, day) DO UPDATE SET errors = d.errors + EXCLUDED.errors;
    RETURN NULL;
END
$$;

-- Only failed fetches raise error_count (a success sets it to 0), so the trigger runs for them
-- alone.
CREATE TRIGGER feeds_history_errors AFTER UPDATE OF error_count ON feeds
    FOR EACH ROW WHEN (NEW.error_count > OLD.error_count)
    EXECUTE FUNCTION feed_days_add_errors();

CREATE FUNCTION feed_summary_days_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO feed_summary_days AS d (feed_id, day, engine, mark, summaries)
    SELECT a.feed_id, (now() AT TIME ZONE 'UTC')::date, NEW.engine,
           CASE WHEN NEW.extractive THEN 'extractive'
                WHEN NEW.grounded THEN 'grounded'
                ELSE 'none' END,
           1
      FROM articles a WHERE a.id = NEW.article_id
    ON CONFLICT (feed_id, day, engine, mark) DO UPDATE SET summaries = d.summaries + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER summaries_history_inserted AFTER INSERT ON summaries
    FOR EACH ROW WHEN (NEW.status = 'ready')
    EXECUTE FUNCTION feed_summary_days_add();
CREATE TRIGGER summaries_history_ready AFTER UPDATE OF status ON summaries
    FOR EACH ROW WHEN (OLD.status <> 'ready' AND NEW.status = 'ready')
    EXECUTE FUNCTION feed_summary_days_add();

-- What is already there: articles by the day they were fetched, ready summaries by the day
-- they last changed (the closest record of when they became ready).
INSERT INTO feed_days (feed_id, day, articles)
SELECT feed_id, (fetched_at AT TIME ZONE 'UTC')::date, count(*) FROM articles GROUP BY 1, 2;

INSERT INTO feed_summary_days (feed_id, day, engine, mark, summaries)
SELECT a.feed_id, (su.updated_at AT TIME ZONE 'UTC')::date, su.engine,
       CASE WHEN su.extractive THEN 'extractive' WHEN su.grounded THEN 'grounded' ELSE 'none' END,
       count(*)
  FROM summaries su JOIN articles a ON a.id = su.article_id
 WHERE su.status = 'ready'
 GROUP BY 1, 2, 3, 4;

-- A reader's marks by the time they were made: reads per day, newest days only.
CREATE INDEX read_states_user_read_at_idx ON read_states (user_id, read_at);

-- The triggers run as the role that writes articles, feeds and summaries.
GRANT SELECT, INSERT, UPDATE ON feed_days TO alt_pre_processor, alt_sidecar;
GRANT SELECT, INSERT, UPDATE ON feed_summary_days TO alt_pre_processor;
GRANT SELECT ON feed_days, feed_summary_days TO alt_backend;
