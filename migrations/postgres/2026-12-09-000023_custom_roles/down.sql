ALTER TABLE roles DROP COLUMN updated_at;
