-- A common word is searched by walking the list in its sort order and
-- testing each user's keys (src/users/store/list.rs, `WordsBy::RowTest`).
-- These indexes hold the keys next to each sort, for live users only, so
-- the walk tests index entries and reads a row only when it matches.
-- PostgreSQL walks its own way (the row's keys through the heap).
CREATE INDEX users_live_created_keys_idx ON users (created_at, id, search_keys) WHERE deleted_at IS NULL;
CREATE INDEX users_live_name_keys_idx ON users (name_sort, id, search_keys) WHERE deleted_at IS NULL;
CREATE INDEX users_live_last_login_keys_idx ON users (last_login_sort, id, search_keys) WHERE deleted_at IS NULL;
