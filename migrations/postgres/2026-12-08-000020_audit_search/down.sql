DELETE FROM role_permissions WHERE permission = 'audit.export';
DROP INDEX audit_events_words_idx;
DROP INDEX audit_events_ip_missing_idx;
DROP INDEX audit_events_ip_idx;
ALTER TABLE audit_events DROP COLUMN ip_key;
DROP INDEX audit_events_client_idx;
DROP INDEX audit_events_actor_type_idx;
