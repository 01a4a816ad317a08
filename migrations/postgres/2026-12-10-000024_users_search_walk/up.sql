-- A common word is searched by walking the list in its sort order and
-- testing each user's keys (src/users/store/list.rs, `pg_key_walk`). These
-- indexes carry the keys next to each sort, for live users only, so the
-- walk is an index-only scan that reads a row only for the page it returns.
-- Keys are now capped at 32 a field (src/user_record/search_keys.rs) so
-- the column fits an index row; a longer column from before is cleared
-- here and computed again, capped, by the start-up backfill.
UPDATE users SET search_keys = NULL WHERE length(search_keys) > 2000;
CREATE INDEX users_live_created_keys_idx ON users (created_at, id) INCLUDE (search_keys) WHERE deleted_at IS NULL;
CREATE INDEX users_live_name_keys_idx ON users (name_sort, id) INCLUDE (search_keys) WHERE deleted_at IS NULL;
CREATE INDEX users_live_last_login_keys_idx ON users (last_login_sort, id) INCLUDE (search_keys) WHERE deleted_at IS NULL;
