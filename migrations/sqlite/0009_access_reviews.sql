-- Access reviews (issue 14; 45 CFR 164.308(a)(1)(ii)(D), (a)(4)): a
-- snapshot of the bindings in a scope, a decision (keep or revoke) on each
-- by a reviewer who is not the binding's holder, and who attested to what.

CREATE TABLE access_reviews (
    id          TEXT    PRIMARY KEY,           -- rev_...
    scope       TEXT    NOT NULL,              -- pattern of the bindings reviewed
    created_by  TEXT    NOT NULL,              -- actor (user:NAME, root)
    created_at  INTEGER NOT NULL,
    due_at      INTEGER NOT NULL,
    closed_at   INTEGER,
    closed_by   TEXT,
    attestation TEXT                           -- the closer's note
);

CREATE TABLE access_review_items (
    review_id   TEXT    NOT NULL REFERENCES access_reviews(id) ON DELETE CASCADE,
    binding_id  TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    username    TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    scope       TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    granted_at  INTEGER NOT NULL,
    last_used_at INTEGER,                      -- from the audit trail, at start
    decision    TEXT,                          -- keep | revoke; NULL: pending
    decided_by  TEXT,
    decided_at  INTEGER,
    note        TEXT,
    PRIMARY KEY (review_id, binding_id)
);
