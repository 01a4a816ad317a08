-- Every users list is either of live users or of deleted ones
-- (src/users/store/list.rs, the status filter). Live users are listed
-- through the users_live_*_keys indexes (migration 000024), which cover
-- the same sorts; the (sort, id) indexes over all users only gave the
-- planners a second, worse way to walk live users (SQLite chose
-- users_created_idx for a common word and read every row to test its
-- keys). Deleted users, a small share, get their own partial indexes,
-- so the "deleted" filter walks them instead of skipping every live row.
DROP INDEX users_created_idx;
DROP INDEX users_name_sort_idx;
DROP INDEX users_last_login_idx;
CREATE INDEX users_gone_created_idx ON users (created_at, id) WHERE deleted_at IS NOT NULL;
CREATE INDEX users_gone_name_sort_idx ON users (name_sort, id) WHERE deleted_at IS NOT NULL;
CREATE INDEX users_gone_last_login_idx ON users (last_login_sort, id) WHERE deleted_at IS NOT NULL;
