-- Passkeys (issue 10): WebAuthn credentials of users, and the ceremonies in
-- flight (registration and authentication state, server-side only,
-- single-use, 5 minutes).

CREATE TABLE passkeys (
    id            TEXT    PRIMARY KEY,          -- pk_..., for the API
    user_id       TEXT    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    credential_id BLOB    NOT NULL UNIQUE,      -- the authenticator's credential id
    passkey       TEXT    NOT NULL,             -- webauthn-rs Passkey (public key, counter), JSON
    counter       INTEGER NOT NULL,             -- sign counter, compared and swapped on use
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
);
CREATE INDEX passkeys_user ON passkeys(user_id);

CREATE TABLE webauthn_ceremonies (
    id          BLOB    PRIMARY KEY,            -- SHA-256 of the ceremony id given out
    kind        TEXT    NOT NULL,               -- register | login
    user_id     TEXT,                           -- registration: whose; login: none (discoverable)
    name        TEXT,                           -- registration: the passkey's name
    state       TEXT    NOT NULL,               -- webauthn-rs state, JSON (never leaves the server)
    expires_at  INTEGER NOT NULL
);
