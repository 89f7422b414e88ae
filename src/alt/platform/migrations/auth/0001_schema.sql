-- Auth database (`alt_auth`): identities, sessions, keys and the security audit trail.
--
-- Kept apart from the application database so that a leak of app data never includes password
-- hashes, session ids or signing keys. Secrets that are bearer credentials (session tokens,
-- recovery codes) are stored only as hashes; the raw value exists only in the user's hands.
-- Only core PostgreSQL (gen_random_uuid() is core since 13); valid on PostgreSQL 15 and 18.

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
-- Users
-- ---------------------------------------------------------------------------------------------
CREATE TABLE users (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Stored as entered after normalisation; uniqueness ignores case (below).
    email               text        NOT NULL,
    display_name        text,
    password_hash       text        NOT NULL,
    role                text        NOT NULL DEFAULT 'user',
    disabled_at         timestamptz,
    -- TOTP: the secret may be stored encrypted by the service, hence bytea. It only counts
    -- once the user has confirmed a code (totp_enabled_at); the last accepted time step stops
    -- a code from being replayed inside its window.
    totp_secret         bytea,
    totp_enabled_at     timestamptz,
    totp_last_step      bigint,
    last_login_at       timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- Sessions created before this instant are void (password change logs out everywhere).
    password_changed_at timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT users_email_check
        CHECK (char_length(email) BETWEEN 3 AND 254 AND email = btrim(email) AND position('@' IN email) > 1),
    CONSTRAINT users_display_name_check CHECK (char_length(display_name) BETWEEN 1 AND 200),
    -- Argon2id only (TESTS.md AUTH-07): anything else in this column is a bug.
    CONSTRAINT users_password_hash_check
        CHECK (password_hash LIKE '$argon2id$%' AND octet_length(password_hash) <= 512),
    CONSTRAINT users_role_check CHECK (role IN ('admin', 'user')),
    CONSTRAINT users_totp_check
        CHECK ((totp_enabled_at IS NULL OR totp_secret IS NOT NULL)
               AND octet_length(totp_secret) <= 256)
);

CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- ---------------------------------------------------------------------------------------------
-- Server-side sessions: revocable at once, listed on the profile page.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE sessions (
    -- sha256 of the opaque cookie token: a copy of this table cannot be replayed as cookies.
    id                  bytea       PRIMARY KEY,
    user_id             uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Key of the CSRF token bound to this session.
    csrf_secret         bytea       NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_seen_at        timestamptz NOT NULL DEFAULT now(),
    -- Moves forward with activity (7 d by default), never past absolute_expires_at (30 d).
    idle_expires_at     timestamptz NOT NULL,
    absolute_expires_at timestamptz NOT NULL,
    revoked_at          timestamptz,
    -- logout, revoked by the user or an admin, password change, rotation on refresh ...
    revoked_reason      text,
    user_agent          text,
    ip                  inet,

    CONSTRAINT sessions_id_check CHECK (octet_length(id) = 32),
    CONSTRAINT sessions_csrf_secret_check CHECK (octet_length(csrf_secret) >= 32),
    CONSTRAINT sessions_expiry_check
        CHECK (idle_expires_at <= absolute_expires_at AND absolute_expires_at > created_at),
    CONSTRAINT sessions_revoked_reason_check CHECK (char_length(revoked_reason) <= 64),
    CONSTRAINT sessions_user_agent_check CHECK (char_length(user_agent) <= 512)
);

-- A user's sessions (profile list, "log out everywhere").
CREATE INDEX sessions_user_idx ON sessions (user_id, created_at DESC);
-- Purge of expired sessions.
CREATE INDEX sessions_absolute_expiry_idx ON sessions (absolute_expires_at);

-- ---------------------------------------------------------------------------------------------
-- TOTP recovery codes: single use, stored hashed (HMAC/sha256; the codes are random, so a
-- fast hash is enough).
-- ---------------------------------------------------------------------------------------------
CREATE TABLE recovery_codes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    used_at    timestamptz,

    CONSTRAINT recovery_codes_user_hash_key UNIQUE (user_id, code_hash),
    CONSTRAINT recovery_codes_code_hash_check CHECK (octet_length(code_hash) BETWEEN 32 AND 64)
);

-- ---------------------------------------------------------------------------------------------
-- Keys that sign the short-lived identity tokens other services verify. Rotation: add a key
-- (published at once so verifiers learn it), sign with the newest unretired one, keep retired
-- keys published until every token they signed has expired.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE signing_keys (
    kid         text        PRIMARY KEY,
    algorithm   text        NOT NULL,
    -- PEM (SubjectPublicKeyInfo); what /.well-known JWKS serves.
    public_key  text        NOT NULL,
    -- PKCS#8, possibly encrypted by the service with a key from its configuration.
    private_key bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz,

    CONSTRAINT signing_keys_kid_check CHECK (kid ~ '^[A-Za-z0-9_-]{1,64}$'),
    CONSTRAINT signing_keys_algorithm_check CHECK (algorithm IN ('EdDSA', 'ES256', 'RS256')),
    CONSTRAINT signing_keys_public_key_check CHECK (octet_length(public_key) <= 8192),
    CONSTRAINT signing_keys_private_key_check CHECK (octet_length(private_key) <= 16384),
    CONSTRAINT signing_keys_retired_check CHECK (retired_at >= created_at)
);

-- ---------------------------------------------------------------------------------------------
-- Throttle counters for login, registration and CSRF issuance, per account and per client
-- address. A counter row per key (not a row per attempt) so that concurrent attempts serialise
-- on one row and a brute-force run cannot slip between count and insert. Unknown accounts are
-- throttled exactly like known ones (no enumeration).
-- ---------------------------------------------------------------------------------------------
CREATE TABLE auth_throttle (
    -- e.g. 'login_account', 'login_ip', 'register_ip', 'csrf_ip'
    scope             text        NOT NULL,
    -- normalised email, or client address/prefix as text
    key               text        NOT NULL,
    failures          integer     NOT NULL DEFAULT 0,
    window_started_at timestamptz NOT NULL DEFAULT now(),
    locked_until      timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),

    PRIMARY KEY (scope, key),
    CONSTRAINT auth_throttle_scope_check CHECK (scope ~ '^[a-z][a-z0-9_]{0,31}$'),
    CONSTRAINT auth_throttle_key_check CHECK (char_length(key) BETWEEN 1 AND 320),
    CONSTRAINT auth_throttle_failures_check CHECK (failures >= 0)
);

-- Purge of counters whose window is long over.
CREATE INDEX auth_throttle_updated_idx ON auth_throttle (updated_at);

CREATE TRIGGER auth_throttle_set_updated_at BEFORE UPDATE ON auth_throttle
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- ---------------------------------------------------------------------------------------------
-- Security audit log: login ok/failed, lockout, password change, session revoked, probe
-- blocked, admin actions. No foreign key on user_id: the record must outlive the user.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE audit_log (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    user_id    uuid,
    -- Dotted lower-case names: 'login.ok', 'login.failed', 'session.revoked', 'probe.blocked'.
    event      text        NOT NULL,
    ip         inet,
    request_id text,
    details    jsonb       NOT NULL DEFAULT '{}',

    CONSTRAINT audit_log_event_check CHECK (event ~ '^[a-z][a-z0-9_.]{0,63}$'),
    CONSTRAINT audit_log_request_id_check CHECK (char_length(request_id) <= 128),
    CONSTRAINT audit_log_details_check CHECK (jsonb_typeof(details) = 'object')
);

CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_user_at_idx ON audit_log (user_id, at) WHERE user_id IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Instance-wide settings changed at run time by an admin (e.g. 'registration_open'). A missing
-- key means the built-in default.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE app_settings (
    key        text        PRIMARY KEY,
    value      jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by uuid        REFERENCES users (id) ON DELETE SET NULL,

    CONSTRAINT app_settings_key_check CHECK (key ~ '^[a-z][a-z0-9_.]{0,63}$')
);

CREATE TRIGGER app_settings_set_updated_at BEFORE UPDATE ON app_settings
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
