-- WebAuthn passkeys as a second factor (issue 11 item 2). A passkey is kept as the WebAuthn
-- library's credential record (public key, signature counter) in JSON, found by its credential
-- id; it holds no secret, so a copy of the database cannot sign in with it.
CREATE TABLE passkeys (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    credential_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- A ceremony (set-up or sign-in) waits on its session: the challenge and what it allows, used
-- once and only within a few minutes, so a response cannot be replayed or taken to another
-- session.
ALTER TABLE staff_sessions ADD COLUMN passkey_ceremony TEXT;
ALTER TABLE staff_sessions ADD COLUMN passkey_ceremony_kind TEXT;
ALTER TABLE staff_sessions ADD COLUMN passkey_ceremony_at TEXT;
