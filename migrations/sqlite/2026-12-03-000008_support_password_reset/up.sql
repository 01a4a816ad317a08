-- Sending a password-reset link is a daily support task: its own
-- permission, granted to Administrators and Support.
INSERT INTO role_permissions (role_id, permission)
  SELECT id, 'users.password_reset' FROM roles WHERE key IN ('admin', 'support');
-- Running instances reload the role tables.
UPDATE shared_state SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) WHERE name = 'roles_version';
