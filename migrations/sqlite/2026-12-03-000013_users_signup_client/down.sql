ALTER TABLE users DROP COLUMN signup_client_id;
