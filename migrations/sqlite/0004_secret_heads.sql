-- Each secret's current version is authenticated: an HMAC over (project,
-- environment, name, current_version) under a key derived from the unsealed
-- audit key, so moving `current_version` back to an older (genuine) version
-- in the database alone is detected on read. Filled for existing secrets at
-- the first unseal after this migration.
ALTER TABLE secrets ADD COLUMN head_mac BLOB;
