-- A person's named filters of a screen (the audit trail first): the
-- screen's query string, kept across devices.
CREATE TABLE saved_views (
  id BIGSERIAL PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  screen TEXT NOT NULL,
  name TEXT NOT NULL,
  query TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX saved_views_name_idx ON saved_views (user_id, screen, name);
