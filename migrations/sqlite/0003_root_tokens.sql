-- Root tokens can expire (`vault operator generate-root --ttl`) and say where
-- they came from (init, generate-root, dev mode), so they can be listed and
-- revoked like any other credential.
ALTER TABLE tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE tokens ADD COLUMN origin TEXT NOT NULL DEFAULT 'init';
