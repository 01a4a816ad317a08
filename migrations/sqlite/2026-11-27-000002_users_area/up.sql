-- Sort keys kept by the application: lower-cased name (Unicode-aware, which
-- SQLite's lower() is not) and last sign-in with a floor instead of NULL, so
-- keyset pagination walks a plain (key, id) index.
ALTER TABLE users ADD COLUMN name_sort TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN last_login_sort TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
ALTER TABLE users ADD COLUMN erased_at TIMESTAMP;
UPDATE users SET name_sort = lower(name), last_login_sort = COALESCE(last_login_at, '1970-01-01 00:00:00');
CREATE INDEX users_name_sort_idx ON users (name_sort, id);
CREATE INDEX users_last_login_idx ON users (last_login_sort, id);
CREATE INDEX users_status_created_idx ON users (status, created_at, id);

-- Substring search over name, email and company: FTS5 with the trigram
-- tokenizer (case-insensitive), kept in step by triggers.
CREATE VIRTUAL TABLE users_fts USING fts5(doc, content='', contentless_delete=1, tokenize='trigram');
INSERT INTO users_fts (rowid, doc) SELECT id, name || ' ' || email || ' ' || company FROM users;
CREATE TRIGGER users_fts_insert AFTER INSERT ON users BEGIN
  INSERT INTO users_fts (rowid, doc) VALUES (new.id, new.name || ' ' || new.email || ' ' || new.company);
END;
CREATE TRIGGER users_fts_delete AFTER DELETE ON users BEGIN
  DELETE FROM users_fts WHERE rowid = old.id;
END;
CREATE TRIGGER users_fts_update AFTER UPDATE OF name, email, company ON users BEGIN
  DELETE FROM users_fts WHERE rowid = old.id;
  INSERT INTO users_fts (rowid, doc) VALUES (new.id, new.name || ' ' || new.email || ' ' || new.company);
END;

-- Internal notes (on a user now; jobs and incidents later). Never shown to the subject.
CREATE TABLE comments (
  id INTEGER PRIMARY KEY,
  subject_type TEXT NOT NULL CHECK (subject_type IN ('user', 'job', 'incident')),
  subject_id BIGINT NOT NULL,
  author_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
  author_label TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX comments_subject_idx ON comments (subject_type, subject_id, created_at);

-- Mail sent by the application (the development adapter only records it).
CREATE TABLE outbox (
  id INTEGER PRIMARY KEY,
  recipient TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  sent_at TIMESTAMP
);
