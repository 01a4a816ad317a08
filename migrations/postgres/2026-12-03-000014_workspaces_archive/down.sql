DROP INDEX audit_events_workspace_idx;
ALTER TABLE workspaces DROP COLUMN archived_at;
