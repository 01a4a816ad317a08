-- Archived workspaces stay readable and restorable; deleted ones are gone
-- from every list. BASE is neither (refused by the product).
ALTER TABLE workspaces ADD COLUMN archived_at TIMESTAMP;
