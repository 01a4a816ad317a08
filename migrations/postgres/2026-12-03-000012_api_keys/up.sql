-- API keys (issue 12): the main app and its workers call /api/v1 with one.
-- Only a hash of the secret is kept (SHA-256: the secret is 190 random
-- bits, so a slow hash adds nothing); the prefix identifies it in lists.
CREATE TABLE api_keys (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  secret_hash TEXT NOT NULL UNIQUE,
  -- After a rotation: the old secret, valid until previous_until.
  previous_hash TEXT UNIQUE,
  previous_until TIMESTAMP,
  -- Space-separated, from the closed list in src/access (Scope).
  scopes TEXT NOT NULL,
  client_id TEXT NOT NULL,
  owner_id BIGINT NOT NULL REFERENCES users (id),
  expires_at TIMESTAMP,
  rate_per_minute INTEGER NOT NULL CHECK (rate_per_minute > 0),
  monthly_quota BIGINT NOT NULL CHECK (monthly_quota > 0),
  created_at TIMESTAMP NOT NULL,
  created_by BIGINT REFERENCES users (id),
  revoked_at TIMESTAMP,
  last_used_at TIMESTAMP,
  last_used_ip TEXT
);
CREATE INDEX api_keys_created_idx ON api_keys (created_at, id);

-- Requests per key and minute (the rate limit reads the current minute;
-- the key page sums them by day), counted in the database so the limits
-- hold across instances. Refused requests are counted in `throttled`.
CREATE TABLE api_key_usage (
  key_id BIGINT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
  minute TIMESTAMP NOT NULL,
  requests BIGINT NOT NULL,
  throttled BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (key_id, minute)
);

-- Requests served per key and calendar month (UTC), for the monthly quota:
-- one row read per call rather than a month of minutes.
CREATE TABLE api_key_months (
  key_id BIGINT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
  month TEXT NOT NULL,
  requests BIGINT NOT NULL,
  PRIMARY KEY (key_id, month)
);

-- Answers to POSTs sent with an Idempotency-Key, per key: the same key and
-- body replay the first answer; another body is refused. Written in the
-- same transaction as the change it answers.
CREATE TABLE api_idempotency (
  key_id BIGINT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
  idem_key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status INTEGER NOT NULL,
  body TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  PRIMARY KEY (key_id, idem_key)
);
