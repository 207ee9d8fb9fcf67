-- Second factors (issue 10): what a session proved besides the first factor,
-- roles that need it, one-time recovery codes, and ceremonies bound to a
-- session (step-up) or to a user who passed the password (second factor).

-- The second factor a session's login included: passkey | recovery_code |
-- amr:<value> (an SSO login whose ID token said so); NULL: none.
ALTER TABLE sessions ADD COLUMN mfa TEXT;
-- The last time this session proved a passkey (login or step-up).
ALTER TABLE sessions ADD COLUMN passkey_at INTEGER;

-- A binding to such a role applies only to sessions with a second factor.
ALTER TABLE roles ADD COLUMN require_mfa INTEGER NOT NULL DEFAULT 0;

-- Step-up: the session a passkey check refreshes.
ALTER TABLE webauthn_ceremonies ADD COLUMN session_id TEXT;

-- What a CLI one-time code hands over: the way the browser signed in.
ALTER TABLE oidc_cli_codes ADD COLUMN method TEXT NOT NULL DEFAULT 'oidc';
ALTER TABLE oidc_cli_codes ADD COLUMN mfa TEXT;
ALTER TABLE oidc_cli_codes ADD COLUMN passkey_at INTEGER;

-- Recovery codes: SHA-256 of each (high-entropy, like tokens), single use.
CREATE TABLE recovery_codes (
    hash        BLOB    PRIMARY KEY,
    user_id     TEXT    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX recovery_codes_user ON recovery_codes(user_id);
