DROP TRIGGER workspace_member_counts_update;
DROP TRIGGER workspace_member_counts_delete;
DROP TRIGGER workspace_member_counts_insert;
ALTER TABLE workspaces DROP COLUMN manager_count;
ALTER TABLE workspaces DROP COLUMN member_count;
