-- What each person chose for their own screens (columns shown, page
-- size): one row per preference, kept across devices.
CREATE TABLE user_preferences (
  user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  PRIMARY KEY (user_id, name)
);
