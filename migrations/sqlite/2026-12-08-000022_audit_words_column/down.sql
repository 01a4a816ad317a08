-- PostgreSQL stores the words of the details in a column from here; SQLite
-- keeps them in its full-text index (`audit_fts`): nothing to change.
SELECT 1;
