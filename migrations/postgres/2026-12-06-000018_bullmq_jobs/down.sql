DROP TABLE job_alerts;
DROP TABLE job_alert_state;
DROP TABLE job_runs;
DROP TABLE job_minutes;
DROP TABLE job_failures;
DROP TABLE job_errors;
DROP TABLE job_stream_cursors;
