DROP INDEX users_gone_created_idx;
DROP INDEX users_gone_name_sort_idx;
DROP INDEX users_gone_last_login_idx;
CREATE INDEX users_created_idx ON users (created_at, id);
CREATE INDEX users_name_sort_idx ON users (name_sort, id);
CREATE INDEX users_last_login_idx ON users (last_login_sort, id);
