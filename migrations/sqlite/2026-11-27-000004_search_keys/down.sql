DROP INDEX users_search_keys_missing_idx;
DROP TRIGGER users_search_keys_delete;
DROP TRIGGER users_search_keys_update;
DROP TRIGGER users_search_keys_insert;
DROP TABLE user_search_keys;
ALTER TABLE users DROP COLUMN search_keys;
