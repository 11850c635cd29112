-- Data keys for encrypting clinical text at rest (envelope encryption). Each data key is stored
-- only wrapped (AES-256-GCM) by the master key, which never enters the database; rotating the
-- master key re-wraps these rows without touching the encrypted records.
CREATE TABLE data_keys (
    id TEXT PRIMARY KEY,
    wrapped_key TEXT NOT NULL,
    master_key_fingerprint TEXT NOT NULL,
    created_at TEXT NOT NULL,
    retired_at TEXT
);
