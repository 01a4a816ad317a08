-- The workspaces list searches part of the name or the address
-- (src/workspaces/store.rs: lower(name) LIKE '%…%' OR slug LIKE '%…%').
-- Trigram indexes let a rare fragment be found without reading every
-- live workspace; a common one still walks the name order, the planner's
-- choice from the statistics.
CREATE INDEX workspaces_name_trgm_idx ON workspaces USING gin (lower(name) gin_trgm_ops) WHERE deleted_at IS NULL;
CREATE INDEX workspaces_slug_trgm_idx ON workspaces USING gin (slug gin_trgm_ops) WHERE deleted_at IS NULL;
