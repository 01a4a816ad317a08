-- The audit trail lists newest first by id, under any one filter: each
-- filter's index ends with the id, so a page is one bounded range read
-- backwards, whatever the depth (the former (filter, at) indexes made the
-- database sort every match for ORDER BY id).
DROP INDEX audit_events_actor_idx;
DROP INDEX audit_events_target_idx;
DROP INDEX audit_events_action_idx;
CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, id);
CREATE INDEX audit_events_target_idx ON audit_events (target_type, target_id, id);
CREATE INDEX audit_events_action_idx ON audit_events (action, id);
CREATE INDEX audit_events_outcome_idx ON audit_events (outcome, id);
