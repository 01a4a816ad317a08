-- SQLite's migration of this name adds covering indexes of live users'
-- keys for the walk a common word takes. PostgreSQL has none yet: its walk
-- reads each row (src/users/store/list.rs); an index-only walk would need
-- the cursor inside a subquery. Kept so both engines list the same steps.
SELECT 1;
