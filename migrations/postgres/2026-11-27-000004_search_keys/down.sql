DROP INDEX users_search_keys_missing_idx;
DROP INDEX users_search_keys_idx;
DROP FUNCTION search_key_array(TEXT);
ALTER TABLE users DROP COLUMN search_keys;
