DROP TRIGGER audit_fts_delete;
DROP TRIGGER audit_fts_update;
DROP TRIGGER audit_fts_insert;
DROP TABLE audit_fts;
DROP INDEX audit_events_ip_missing_idx;
DROP INDEX audit_events_ip_idx;
ALTER TABLE audit_events DROP COLUMN ip_key;
DROP INDEX audit_events_client_idx;
DROP INDEX audit_events_actor_type_idx;
