-- Archived workspaces stay readable and restorable; deleted ones are gone
-- from every list. BASE is neither (refused by the product).
ALTER TABLE workspaces ADD COLUMN archived_at TIMESTAMP;
-- A workspace's history, newest first, read from one index range.
CREATE INDEX audit_events_workspace_idx ON audit_events (workspace_id, id) WHERE workspace_id IS NOT NULL;
