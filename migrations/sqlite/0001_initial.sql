-- Initial schema of the vault's SQLite store.
-- Values are stored only as envelopes (AES-256-GCM under a per-version data
-- key wrapped by the project's KEK); KEKs only wrapped by the root key; the
-- root key only wrapped by the unseal key; tokens only as hashes.

-- How the root key is protected (one row once initialized).
CREATE TABLE seal_config (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    mode            TEXT    NOT NULL,          -- shamir | passphrase | key_file
    shares          INTEGER NOT NULL,
    threshold       INTEGER NOT NULL,
    passphrase_params TEXT,                    -- JSON, passphrase mode only
    wrapped_root    BLOB    NOT NULL,
    root_version    INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);

-- Secrets of the server itself (the audit signing key), wrapped by the root key.
CREATE TABLE system_secrets (
    label   TEXT PRIMARY KEY,
    wrapped BLOB NOT NULL
);

-- Public values the server publishes (the audit verifying key).
CREATE TABLE system_values (
    label TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

-- API tokens: looked up by id, verified against the hash in constant time.
CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    hash        BLOB    NOT NULL,
    kind        TEXT    NOT NULL,              -- root (issue 3); more kinds later
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE TABLE projects (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE environments (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (project_id, name)
);

-- Key-encryption keys, per project and version. `wrapped` is NULL once destroyed.
CREATE TABLE keks (
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    wrapped     BLOB,
    state       TEXT    NOT NULL,              -- active | decrypt_only | retired | destroyed
    created_at  INTEGER NOT NULL,
    wrap_count  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, version)
);

CREATE TABLE secrets (
    id              INTEGER PRIMARY KEY,
    env_id          INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    current_version INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    deleted_at      INTEGER,
    purge_after     INTEGER,
    UNIQUE (env_id, name)
);
CREATE INDEX secrets_purge ON secrets(purge_after) WHERE purge_after IS NOT NULL;

-- One row per secret version; `project_id` is denormalized so rewrap and key
-- status can find a KEK version's data keys with one index.
CREATE TABLE secret_versions (
    id              INTEGER PRIMARY KEY,
    secret_id       INTEGER NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
    project_id      INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    version         INTEGER NOT NULL,
    envelope        BLOB    NOT NULL,
    kek_version     INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    created_by      TEXT    NOT NULL,
    kind            TEXT    NOT NULL,          -- write | rollback | restore
    source_version  INTEGER,
    UNIQUE (secret_id, version)
);
CREATE INDEX secret_versions_kek ON secret_versions(project_id, kek_version, id);

-- Background rewrap jobs: persisted so a restart resumes them.
CREATE TABLE rewrap_jobs (
    id          TEXT PRIMARY KEY,
    project     TEXT,
    state       TEXT    NOT NULL,              -- running | done | failed
    total       INTEGER NOT NULL,
    done        INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    error       TEXT
);

-- The audit hash chain. Rows are appended by the single writer only.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    time        INTEGER NOT NULL,
    request_id  TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    token_id    TEXT,
    action      TEXT    NOT NULL,
    resource    TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    detail      TEXT,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
CREATE INDEX audit_log_time ON audit_log(time);

-- Signed checkpoints (JSON of vault_core::audit::Checkpoint).
CREATE TABLE audit_checkpoints (
    seq         INTEGER PRIMARY KEY,
    checkpoint  TEXT    NOT NULL
);

-- Records moved out of the database by retention, with where they went.
CREATE TABLE audit_archives (
    id          INTEGER PRIMARY KEY,
    first_seq   INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    last_hash   TEXT    NOT NULL,
    file        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
