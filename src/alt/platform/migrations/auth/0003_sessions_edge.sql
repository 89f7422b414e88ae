-- Sessions as the edge and the profile page use them, pre-sessions for login CSRF, and the
-- queue of app-side deletions of deleted users.

-- A handle for a session that is not its secret: the profile lists sessions and ends them by
-- this id; the primary key (a hash of the cookie) never leaves the auth database.
ALTER TABLE sessions ADD COLUMN public_id uuid NOT NULL DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX sessions_public_id_key ON sessions (public_id);

-- Anonymous pre-sessions: what the login and registration forms' CSRF token is bound to
-- before anyone is logged in. Short-lived, deleted at login, stored as a hash like sessions.
CREATE TABLE presessions (
    id          bytea       PRIMARY KEY,
    csrf_secret bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,

    CONSTRAINT presessions_id_check CHECK (octet_length(id) = 32),
    CONSTRAINT presessions_csrf_secret_check CHECK (octet_length(csrf_secret) >= 32),
    CONSTRAINT presessions_expiry_check CHECK (expires_at > created_at)
);

CREATE INDEX presessions_expires_idx ON presessions (expires_at);

-- Users deleted here whose data in the application database alt-backend has not confirmed
-- deleting yet. auth-service retries until it has; no foreign key, the user row is gone.
CREATE TABLE user_purges (
    user_id         uuid        PRIMARY KEY,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    last_attempt_at timestamptz,
    last_error      text,

    CONSTRAINT user_purges_attempts_check CHECK (attempts >= 0),
    CONSTRAINT user_purges_last_error_check CHECK (char_length(last_error) <= 200)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON presessions, user_purges TO alt_auth_service;
