-- A POST that creates a clinical record may carry an Idempotency-Key. The first request with a
-- key claims it here and, once answered, stores the answer (the body sealed like clinical
-- text), so a retry gets the same answer instead of recording twice. Keys are the client's
-- own, so they are scoped to the staff account that sent them.
CREATE TABLE idempotency_keys (
    user_id INTEGER NOT NULL REFERENCES users(id),
    idempotency_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    location TEXT,
    response TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, idempotency_key)
);
