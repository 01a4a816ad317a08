-- BullMQ supervision (issue 15): what the backoffice keeps of sowat.io's
-- queues, read from each queue's event stream (<prefix>:<queue>:events).

-- Where the follower stopped in each stream. It advances in the same
-- transaction as what it recorded, and only from the id it read (a second
-- follower finds it moved and drops its batch): each event counts once.
CREATE TABLE job_stream_cursors (
  queue TEXT PRIMARY KEY,
  last_id TEXT NOT NULL,
  updated_at TIMESTAMP NOT NULL
);

-- One row per distinct error of a queue: the message with its numbers,
-- ids and hex folded ("OpenAI timeout after #ms"), so failures group by
-- cause and an error-text search reads this small table, not every failure.
CREATE TABLE job_errors (
  id INTEGER PRIMARY KEY,
  queue TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  message TEXT NOT NULL,
  failures BIGINT NOT NULL,
  first_at TIMESTAMP NOT NULL,
  last_at TIMESTAMP NOT NULL,
  UNIQUE (queue, fingerprint)
);
CREATE INDEX job_errors_last_idx ON job_errors (last_at);

-- Every failed attempt, kept after BullMQ trims the job (removeOnFail).
-- `dedupe` (queue, job, its creation time, attempt) makes a second record
-- of the same attempt a no-op. Newest first by id, one index per filter.
CREATE TABLE job_failures (
  id INTEGER PRIMARY KEY,
  queue TEXT NOT NULL,
  job_id TEXT NOT NULL,
  job_name TEXT NOT NULL,
  user_id BIGINT,
  error_id BIGINT NOT NULL REFERENCES job_errors (id),
  message TEXT NOT NULL,
  stacktrace TEXT,
  attempt INTEGER NOT NULL,
  failed_at TIMESTAMP NOT NULL,
  job_created_at TIMESTAMP,
  payload TEXT NOT NULL,
  dedupe TEXT NOT NULL UNIQUE
);
CREATE INDEX job_failures_user_idx ON job_failures (user_id, id) WHERE user_id IS NOT NULL;
CREATE INDEX job_failures_error_idx ON job_failures (error_id, id);
CREATE INDEX job_failures_queue_idx ON job_failures (queue, id);
CREATE INDEX job_failures_name_idx ON job_failures (job_name, id);
CREATE INDEX job_failures_at_idx ON job_failures (failed_at);
CREATE INDEX job_failures_job_idx ON job_failures (queue, job_id);

-- Finished jobs per queue and minute (unix minutes), with histograms of
-- wait and run times (counts per bucket of docs in src/jobs/stats.rs).
CREATE TABLE job_minutes (
  queue TEXT NOT NULL,
  minute BIGINT NOT NULL,
  completed BIGINT NOT NULL,
  failed BIGINT NOT NULL,
  wait_hist TEXT NOT NULL,
  run_hist TEXT NOT NULL,
  PRIMARY KEY (queue, minute)
);

-- Finished jobs of a sowat.io user (their payload's userId), for the user
-- page's jobs section; kept 30 days by housekeeping.
CREATE TABLE job_runs (
  id INTEGER PRIMARY KEY,
  queue TEXT NOT NULL,
  job_id TEXT NOT NULL,
  job_name TEXT NOT NULL,
  user_id BIGINT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('completed', 'failed')),
  finished_at TIMESTAMP NOT NULL,
  dedupe TEXT NOT NULL UNIQUE
);
CREATE INDEX job_runs_user_idx ON job_runs (user_id, id);
CREATE INDEX job_runs_finished_idx ON job_runs (finished_at);

-- Alert rules per queue (settings in shared_state 'jobs.alerts'): where
-- each rule stands. A breach is sent when the row turns firing, a recovery
-- when it turns back, both by a compare-and-set on the row, so two
-- instances evaluating at once send one message. `pending_since`: when
-- the condition was first seen (a rule may need it to last).
CREATE TABLE job_alert_state (
  queue TEXT NOT NULL,
  rule TEXT NOT NULL,
  firing BOOLEAN NOT NULL,
  notified BOOLEAN NOT NULL,
  pending_since TIMESTAMP,
  last_sent_at TIMESTAMP,
  PRIMARY KEY (queue, rule)
);

-- Every alert sent (breach, recovery, test) with its figures.
CREATE TABLE job_alerts (
  id INTEGER PRIMARY KEY,
  queue TEXT NOT NULL,
  rule TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('breach', 'recovery', 'test')),
  figures TEXT NOT NULL,
  message TEXT NOT NULL,
  delivery TEXT NOT NULL,
  at TIMESTAMP NOT NULL
);
