-- Word-start search keys (see src/users/search_keys.rs): computed by the
-- application as a JSON array of strings; NULL until computed (rows that
-- existed before this migration are filled at start-up).
ALTER TABLE users ADD COLUMN search_keys TEXT;

-- The keys as an array, for the index expression (no subquery allowed there).
CREATE FUNCTION search_key_array(keys TEXT) RETURNS TEXT[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $$ SELECT ARRAY(SELECT jsonb_array_elements_text(keys::jsonb)) $$;

-- A tsvector of raw keys (no parsing, no stemming): a prefix query
-- ('sylvie.gui':*) walks only the matching keys of the GIN index.
CREATE INDEX users_search_keys_idx ON users USING gin (array_to_tsvector(search_key_array(search_keys)));

-- Rows still to be computed (empty once start-up has filled them), so the
-- check at each start does not scan the table.
CREATE INDEX users_search_keys_missing_idx ON users (id) WHERE search_keys IS NULL;
