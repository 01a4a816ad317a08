DROP INDEX audit_events_words_idx;
ALTER TABLE audit_events DROP COLUMN details_words;
CREATE INDEX audit_events_words_idx ON audit_events
  USING gin (to_tsvector('simple', regexp_replace(details, '[^[:alnum:]]+', ' ', 'g')));
