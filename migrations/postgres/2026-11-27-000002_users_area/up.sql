-- Sort keys kept by the application (see the SQLite twin for why).
ALTER TABLE users ADD COLUMN name_sort TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN last_login_sort TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
ALTER TABLE users ADD COLUMN erased_at TIMESTAMP;
UPDATE users SET name_sort = lower(name), last_login_sort = COALESCE(last_login_at, '1970-01-01 00:00:00');
CREATE INDEX users_name_sort_idx ON users (name_sort, id);
CREATE INDEX users_last_login_idx ON users (last_login_sort, id);
CREATE INDEX users_status_created_idx ON users (status, created_at, id);

-- Substring search over name, email and company: a trigram GIN index on
-- the same expression the query uses.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_search_trgm_idx ON users USING gin ((lower(name || ' ' || email || ' ' || company)) gin_trgm_ops);

CREATE TABLE comments (
  id BIGSERIAL PRIMARY KEY,
  subject_type TEXT NOT NULL CHECK (subject_type IN ('user', 'job', 'incident')),
  subject_id BIGINT NOT NULL,
  author_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
  author_label TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX comments_subject_idx ON comments (subject_type, subject_id, created_at);

CREATE TABLE outbox (
  id BIGSERIAL PRIMARY KEY,
  recipient TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  sent_at TIMESTAMP
);
