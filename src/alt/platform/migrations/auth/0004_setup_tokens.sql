-- One-time setup links: how the first admin of a fresh install is made from the web.
--
-- `alt up` stores a token here when the auth database has no admin and prints the link; the
-- page it opens creates the first admin and deletes the token in the same transaction, so a
-- token works once. Only the token's sha256 is stored, like session tokens.
CREATE TABLE setup_tokens (
    token_hash bytea       PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,

    CONSTRAINT setup_tokens_token_hash_check CHECK (octet_length(token_hash) = 32),
    CONSTRAINT setup_tokens_expiry_check CHECK (expires_at > created_at)
);

GRANT SELECT, INSERT, DELETE ON setup_tokens TO alt_auth_service;
