DROP INDEX users_status_type_created_idx;
DROP INDEX users_type_created_idx;
DROP INDEX users_status_created_idx;
CREATE INDEX users_status_type_created_idx ON users (status, user_type, created_at, id);
CREATE INDEX users_type_created_idx ON users (user_type, created_at, id);
CREATE INDEX users_status_created_idx ON users (status, created_at, id);
