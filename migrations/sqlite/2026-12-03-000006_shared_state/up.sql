-- State several instances on one database must agree on.

-- Named values: the secret key's fingerprint, cache versions.
CREATE TABLE shared_state (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
INSERT INTO shared_state (name, value) VALUES ('roles_version', '1');

-- Fixed-window counters (sign-in attempts per client address): one row per
-- key and window, incremented by an upsert, so every instance counts the
-- same attempts.
CREATE TABLE rate_counters (
  bucket TEXT NOT NULL,
  window_start BIGINT NOT NULL,
  hits INTEGER NOT NULL,
  PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_counters_window_idx ON rate_counters (window_start);

-- The first-admin link, sealed with the secret key, so any instance can
-- print the same link while it is valid instead of replacing it.
ALTER TABLE one_time_tokens ADD COLUMN sealed_token TEXT;
