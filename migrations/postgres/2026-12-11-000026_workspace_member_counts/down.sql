DROP TRIGGER workspace_member_counts ON workspace_members;
DROP FUNCTION workspace_member_counts();
ALTER TABLE workspaces DROP COLUMN manager_count;
ALTER TABLE workspaces DROP COLUMN member_count;
