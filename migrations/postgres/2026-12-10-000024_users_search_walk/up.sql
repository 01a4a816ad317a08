-- A common word is searched by walking the list in its sort order and
-- testing each user's keys (src/users/store/list.rs, `pg_key_walk`). These
-- indexes carry the keys next to each sort, for live users only, so the
-- walk is an index-only scan that reads a row only for the page it returns.
CREATE INDEX users_live_created_keys_idx ON users (created_at, id) INCLUDE (search_keys) WHERE deleted_at IS NULL;
CREATE INDEX users_live_name_keys_idx ON users (name_sort, id) INCLUDE (search_keys) WHERE deleted_at IS NULL;
CREATE INDEX users_live_last_login_keys_idx ON users (last_login_sort, id) INCLUDE (search_keys) WHERE deleted_at IS NULL;
