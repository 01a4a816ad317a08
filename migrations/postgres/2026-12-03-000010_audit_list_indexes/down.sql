DROP INDEX audit_events_actor_idx;
DROP INDEX audit_events_target_idx;
DROP INDEX audit_events_action_idx;
DROP INDEX audit_events_outcome_idx;
CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, at);
CREATE INDEX audit_events_target_idx ON audit_events (target_type, target_id, at);
CREATE INDEX audit_events_action_idx ON audit_events (action, at);
