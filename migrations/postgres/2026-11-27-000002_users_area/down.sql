DROP TABLE outbox;
DROP TABLE comments;
DROP INDEX users_search_trgm_idx;
DROP INDEX users_status_created_idx;
DROP INDEX users_last_login_idx;
DROP INDEX users_name_sort_idx;
ALTER TABLE users DROP COLUMN erased_at;
ALTER TABLE users DROP COLUMN last_login_sort;
ALTER TABLE users DROP COLUMN name_sort;
