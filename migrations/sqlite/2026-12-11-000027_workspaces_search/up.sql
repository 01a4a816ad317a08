-- PostgreSQL gets trigram indexes for the workspaces search here. SQLite
-- has no equivalent for '%…%' (its full-text index matches whole tokens,
-- not fragments), and a workspaces table is small enough to scan; the
-- migration exists so both engines keep the same history.
SELECT 1;
