-- The workspace setting "require a second factor", kept beside the settings
-- JSON (written by the same change) so that loading a signed-in user, on
-- every request, reads it with the memberships without parsing JSON in SQL.
ALTER TABLE workspaces ADD COLUMN two_factor_required BOOLEAN NOT NULL DEFAULT FALSE;
-- Reading every workspace (the staff roles' workspaces.read) includes
-- reading each one, as its members do.
INSERT INTO role_permissions (role_id, permission)
  SELECT role_id, 'workspace.read' FROM role_permissions WHERE permission = 'workspaces.read';
-- Running instances reload the role tables.
UPDATE shared_state SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) WHERE name = 'roles_version';
-- A workspace's members page by page (managers first), from the cursor.
CREATE INDEX workspace_members_list_idx ON workspace_members (workspace_id, role, user_id);
-- The workspaces list in name order, read from the cursor on (no sort).
CREATE INDEX workspaces_name_idx ON workspaces (name, id) WHERE deleted_at IS NULL;
-- The same list newest or oldest first.
CREATE INDEX workspaces_created_idx ON workspaces (created_at, id) WHERE deleted_at IS NULL;
