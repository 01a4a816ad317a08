DROP TABLE api_idempotency;
DROP TABLE api_key_months;
DROP TABLE api_key_usage;
DROP TABLE api_keys;
