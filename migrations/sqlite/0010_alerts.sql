-- Webhook alerts on critical events (issue 14; 45 CFR 164.308(a)(6)).
-- Events come from the audit trail (the durable outbox): a cursor says how
-- far it was read; each matching record becomes one delivery per
-- subscription, tried with backoff and logged.

CREATE TABLE alert_subscriptions (
    id          TEXT    PRIMARY KEY,           -- wh_...; its HMAC key is derived from it
    url         TEXT    NOT NULL,
    events      TEXT    NOT NULL,              -- JSON array of event names
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    from_seq    INTEGER NOT NULL               -- audit records after this one count
);

CREATE TABLE alert_deliveries (
    id              TEXT    PRIMARY KEY,       -- msg_...: the webhook-id header
    subscription_id TEXT    NOT NULL REFERENCES alert_subscriptions(id) ON DELETE CASCADE,
    event           TEXT    NOT NULL,
    audit_seq       INTEGER NOT NULL,
    payload         TEXT    NOT NULL,          -- the JSON body (no secret values)
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER,                   -- NULL: done (delivered or failed)
    status          TEXT    NOT NULL,          -- pending | delivered | failed
    last_status     INTEGER,                   -- HTTP status of the last attempt
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER,
    UNIQUE (subscription_id, audit_seq, event)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries(next_attempt_at);

CREATE TABLE alert_cursor (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq INTEGER NOT NULL
);
