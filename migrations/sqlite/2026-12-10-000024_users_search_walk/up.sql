-- A common word is searched by walking the list in its sort order and
-- testing each user's keys (src/users/store/list.rs, `WordsBy::RowTest`).
-- These indexes hold the keys next to each sort, for live users only, so
-- the walk tests index entries and reads a row only when it matches.
-- PostgreSQL walks its own way (the row's keys through the heap).
-- Keys are now capped at 32 a field (src/user_record/search_keys.rs) so
-- the column fits an index row; a longer column from before is cleared
-- here and computed again, capped, by the start-up backfill.
UPDATE users SET search_keys = NULL WHERE length(search_keys) > 2000;
CREATE INDEX users_live_created_keys_idx ON users (created_at, id, search_keys) WHERE deleted_at IS NULL;
CREATE INDEX users_live_name_keys_idx ON users (name_sort, id, search_keys) WHERE deleted_at IS NULL;
CREATE INDEX users_live_last_login_keys_idx ON users (last_login_sort, id, search_keys) WHERE deleted_at IS NULL;
