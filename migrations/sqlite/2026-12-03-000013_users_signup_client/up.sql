-- The application a user signed up in (the client id of the API key that
-- created them through sync); NULL for users created in the backoffice.
ALTER TABLE users ADD COLUMN signup_client_id TEXT;
