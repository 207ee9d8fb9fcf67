-- Identity and access (issue 4): users, custom roles, role bindings,
-- sessions, service tokens, login throttling, emergency grants.
-- Every credential is stored only as a hash (Argon2id for passwords,
-- SHA-256 of a 256-bit random secret for session and service tokens).

CREATE TABLE users (
    id            TEXT PRIMARY KEY,            -- immutable, random
    username      TEXT    NOT NULL UNIQUE,     -- normalized (NFKC, lowercase, ASCII)
    password_hash TEXT,                        -- Argon2id PHC string
    created_at    INTEGER NOT NULL,
    disabled_at   INTEGER
);

-- Custom roles (built-in roles live in code).
CREATE TABLE roles (
    name          TEXT PRIMARY KEY,
    permissions   TEXT    NOT NULL,            -- JSON array of permission names
    absolute_secs INTEGER,
    idle_secs     INTEGER,
    created_at    INTEGER NOT NULL
);

-- Subject x role x scope. Subjects are users for now (groups come with OIDC).
CREATE TABLE bindings (
    id          TEXT PRIMARY KEY,
    user_id     TEXT    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role        TEXT    NOT NULL,
    scope       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (user_id, role, scope)
);

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    hash          BLOB    NOT NULL,
    user_id       TEXT    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER NOT NULL,
    revoked_at    INTEGER,
    source        TEXT    NOT NULL,
    method        TEXT    NOT NULL             -- password (oidc, webauthn later)
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE service_tokens (
    id            TEXT PRIMARY KEY,
    hash          BLOB    NOT NULL,
    name          TEXT    NOT NULL,
    created_by    TEXT    NOT NULL,            -- root | user id
    scopes        TEXT    NOT NULL,            -- JSON array
    permissions   TEXT    NOT NULL,            -- JSON array
    networks      TEXT    NOT NULL,            -- JSON array of CIDRs
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);
CREATE INDEX service_tokens_creator ON service_tokens(created_by);

-- Consecutive login failures per key (`user:NAME` or `ip:ADDR`).
CREATE TABLE login_throttle (
    key           TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL,
    last_failure  INTEGER NOT NULL
);

CREATE TABLE emergency_grants (
    id          TEXT PRIMARY KEY,
    user_id     TEXT    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    reason      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX emergency_grants_user ON emergency_grants(user_id);
