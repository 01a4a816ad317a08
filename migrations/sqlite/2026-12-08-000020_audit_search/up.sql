-- The audit trail's filters by actor kind, app of origin, address or
-- network, and words in the details (issue 16), each answered by an index
-- in the list's order (newest first).
CREATE INDEX audit_events_actor_type_idx ON audit_events (actor_type, id);
CREATE INDEX audit_events_client_idx ON audit_events (client_id, id);

-- The address as 32 hex digits (IPv4 mapped into IPv6), so a network is a
-- range of this column (src/audit/address.rs). Computed by the
-- application; rows from before are filled at start-up.
ALTER TABLE audit_events ADD COLUMN ip_key TEXT;
CREATE INDEX audit_events_ip_idx ON audit_events (ip_key, id);
CREATE INDEX audit_events_ip_missing_idx ON audit_events (id) WHERE ip_key IS NULL AND ip IS NOT NULL;

-- Words of the details: an index over the events' own column, kept in
-- step by triggers (the details change only when a person is erased).
-- Diacritics are kept, as PostgreSQL's `simple` configuration keeps them.
CREATE VIRTUAL TABLE audit_fts USING fts5(
  details, content = 'audit_events', content_rowid = 'id',
  tokenize = 'unicode61 remove_diacritics 0'
);
CREATE TRIGGER audit_fts_insert AFTER INSERT ON audit_events BEGIN
  INSERT INTO audit_fts (rowid, details) VALUES (new.id, new.details);
END;
CREATE TRIGGER audit_fts_update AFTER UPDATE OF details ON audit_events BEGIN
  INSERT INTO audit_fts (audit_fts, rowid, details) VALUES ('delete', old.id, old.details);
  INSERT INTO audit_fts (rowid, details) VALUES (new.id, new.details);
END;
CREATE TRIGGER audit_fts_delete AFTER DELETE ON audit_events BEGIN
  INSERT INTO audit_fts (audit_fts, rowid, details) VALUES ('delete', old.id, old.details);
END;
INSERT INTO audit_fts (audit_fts) VALUES ('rebuild');

-- Exporting the trail (CSV, JSON Lines) is its own permission, held by the
-- roles that may both read the trail and run exports.
INSERT INTO role_permissions (role_id, permission)
  SELECT a.role_id, 'audit.export' FROM role_permissions a
  JOIN role_permissions e ON e.role_id = a.role_id AND e.permission = 'exports.run'
  WHERE a.permission = 'audit.read';
