ALTER TABLE workspaces DROP COLUMN archived_at;
