-- Tamper evidence (issue 16): the audit events form one hash chain (see
-- src/audit/chain.rs). Events from before it get their links at start-up.
ALTER TABLE audit_events ADD COLUMN seq BIGINT;
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_events ADD COLUMN hash TEXT;
ALTER TABLE audit_events ADD COLUMN personal_digest TEXT;
ALTER TABLE audit_events ADD COLUMN personal_salt TEXT;
-- One link per place: a fork cannot be stored.
CREATE UNIQUE INDEX audit_events_seq_idx ON audit_events (seq);

-- The chain's head, locked by each writer; `base_*` is where the stored
-- chain starts (the genesis, or where a retention purge left it).
CREATE TABLE audit_chain (
  id BIGINT PRIMARY KEY CHECK (id = 1),
  head_seq BIGINT NOT NULL,
  head_hash TEXT NOT NULL,
  base_seq BIGINT NOT NULL,
  base_hash TEXT NOT NULL
);
INSERT INTO audit_chain (id, head_seq, head_hash, base_seq, base_hash) VALUES
  (1, 0, '0000000000000000000000000000000000000000000000000000000000000000',
   1, '0000000000000000000000000000000000000000000000000000000000000000');
