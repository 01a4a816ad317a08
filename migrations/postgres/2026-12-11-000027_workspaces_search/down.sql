DROP INDEX workspaces_slug_trgm_idx;
DROP INDEX workspaces_name_trgm_idx;
