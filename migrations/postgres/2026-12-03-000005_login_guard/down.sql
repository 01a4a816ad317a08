ALTER TABLE users DROP COLUMN locked_until;
ALTER TABLE users DROP COLUMN login_window_start;
ALTER TABLE users DROP COLUMN login_failures;
