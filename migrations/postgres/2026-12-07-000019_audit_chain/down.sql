DROP TABLE audit_chain;
DROP INDEX audit_events_seq_idx;
ALTER TABLE audit_events DROP COLUMN personal_salt;
ALTER TABLE audit_events DROP COLUMN personal_digest;
ALTER TABLE audit_events DROP COLUMN hash;
ALTER TABLE audit_events DROP COLUMN prev_hash;
ALTER TABLE audit_events DROP COLUMN seq;
