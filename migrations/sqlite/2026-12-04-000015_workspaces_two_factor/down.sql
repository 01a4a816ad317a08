DROP INDEX workspaces_created_idx;
DROP INDEX workspaces_name_idx;
DROP INDEX workspace_members_list_idx;
DELETE FROM role_permissions WHERE permission = 'workspace.read'
  AND role_id IN (SELECT role_id FROM role_permissions WHERE permission = 'workspaces.read');
ALTER TABLE workspaces DROP COLUMN two_factor_required;
