-- The backoffice's own durable tasks: long work (bulk changes, exports,
-- purges, mail delivery) runs outside the request, on any instance, and
-- resumes after a crash from its last committed checkpoint.
CREATE TABLE tasks (
  id BIGSERIAL PRIMARY KEY,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'queued'
    CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  run_at TIMESTAMP NOT NULL,
  -- The worker holding the task and until when; an expired lease makes the
  -- task claimable again.
  lease_owner TEXT,
  lease_until TIMESTAMP,
  -- Where to resume, committed with the work it describes.
  checkpoint TEXT,
  done BIGINT NOT NULL DEFAULT 0,
  total BIGINT,
  errors BIGINT NOT NULL DEFAULT 0,
  step TEXT NOT NULL DEFAULT '',
  last_error TEXT,
  result TEXT,
  cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
  created_by BIGINT REFERENCES users (id),
  -- Scheduled work carries its slot ("purge@2026-12-03T05"), so two
  -- schedulers cannot enqueue it twice.
  dedupe_key TEXT UNIQUE,
  created_at TIMESTAMP NOT NULL,
  started_at TIMESTAMP,
  finished_at TIMESTAMP
);
CREATE INDEX tasks_due_idx ON tasks (state, run_at);
CREATE INDEX tasks_creator_idx ON tasks (created_by, id);

-- What a task produced, in order: the chunks of an export file, or the
-- records a bulk change left alone and why.
CREATE TABLE task_outputs (
  task_id BIGINT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (task_id, seq)
);
