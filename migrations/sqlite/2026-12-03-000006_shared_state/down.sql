ALTER TABLE one_time_tokens DROP COLUMN sealed_token;
DROP TABLE rate_counters;
DROP TABLE shared_state;
