-- Single sign-on with OpenID Connect (issue 9).
--
-- oidc_flows: one row per authorization request in flight, keyed by the
-- SHA-256 of its `state`. Single-use (taken with DELETE ... RETURNING before
-- the code is redeemed) and expiring after 10 minutes; bound to the browser
-- that started it by the hash of its pre-login cookie. Kept in the database
-- so that any node can finish a flow another node started.
CREATE TABLE oidc_flows (
    state_hash    BLOB    PRIMARY KEY,
    provider      TEXT    NOT NULL,
    browser_hash  BLOB    NOT NULL,
    pkce_verifier TEXT    NOT NULL,            -- RFC 7636; useless without the code
    nonce         TEXT    NOT NULL,
    return_to     TEXT    NOT NULL,
    source        TEXT    NOT NULL,            -- the starting client's address (a cap per address)
    cli_port      INTEGER,                     -- set when `vault login --oidc` started it
    cli_challenge TEXT,                        -- the CLI's own S256 challenge
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);

-- One-time codes handed to the CLI's loopback listener after a successful
-- SSO login; redeemed once, within 60 seconds, with the CLI's PKCE verifier.
CREATE TABLE oidc_cli_codes (
    code_hash     BLOB    PRIMARY KEY,
    user_id       TEXT    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider      TEXT    NOT NULL,
    challenge     TEXT    NOT NULL,
    expires_at    INTEGER NOT NULL
);

-- Who a user is at an IdP. The key is (issuer, sub) as OIDC Core §5.7 says;
-- the email is shown, never matched.
CREATE TABLE user_identities (
    id            TEXT    PRIMARY KEY,
    issuer        TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    user_id       TEXT    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider      TEXT    NOT NULL,
    email         TEXT,
    created_at    INTEGER NOT NULL,
    last_login_at INTEGER,
    UNIQUE (issuer, subject)
);
CREATE INDEX user_identities_user ON user_identities(user_id);

-- Where a binding came from: `manual` (an administrator) or `sso:<provider>`
-- (recomputed from the user's groups at every SSO login).
ALTER TABLE bindings ADD COLUMN source TEXT NOT NULL DEFAULT 'manual';
