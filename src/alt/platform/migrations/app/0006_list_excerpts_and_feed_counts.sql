-- The reader API's lists and unread counts without per-request work that grows with articles.

-- The list excerpt, made from the feed content when the pre-processor stores an entry
-- (`alt.feeds.excerpt`), so that listing articles does not parse HTML on every request.
-- NULL for rows stored before this column existed (and for rows written by other means): the
-- list makes those from content_html with the same rule.
ALTER TABLE articles ADD COLUMN excerpt text;

-- How many articles each feed has, kept by the triggers below in the transaction that inserts
-- or deletes them, so it agrees with `articles` in every snapshot. Unread counts subtract the
-- reader's read marks from it instead of counting every article of every subscribed feed on
-- each request. A feed without a row has none. Articles never move between feeds (read_states
-- depends on that too), so an UPDATE changes no count.
CREATE TABLE feed_article_counts (
    feed_id  bigint PRIMARY KEY REFERENCES feeds (id) ON DELETE CASCADE,
    articles bigint NOT NULL
);

-- One statement, one change per feed (feeds in id order, so writers lock rows in one order).
CREATE FUNCTION feed_article_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO feed_article_counts AS c (feed_id, articles)
    SELECT feed_id, count(*) FROM inserted GROUP BY feed_id ORDER BY feed_id
    ON CONFLICT (feed_id) DO UPDATE SET articles = c.articles + EXCLUDED.articles;
    RETURN NULL;
END
$$;

-- Only UPDATE: when a deleted feed takes its articles with it, its row is going as well. The
-- rows are locked in feed order first, as the inserting side takes them (an UPDATE alone takes
-- them in whatever order its join yields, and a retention run could deadlock with a writer).
CREATE FUNCTION feed_article_counts_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM feed_article_counts
      WHERE feed_id IN (SELECT feed_id FROM deleted)
      ORDER BY feed_id FOR UPDATE;
    UPDATE feed_article_counts c SET articles = c.articles - d.n
      FROM (SELECT feed_id, count(*) AS n FROM deleted GROUP BY feed_id) d
     WHERE c.feed_id = d.feed_id;
    RETURN NULL;
END
$$;

CREATE FUNCTION feed_article_counts_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM feed_article_counts;
    RETURN NULL;
END
$$;

CREATE TRIGGER articles_count_inserted AFTER INSERT ON articles
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION feed_article_counts_add();
CREATE TRIGGER articles_count_deleted AFTER DELETE ON articles
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION feed_article_counts_remove();
CREATE TRIGGER articles_count_truncated AFTER TRUNCATE ON articles
    FOR EACH STATEMENT EXECUTE FUNCTION feed_article_counts_clear();

-- The triggers hold off writers of articles until this commits, so nothing is counted twice
-- or missed.
INSERT INTO feed_article_counts (feed_id, articles)
SELECT feed_id, count(*) FROM articles GROUP BY feed_id;

-- The triggers run as the role that writes articles.
GRANT SELECT, INSERT, UPDATE ON feed_article_counts TO alt_pre_processor, alt_sidecar;
GRANT SELECT ON feed_article_counts TO alt_backend;
