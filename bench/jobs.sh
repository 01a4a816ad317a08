#!/usr/bin/env bash
# Jobs benchmark: see bench/jobs.py. Needs wrk, python3, redis-cli and sqlite3 or psql.
set -euo pipefail
command -v wrk >/dev/null || { echo "bench: wrk is not installed (apt install wrk)" >&2; exit 1; }
command -v redis-cli >/dev/null || { echo "bench: redis-cli is not installed (apt install redis-tools)" >&2; exit 1; }
exec python3 "$(dirname "$0")/jobs.py" "$@"
