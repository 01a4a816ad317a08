-- The account lockout as one atomic counter per user: each attempt takes
-- one unit in a single conditional UPDATE, so concurrent attempts cannot
-- all read "four failures" and all go through.
ALTER TABLE users ADD COLUMN login_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN login_window_start TIMESTAMP;
ALTER TABLE users ADD COLUMN locked_until TIMESTAMP;
