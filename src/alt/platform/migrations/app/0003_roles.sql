-- Least-privilege group roles for the services that use the application database.
--
-- These are NOLOGIN groups: a deployment creates one LOGIN role per service and grants it the
-- group (GRANT alt_backend TO backend_login). Everything here is safe to run again.
--
-- Roles are cluster-wide while this file runs per database, and two databases (or two test
-- runs) may migrate at the same moment. Hence the pg_roles check, and the handlers: a role
-- created by a concurrent, uncommitted transaction surfaces as unique_violation on
-- pg_authid's name index once that transaction commits, not as duplicate_object.

DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY[
        'alt_jobs', 'alt_backend', 'alt_pre_processor', 'alt_tag_generator',
        'alt_search_indexer', 'alt_sidecar', 'alt_news_creator'
    ] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = role_name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                RAISE NOTICE 'role % was created concurrently, keeping it', role_name;
            END;
        END IF;
    END LOOP;
END
$$;

-- Every service defers or runs jobs, so every service role is a member of alt_jobs.
DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY[
        'alt_backend', 'alt_pre_processor', 'alt_tag_generator',
        'alt_search_indexer', 'alt_sidecar', 'alt_news_creator'
    ] LOOP
        IF NOT pg_catalog.pg_has_role(role_name, 'alt_jobs', 'MEMBER') THEN
            BEGIN
                EXECUTE format('GRANT alt_jobs TO %I', role_name);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                RAISE NOTICE 'membership of % in alt_jobs was granted concurrently', role_name;
            END;
        END IF;
    END LOOP;
END
$$;

-- Nothing is reachable by default: the app and auth databases may share one cluster (the
-- embedded mode does), and a service of one must not even connect to the other.
DO $$
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format(
        'GRANT CONNECT, TEMPORARY ON DATABASE %I TO alt_backend, alt_pre_processor, '
        'alt_tag_generator, alt_search_indexer, alt_sidecar, alt_news_creator',
        current_database());
END
$$;

REVOKE ALL ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO alt_jobs, alt_backend, alt_pre_processor, alt_tag_generator,
    alt_search_indexer, alt_sidecar, alt_news_creator;

-- alt_jobs: the job queue (procrastinate, installed by 0002). It enqueues, fetches, retries and
-- finishes jobs through its tables and functions, and nothing else. Looked up by name so that
-- every procrastinate table, sequence and function is covered; rerun this block after a
-- procrastinate schema upgrade adds objects.
DO $$
DECLARE
    obj record;
    found integer := 0;
BEGIN
    FOR obj IN
        SELECT c.relname, c.relkind
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public'
          AND c.relname LIKE 'procrastinate\_%'
          AND c.relkind IN ('r', 'p', 'v', 'S')
    LOOP
        found := found + 1;
        IF obj.relkind = 'S' THEN
            EXECUTE format('GRANT USAGE, SELECT, UPDATE ON SEQUENCE public.%I TO alt_jobs', obj.relname);
        ELSE
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.%I TO alt_jobs', obj.relname);
        END IF;
    END LOOP;
    IF found = 0 THEN
        RAISE EXCEPTION 'no procrastinate_* tables in schema public: migration 0002 (job queue) must run first';
    END IF;

    FOR obj IN
        SELECT p.oid::regprocedure AS signature
        FROM pg_catalog.pg_proc p
        JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public'
          AND p.proname LIKE 'procrastinate\_%'
          AND p.prokind = 'f'
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO alt_jobs', obj.signature);
    END LOOP;
END
$$;

-- alt_backend: the reader API. Owns the per-user tables (subscriptions, folders, read state,
-- favourites; OPML import/export is the same set). Reads content to serve it. Inserts a feed
-- when someone subscribes to a URL nobody had yet; may only touch the scheduling/admin columns
-- of a feed (refresh now, enable/disable, confirm gone, per-feed retention) - the fetch state
-- belongs to the pre-processor. Deletes a user's Inoreader link when the user is deleted.
GRANT SELECT, INSERT ON feeds TO alt_backend;
GRANT UPDATE (next_check_at, status, status_changed_at, error_count, last_error,
              retention_max_age, retention_max_articles) ON feeds TO alt_backend;
GRANT SELECT, INSERT, UPDATE, DELETE ON categories, subscriptions, read_states, favorites TO alt_backend;
GRANT SELECT ON articles, article_contents, summaries, tags, article_tags TO alt_backend;
GRANT SELECT, DELETE ON inoreader_accounts TO alt_backend;

-- alt_pre_processor: ingestion. Schedules and fetches feeds (fetch state), inserts and updates
-- articles and deletes them for retention, stores extracted text and summaries. Sees who
-- subscribes to what (skip unread feeds, per-user summary quotas) and which articles are
-- starred (retention must keep them) - the ids only, nothing else of those users' data.
GRANT SELECT, UPDATE ON feeds TO alt_pre_processor;
GRANT SELECT (user_id, feed_id) ON subscriptions TO alt_pre_processor;
GRANT SELECT, INSERT, UPDATE, DELETE ON articles TO alt_pre_processor;
GRANT SELECT, INSERT, UPDATE ON article_contents, summaries TO alt_pre_processor;
GRANT SELECT (article_id) ON favorites TO alt_pre_processor;

-- alt_tag_generator: reads an article and its text, writes its tags. Tags are never renamed
-- or deleted by it; an article's tag set is replaced as a whole.
GRANT SELECT ON articles, article_contents TO alt_tag_generator;
GRANT SELECT, INSERT ON tags TO alt_tag_generator;
GRANT SELECT, INSERT, UPDATE, DELETE ON article_tags TO alt_tag_generator;

-- alt_search_indexer: read-only. Indexes articles with their feed, text, summary and tags, and
-- scopes every search to the caller's feeds (who subscribes to what, nothing more).
GRANT SELECT ON feeds, articles, article_contents, summaries, tags, article_tags TO alt_search_indexer;
GRANT SELECT (user_id, feed_id) ON subscriptions TO alt_search_indexer;

-- alt_sidecar: Inoreader sync. Owns its own tables and feeds Inoreader's content into the
-- normal pipeline by inserting feeds, folders, subscriptions and articles (never changing or
-- deleting what other services wrote).
GRANT SELECT, INSERT, UPDATE, DELETE ON inoreader_accounts, inoreader_sync_state,
    inoreader_subscriptions, inoreader_articles, inoreader_api_usage TO alt_sidecar;
GRANT SELECT, INSERT ON feeds, categories, subscriptions, articles TO alt_sidecar;

-- alt_news_creator: the LLM gateway. Its only state is the content-hash summary cache; it
-- never sees articles or users.
GRANT SELECT, INSERT, UPDATE, DELETE ON summary_cache TO alt_news_creator;
