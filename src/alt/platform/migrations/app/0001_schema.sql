-- Application database (`alt`): feeds, subscriptions, articles and everything derived from them.
--
-- Conventions
-- * Users live in the auth database, so every user_id here is a bare uuid with no foreign key.
--   Every per-user table leads its primary key or an index with user_id, so that both the reader's
--   queries and "delete all of this user's data" stay cheap.
-- * Enumerations are text + CHECK (adding a value is a one-line migration, no ALTER TYPE dance).
-- * URL limits use octet_length: 2,048 bytes keeps every indexed URL well under btree's
--   ~2,700-byte entry limit. Title limits count characters (what a person sees).
-- * Only core PostgreSQL (the embedded server has no contrib); valid on PostgreSQL 15 and 18.

-- Keeps updated_at honest without every UPDATE having to remember it; a no-op UPDATE (as an
-- idempotent upsert often is) leaves it alone, so "changed since" readers are not flooded.
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW IS DISTINCT FROM OLD THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- Sources. One row per feed URL, shared by every user subscribed to it (fetched once, not once
-- per subscriber). The fetch state lives here because the scheduler works per feed.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE feeds (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url                    text        NOT NULL,
    site_url               text,
    title                  text        NOT NULL DEFAULT '',
    description            text,
    language               text,

    -- Conditional GET: echoed back verbatim, hence text rather than a parsed timestamp.
    etag                   text,
    last_modified          text,
    -- Publisher hint (RSS <ttl>, Cache-Control max-age), in seconds; the scheduler folds it
    -- into next_check_at.
    ttl_seconds            integer,
    -- DEFAULT now(): a new subscription is fetched at once.
    next_check_at          timestamptz NOT NULL DEFAULT now(),
    last_checked_at        timestamptz,
    last_success_at        timestamptz,
    error_count            integer     NOT NULL DEFAULT 0,
    last_error             text,
    -- gone = the origin said 410; polling stops only after confirmation or N days (REL-08),
    -- which is why the time of the change is kept.
    status                 text        NOT NULL DEFAULT 'active',
    status_changed_at      timestamptz NOT NULL DEFAULT now(),

    -- Per-feed retention; NULL means "use the configured default".
    retention_max_age      interval,
    retention_max_articles integer,

    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT feeds_url_key UNIQUE (url),
    CONSTRAINT feeds_url_check CHECK (octet_length(url) <= 2048 AND url ~* '^https?://'),
    CONSTRAINT feeds_site_url_check
        CHECK (site_url IS NULL OR (octet_length(site_url) <= 2048 AND site_url ~* '^https?://')),
    CONSTRAINT feeds_title_check CHECK (char_length(title) <= 1000),
    CONSTRAINT feeds_description_check CHECK (char_length(description) <= 10000),
    CONSTRAINT feeds_language_check CHECK (char_length(language) <= 35),
    CONSTRAINT feeds_etag_check CHECK (octet_length(etag) <= 1024),
    CONSTRAINT feeds_last_modified_check CHECK (octet_length(last_modified) <= 256),
    CONSTRAINT feeds_ttl_check CHECK (ttl_seconds > 0),
    CONSTRAINT feeds_error_count_check CHECK (error_count >= 0),
    CONSTRAINT feeds_last_error_check CHECK (char_length(last_error) <= 2000),
    CONSTRAINT feeds_status_check CHECK (status IN ('active', 'gone', 'disabled')),
    CONSTRAINT feeds_retention_max_age_check CHECK (retention_max_age > interval '0'),
    CONSTRAINT feeds_retention_max_articles_check CHECK (retention_max_articles > 0)
);

-- The scheduler's only question: which active feeds are due?
CREATE INDEX feeds_due_idx ON feeds (next_check_at) WHERE status = 'active';

CREATE TRIGGER feeds_set_updated_at BEFORE UPDATE ON feeds
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- ---------------------------------------------------------------------------------------------
-- Categories (folders): per user, one level (OPML nesting is flattened on import).
-- ---------------------------------------------------------------------------------------------
CREATE TABLE categories (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    uuid        NOT NULL,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),

    -- Target of subscriptions' (category_id, user_id) foreign key: a subscription can only ever
    -- sit in a category of its own user.
    CONSTRAINT categories_id_user_key UNIQUE (id, user_id),
    CONSTRAINT categories_name_check CHECK (char_length(name) BETWEEN 1 AND 200 AND name = btrim(name))
);

-- "News" and "news" are the same folder to a person (and to OPML round trips).
CREATE UNIQUE INDEX categories_user_name_key ON categories (user_id, lower(name));

-- ---------------------------------------------------------------------------------------------
-- Subscriptions tie a user to a feed, with the user's own title and folder.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE subscriptions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     uuid        NOT NULL,
    feed_id     bigint      NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    category_id bigint,
    title       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT subscriptions_user_feed_key UNIQUE (user_id, feed_id),
    -- Deleting a folder leaves its feeds unfiled (only category_id is cleared: PostgreSQL 15+).
    CONSTRAINT subscriptions_category_fkey FOREIGN KEY (category_id, user_id)
        REFERENCES categories (id, user_id) ON DELETE SET NULL (category_id),
    CONSTRAINT subscriptions_title_check CHECK (char_length(title) BETWEEN 1 AND 1000)
);

-- Who reads this feed (scheduler skips feeds nobody reads; feed deletion cascades).
CREATE INDEX subscriptions_feed_idx ON subscriptions (feed_id);
-- Per-category lists and counts; also serves the foreign key when a folder is deleted.
CREATE INDEX subscriptions_user_category_idx ON subscriptions (user_id, category_id);

CREATE TRIGGER subscriptions_set_updated_at BEFORE UPDATE ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- ---------------------------------------------------------------------------------------------
-- Articles: the entries of a feed, shared by all its subscribers.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE articles (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    feed_id      bigint      NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    -- sha256 of the guid, else the link, else title+content: the idempotency key of ingestion.
    entry_hash   bytea       NOT NULL,
    guid         text,
    url          text,
    title        text        NOT NULL DEFAULT '',
    author       text,
    -- Sanitised before it is stored; never raw feed HTML.
    content_html text,
    -- Always set: a missing or bad date becomes the fetch time, never an invented one.
    published_at timestamptz NOT NULL,
    -- First seen; never moves, so it is the fallback date above.
    fetched_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    -- sha256 of the text that gets summarised: identical text in two feeds costs one LLM call.
    -- NULL until that text is known (after extraction).
    content_hash bytea,
    enclosures   jsonb       NOT NULL DEFAULT '[]',
    categories   text[]      NOT NULL DEFAULT '{}',
    language     text,

    CONSTRAINT articles_feed_entry_key UNIQUE (feed_id, entry_hash),
    -- Lets read_states carry feed_id (for per-feed unread counts) under a real foreign key.
    CONSTRAINT articles_id_feed_key UNIQUE (id, feed_id),
    CONSTRAINT articles_entry_hash_check CHECK (octet_length(entry_hash) = 32),
    CONSTRAINT articles_content_hash_check CHECK (octet_length(content_hash) = 32),
    CONSTRAINT articles_guid_check CHECK (octet_length(guid) <= 2048),
    -- Only http(s) links survive sanitising; anything else is a bug, not data.
    CONSTRAINT articles_url_check CHECK (octet_length(url) <= 2048 AND url ~* '^https?://'),
    CONSTRAINT articles_title_check CHECK (char_length(title) <= 1000),
    CONSTRAINT articles_author_check CHECK (char_length(author) <= 1000),
    CONSTRAINT articles_content_html_check CHECK (octet_length(content_html) <= 524288),
    -- Far-future dates (year 9999) must be clamped before they get here, or they would sit on
    -- top of every list forever. updated_at is the time of this write (see set_updated_at).
    CONSTRAINT articles_published_at_check CHECK (published_at <= updated_at + interval '24 hours'),
    CONSTRAINT articles_enclosures_check
        CHECK (jsonb_typeof(enclosures) = 'array' AND jsonb_array_length(enclosures) <= 100),
    CONSTRAINT articles_categories_check CHECK (cardinality(categories) <= 100),
    CONSTRAINT articles_language_check CHECK (char_length(language) <= 35)
);

-- Lists are newest first, keyset on the unique pair (published_at, id):
--   WHERE (published_at, id) < ($2, $3) ORDER BY published_at DESC, id DESC LIMIT n
-- Within a feed; also per-feed counts and age-based retention.
CREATE INDEX articles_feed_published_idx ON articles (feed_id, published_at DESC, id DESC);
-- Across a user's subscriptions: walk newest-first and keep rows whose feed the user reads.
-- feed_id rides along so that an index-only pass can pick a page of ids without heap visits.
CREATE INDEX articles_published_idx ON articles (published_at DESC, id DESC) INCLUDE (feed_id);
-- Cross-feed duplicates (summary reuse, later story grouping).
CREATE INDEX articles_content_hash_idx ON articles (content_hash) WHERE content_hash IS NOT NULL;
-- "What changed since my cursor?" for the search indexer (a keyset on (updated_at, id)).
CREATE INDEX articles_updated_idx ON articles (updated_at, id);

CREATE TRIGGER articles_set_updated_at BEFORE UPDATE ON articles
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- ---------------------------------------------------------------------------------------------
-- Full text extracted from the article's page (1:1 with articles). Kept apart from articles so
-- that list queries never drag half a megabyte of text through the buffer cache.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE article_contents (
    article_id   bigint      PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    -- skipped = filtered out (too short, error page, non-HTML); the feed's own content is used.
    status       text        NOT NULL DEFAULT 'pending',
    text         text,
    html         text,
    -- title, author, date, og:image, detected language, final URL ...
    metadata     jsonb       NOT NULL DEFAULT '{}',
    error        text,
    attempts     integer     NOT NULL DEFAULT 0,
    extracted_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT article_contents_status_check
        CHECK (status IN ('pending', 'extracted', 'skipped', 'failed')),
    CONSTRAINT article_contents_extracted_check
        CHECK (status <> 'extracted' OR (text IS NOT NULL AND extracted_at IS NOT NULL)),
    CONSTRAINT article_contents_text_check CHECK (octet_length(text) <= 524288),
    CONSTRAINT article_contents_html_check CHECK (octet_length(html) <= 524288),
    CONSTRAINT article_contents_metadata_check CHECK (jsonb_typeof(metadata) = 'object'),
    CONSTRAINT article_contents_error_check CHECK (char_length(error) <= 2000),
    CONSTRAINT article_contents_attempts_check CHECK (attempts >= 0)
);

CREATE TRIGGER article_contents_set_updated_at BEFORE UPDATE ON article_contents
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- ---------------------------------------------------------------------------------------------
-- Summaries, one per article and prompt version: a retried or duplicated job upserts the same
-- row instead of adding one (REL-05). prompt_version names the whole recipe (prompt, model,
-- parameters): changing any of them is a new version.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE summaries (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    article_id        bigint      NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    prompt_version    text        NOT NULL,
    -- pending/failed rows let the UI say "on its way" or "could not be summarised" without
    -- asking the job queue; a failed judge never removes a ready summary.
    status            text        NOT NULL DEFAULT 'pending',
    summary           text,
    language          text,
    engine            text,
    model             text,
    -- LLM judge: coherence + relevance + fluency, 0-30. NULL = not judged (or judge failed).
    score             smallint,
    -- NULL = grounding not checked yet.
    grounded          boolean,
    extractive        boolean     NOT NULL DEFAULT false,
    -- The article text this summary was made from: a changed article makes it stale.
    content_hash      bytea,
    prompt_tokens     integer,
    completion_tokens integer,
    duration_ms       integer,
    attempts          integer     NOT NULL DEFAULT 0,
    error             text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT summaries_article_prompt_key UNIQUE (article_id, prompt_version),
    CONSTRAINT summaries_prompt_version_check CHECK (char_length(prompt_version) BETWEEN 1 AND 64),
    CONSTRAINT summaries_status_check CHECK (status IN ('pending', 'ready', 'failed')),
    CONSTRAINT summaries_ready_check
        CHECK ((status = 'ready') = (summary IS NOT NULL) AND (status <> 'ready' OR engine IS NOT NULL)),
    -- The output cap of the LLM contract (TESTS.md LLM-04), enforced where it is stored.
    CONSTRAINT summaries_summary_check CHECK (char_length(summary) BETWEEN 1 AND 1500),
    CONSTRAINT summaries_language_check CHECK (char_length(language) <= 35),
    CONSTRAINT summaries_engine_check CHECK (engine IN ('ollama', 'openai', 'local', 'extractive')),
    CONSTRAINT summaries_model_check CHECK (char_length(model) <= 200),
    CONSTRAINT summaries_score_check CHECK (score BETWEEN 0 AND 30),
    CONSTRAINT summaries_content_hash_check CHECK (octet_length(content_hash) = 32),
    CONSTRAINT summaries_counts_check CHECK (
        prompt_tokens >= 0 AND completion_tokens >= 0 AND duration_ms >= 0 AND attempts >= 0),
    CONSTRAINT summaries_error_check CHECK (char_length(error) <= 2000)
);

-- Stats ("summarised articles") and the work list of the quality gate.
CREATE INDEX summaries_status_idx ON summaries (status, article_id);

CREATE TRIGGER summaries_set_updated_at BEFORE UPDATE ON summaries
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- ---------------------------------------------------------------------------------------------
-- news-creator's cache: the same text (syndicated to several feeds) is summarised once per
-- recipe and target language. Holds no article ids, so news-creator needs no other table.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE summary_cache (
    content_hash      bytea       NOT NULL,
    prompt_version    text        NOT NULL,
    -- The requested target language, or 'auto' for "the article's own".
    language          text        NOT NULL,
    summary           text        NOT NULL,
    engine            text        NOT NULL,
    model             text,
    score             smallint,
    grounded          boolean,
    extractive        boolean     NOT NULL DEFAULT false,
    prompt_tokens     integer,
    completion_tokens integer,
    duration_ms       integer,
    hits              bigint      NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    last_used_at      timestamptz NOT NULL DEFAULT now(),

    PRIMARY KEY (content_hash, prompt_version, language),
    CONSTRAINT summary_cache_content_hash_check CHECK (octet_length(content_hash) = 32),
    CONSTRAINT summary_cache_prompt_version_check CHECK (char_length(prompt_version) BETWEEN 1 AND 64),
    CONSTRAINT summary_cache_language_check CHECK (char_length(language) BETWEEN 1 AND 35),
    CONSTRAINT summary_cache_summary_check CHECK (char_length(summary) BETWEEN 1 AND 1500),
    CONSTRAINT summary_cache_engine_check CHECK (engine IN ('ollama', 'openai', 'local', 'extractive')),
    CONSTRAINT summary_cache_model_check CHECK (char_length(model) <= 200),
    CONSTRAINT summary_cache_score_check CHECK (score BETWEEN 0 AND 30),
    CONSTRAINT summary_cache_counts_check CHECK (
        prompt_tokens >= 0 AND completion_tokens >= 0 AND duration_ms >= 0 AND hits >= 0)
);

-- Eviction of entries nobody asked for in a while.
CREATE INDEX summary_cache_last_used_idx ON summary_cache (last_used_at);

-- ---------------------------------------------------------------------------------------------
-- Tags are global (the same word is one tag everywhere, not one per feed as upstream had);
-- article_tags says which article carries it, how sure we are and where it came from.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE tags (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Normalised by the tag generator (NFKC, case) before it gets here.
    name       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT tags_name_key UNIQUE (name),
    CONSTRAINT tags_name_check CHECK (char_length(name) BETWEEN 1 AND 100 AND name = btrim(name))
);

CREATE TABLE article_tags (
    article_id bigint      NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    tag_id     bigint      NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    confidence real        NOT NULL,
    -- feed = the feed's own <category>; keyword/embedding = local extractors; llm = a model.
    source     text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),

    PRIMARY KEY (article_id, tag_id),
    CONSTRAINT article_tags_confidence_check CHECK (confidence BETWEEN 0 AND 1),
    CONSTRAINT article_tags_source_check CHECK (source IN ('feed', 'keyword', 'embedding', 'llm'))
);

-- The articles carrying a tag.
CREATE INDEX article_tags_tag_idx ON article_tags (tag_id, article_id);

-- ---------------------------------------------------------------------------------------------
-- Per-user state. A row in read_states means "read"; marking unread deletes it.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE read_states (
    user_id    uuid        NOT NULL,
    article_id bigint      NOT NULL,
    -- Copied from the article (checked by the foreign key) so that unread counts per feed are an
    -- index-only count instead of a join over every article the user can see.
    feed_id    bigint      NOT NULL,
    read_at    timestamptz NOT NULL DEFAULT now(),

    PRIMARY KEY (user_id, article_id),
    CONSTRAINT read_states_article_fkey FOREIGN KEY (article_id, feed_id)
        REFERENCES articles (id, feed_id) ON DELETE CASCADE
);

-- Read counts per feed for one user (unread = articles - read).
CREATE INDEX read_states_user_feed_idx ON read_states (user_id, feed_id);
-- Retention deletes articles in bulk; the cascade must not scan read_states per article.
CREATE INDEX read_states_article_idx ON read_states (article_id);

CREATE TABLE favorites (
    user_id    uuid        NOT NULL,
    -- RESTRICT: starred articles are never purged. Retention must skip them; if it forgets,
    -- the delete fails instead of silently losing a user's stars.
    article_id bigint      NOT NULL REFERENCES articles (id) ON DELETE RESTRICT,
    created_at timestamptz NOT NULL DEFAULT now(),

    PRIMARY KEY (user_id, article_id)
);

-- Favourites by the time they were starred, newest first (keyset on (created_at, article_id)).
CREATE INDEX favorites_user_created_idx ON favorites (user_id, created_at DESC, article_id DESC);
-- Retention's "is this article starred by anyone?" and the foreign key check.
CREATE INDEX favorites_article_idx ON favorites (article_id);

-- ---------------------------------------------------------------------------------------------
-- Inoreader sync (pre-processor-sidecar). Its content enters the normal pipeline (feeds,
-- subscriptions, articles); these tables only hold what the sync itself needs. OAuth tokens are
-- not stored here: they live in a Secret managed by auth-token-manager.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE inoreader_accounts (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The Alt user whose subscriptions this account feeds.
    user_id                 uuid        NOT NULL,
    inoreader_user_id       text,
    status                  text        NOT NULL DEFAULT 'active',
    subscriptions_synced_at timestamptz,
    error_count             integer     NOT NULL DEFAULT 0,
    last_error              text,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT inoreader_accounts_user_key UNIQUE (user_id),
    CONSTRAINT inoreader_accounts_inoreader_user_key UNIQUE (inoreader_user_id),
    CONSTRAINT inoreader_accounts_inoreader_user_check CHECK (char_length(inoreader_user_id) <= 64),
    CONSTRAINT inoreader_accounts_status_check CHECK (status IN ('active', 'paused', 'unauthorized')),
    CONSTRAINT inoreader_accounts_error_count_check CHECK (error_count >= 0),
    CONSTRAINT inoreader_accounts_last_error_check CHECK (char_length(last_error) <= 2000)
);

CREATE TRIGGER inoreader_accounts_set_updated_at BEFORE UPDATE ON inoreader_accounts
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Where each stream's fetch stopped, so a restart resumes instead of spending the daily quota
-- again.
CREATE TABLE inoreader_sync_state (
    account_id     bigint      NOT NULL REFERENCES inoreader_accounts (id) ON DELETE CASCADE,
    -- 'feed/<url>' or a state/label stream id.
    stream_id      text        NOT NULL,
    continuation   text,
    newest_item_at timestamptz,
    last_synced_at timestamptz,
    error_count    integer     NOT NULL DEFAULT 0,
    last_error     text,
    updated_at     timestamptz NOT NULL DEFAULT now(),

    PRIMARY KEY (account_id, stream_id),
    CONSTRAINT inoreader_sync_state_stream_check CHECK (octet_length(stream_id) BETWEEN 1 AND 2100),
    CONSTRAINT inoreader_sync_state_continuation_check CHECK (octet_length(continuation) <= 1024),
    CONSTRAINT inoreader_sync_state_error_count_check CHECK (error_count >= 0),
    CONSTRAINT inoreader_sync_state_last_error_check CHECK (char_length(last_error) <= 2000)
);

CREATE TRIGGER inoreader_sync_state_set_updated_at BEFORE UPDATE ON inoreader_sync_state
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE inoreader_subscriptions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id   bigint      NOT NULL REFERENCES inoreader_accounts (id) ON DELETE CASCADE,
    -- 'feed/<url>'
    inoreader_id text        NOT NULL,
    feed_url     text        NOT NULL,
    html_url     text,
    title        text        NOT NULL DEFAULT '',
    -- Inoreader folders/labels, mapped to our one-level categories on import.
    categories   text[]      NOT NULL DEFAULT '{}',
    -- The feed it was mapped to in our pipeline.
    feed_id      bigint      REFERENCES feeds (id) ON DELETE SET NULL,
    synced_at    timestamptz NOT NULL DEFAULT now(),
    created_at   timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT inoreader_subscriptions_account_item_key UNIQUE (account_id, inoreader_id),
    CONSTRAINT inoreader_subscriptions_inoreader_id_check CHECK (octet_length(inoreader_id) BETWEEN 1 AND 2100),
    CONSTRAINT inoreader_subscriptions_feed_url_check
        CHECK (octet_length(feed_url) <= 2048 AND feed_url ~* '^https?://'),
    CONSTRAINT inoreader_subscriptions_html_url_check
        CHECK (octet_length(html_url) <= 2048 AND html_url ~* '^https?://'),
    CONSTRAINT inoreader_subscriptions_title_check CHECK (char_length(title) <= 1000),
    CONSTRAINT inoreader_subscriptions_categories_check CHECK (cardinality(categories) <= 100)
);

CREATE INDEX inoreader_subscriptions_feed_idx ON inoreader_subscriptions (feed_id) WHERE feed_id IS NOT NULL;

-- One row per Inoreader item ever imported: maps it to our article and, once retention has
-- deleted that article (article_id becomes NULL), stops the next sync from importing it again.
CREATE TABLE inoreader_articles (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id      bigint      NOT NULL REFERENCES inoreader_accounts (id) ON DELETE CASCADE,
    subscription_id bigint      NOT NULL REFERENCES inoreader_subscriptions (id) ON DELETE CASCADE,
    -- 'tag:google.com,2005:reader/item/<hex>'
    inoreader_id    text        NOT NULL,
    article_id      bigint      REFERENCES articles (id) ON DELETE SET NULL,
    url             text,
    published_at    timestamptz,
    fetched_at      timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT inoreader_articles_account_item_key UNIQUE (account_id, inoreader_id),
    CONSTRAINT inoreader_articles_inoreader_id_check CHECK (octet_length(inoreader_id) BETWEEN 1 AND 256),
    CONSTRAINT inoreader_articles_url_check CHECK (octet_length(url) <= 2048 AND url ~* '^https?://')
);

CREATE INDEX inoreader_articles_subscription_idx ON inoreader_articles (subscription_id);
CREATE INDEX inoreader_articles_article_idx ON inoreader_articles (article_id) WHERE article_id IS NOT NULL;

-- Inoreader counts its quota per application and day (Zone 1 = reads, Zone 2 = writes), not per
-- user, so usage is one row per day. *_requests are our own counts; usage/limit are the
-- X-Reader-Zone*-{Usage,Limit} headers as last seen.
CREATE TABLE inoreader_api_usage (
    usage_date      date        PRIMARY KEY,
    zone1_requests  integer     NOT NULL DEFAULT 0,
    zone2_requests  integer     NOT NULL DEFAULT 0,
    zone1_usage     integer,
    zone1_limit     integer,
    zone2_usage     integer,
    zone2_limit     integer,
    limits_reset_at timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT inoreader_api_usage_counts_check CHECK (
        zone1_requests >= 0 AND zone2_requests >= 0 AND zone1_usage >= 0 AND zone1_limit >= 0
        AND zone2_usage >= 0 AND zone2_limit >= 0)
);

CREATE TRIGGER inoreader_api_usage_set_updated_at BEFORE UPDATE ON inoreader_api_usage
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
