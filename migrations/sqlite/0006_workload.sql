-- Workload identity (issue 15): roles made through the API (configured
-- roles live in the server's TOML), and the tokens already exchanged.

CREATE TABLE workload_roles (
    issuer            TEXT    NOT NULL,            -- a configured issuer's name
    name              TEXT    NOT NULL,
    bound_claims      TEXT    NOT NULL,            -- JSON object claim -> value
    bound_claims_glob INTEGER NOT NULL,
    scope             TEXT    NOT NULL,
    permissions       TEXT    NOT NULL,            -- JSON array
    ttl_secs          INTEGER NOT NULL,
    created_by        TEXT    NOT NULL,            -- root | user id (minted tokens never exceed what they hold)
    created_at        INTEGER NOT NULL,
    PRIMARY KEY (issuer, name)
);

-- One row per exchanged JWT (its jti, or the SHA-256 of the whole token when
-- it has none), kept until the JWT expires: a copy of a token from a CI log
-- cannot be exchanged again.
CREATE TABLE workload_jtis (
    issuer      TEXT    NOT NULL,
    jti_hash    BLOB    NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (issuer, jti_hash)
);
