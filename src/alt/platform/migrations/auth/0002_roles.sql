-- Least-privilege group role for auth-service, the only service that touches the auth database.
--
-- A NOLOGIN group: a deployment creates a LOGIN role and grants it alt_auth_service. Safe to run
-- again. Roles are cluster-wide and another database may be migrating at the same moment: a
-- role created by a concurrent, uncommitted transaction surfaces as unique_violation once that
-- transaction commits, hence both handlers.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'alt_auth_service') THEN
        BEGIN
            CREATE ROLE alt_auth_service NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            RAISE NOTICE 'role alt_auth_service was created concurrently, keeping it';
        END;
    END IF;
END
$$;

-- Nothing is reachable by default: the app services share the cluster in embedded mode and
-- must not even connect here.
DO $$
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO alt_auth_service', current_database());
END
$$;

REVOKE ALL ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO alt_auth_service;

-- alt_auth_service: registers and manages users, opens and revokes sessions, rotates signing
-- keys, counts failed attempts and edits instance settings. The audit log is append-only even
-- for this service, so a compromised service cannot erase its own tracks; purging old entries
-- is an operator's job.
GRANT SELECT, INSERT, UPDATE, DELETE
    ON users, sessions, recovery_codes, signing_keys, auth_throttle, app_settings
    TO alt_auth_service;
GRANT SELECT, INSERT ON audit_log TO alt_auth_service;
