-- Status and type filtered together (the common support view: suspended
-- customers, internal staff) walk one index in creation order.
CREATE INDEX users_status_type_created_idx ON users (status, user_type, created_at, id);
CREATE INDEX users_type_created_idx ON users (user_type, created_at, id);
