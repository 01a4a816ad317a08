-- The audit trail's filters by actor kind, app of origin, address or
-- network, and words in the details (issue 16), each answered by an index
-- in the list's order (newest first).
CREATE INDEX audit_events_actor_type_idx ON audit_events (actor_type, id);
CREATE INDEX audit_events_client_idx ON audit_events (client_id, id);

-- The address as 32 hex digits (IPv4 mapped into IPv6), so a network is a
-- range of this column (src/audit/address.rs), compared byte by byte
-- whatever the database's collation. Computed by the application; rows
-- from before are filled at start-up.
ALTER TABLE audit_events ADD COLUMN ip_key TEXT COLLATE "C";
CREATE INDEX audit_events_ip_idx ON audit_events (ip_key, id);
CREATE INDEX audit_events_ip_missing_idx ON audit_events (id) WHERE ip_key IS NULL AND ip IS NOT NULL;

-- Words of the details, split at anything but letters and digits as
-- SQLite's unicode61 tokenizer splits them, so both engines find the same
-- events. The query repeats this expression exactly (src/audit/words.rs).
CREATE INDEX audit_events_words_idx ON audit_events
  USING gin (to_tsvector('simple', regexp_replace(details, '[^[:alnum:]]+', ' ', 'g')));

-- Exporting the trail (CSV, JSON Lines) is its own permission, held by the
-- roles that may both read the trail and run exports.
INSERT INTO role_permissions (role_id, permission)
  SELECT a.role_id, 'audit.export' FROM role_permissions a
  JOIN role_permissions e ON e.role_id = a.role_id AND e.permission = 'exports.run'
  WHERE a.permission = 'audit.read';
