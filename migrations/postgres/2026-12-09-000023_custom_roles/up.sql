-- Custom roles take their ids from the sequence. The built-in roles were
-- inserted with explicit ids, which left the sequence at 1: move it past them.
SELECT setval('roles_id_seq', (SELECT MAX(id) FROM roles));
-- When a role was created or last edited (built-in roles: never).
ALTER TABLE roles ADD COLUMN updated_at TIMESTAMP;
