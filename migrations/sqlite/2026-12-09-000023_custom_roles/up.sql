-- When a role was created or last edited (built-in roles: never).
ALTER TABLE roles ADD COLUMN updated_at TIMESTAMP;
