-- The words of the details stored once per event (a generated column)
-- rather than recomputed for every row a search walks: a search that walks
-- the newest events checks each one's stored words (see src/audit/query.rs,
-- src/audit/words.rs). Split as SQLite's unicode61 tokenizer splits.
DROP INDEX audit_events_words_idx;
ALTER TABLE audit_events ADD COLUMN details_words tsvector
  GENERATED ALWAYS AS (to_tsvector('simple', regexp_replace(details, '[^[:alnum:]]+', ' ', 'g'))) STORED;
CREATE INDEX audit_events_words_idx ON audit_events USING gin (details_words);
