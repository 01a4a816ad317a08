DELETE FROM role_permissions WHERE permission = 'users.password_reset';
UPDATE shared_state SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) WHERE name = 'roles_version';
