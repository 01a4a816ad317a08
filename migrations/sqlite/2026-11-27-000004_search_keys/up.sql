-- Word-start search keys (see src/users/search_keys.rs): computed by the
-- application as a JSON array of strings; NULL until computed (rows that
-- existed before this migration are filled at start-up).
ALTER TABLE users ADD COLUMN search_keys TEXT;

-- One row per key and user, kept in step with the column by triggers; a
-- prefix lookup is a range scan of the primary key.
CREATE TABLE user_search_keys (
  key TEXT NOT NULL,
  user_id INTEGER NOT NULL,
  PRIMARY KEY (key, user_id)
) WITHOUT ROWID;

CREATE TRIGGER users_search_keys_insert AFTER INSERT ON users WHEN new.search_keys IS NOT NULL BEGIN
  INSERT OR IGNORE INTO user_search_keys (key, user_id) SELECT value, new.id FROM json_each(new.search_keys);
END;
CREATE TRIGGER users_search_keys_update AFTER UPDATE OF search_keys ON users BEGIN
  DELETE FROM user_search_keys WHERE user_id = old.id AND key IN (SELECT value FROM json_each(coalesce(old.search_keys, '[]')));
  INSERT OR IGNORE INTO user_search_keys (key, user_id) SELECT value, new.id FROM json_each(coalesce(new.search_keys, '[]'));
END;
CREATE TRIGGER users_search_keys_delete AFTER DELETE ON users BEGIN
  DELETE FROM user_search_keys WHERE user_id = old.id AND key IN (SELECT value FROM json_each(coalesce(old.search_keys, '[]')));
END;

-- Rows still to be computed (empty once start-up has filled them), so the
-- check at each start does not scan the table.
CREATE INDEX users_search_keys_missing_idx ON users (id) WHERE search_keys IS NULL;
