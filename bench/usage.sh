#!/usr/bin/env bash
# Usage metering benchmark: see bench/usage.py. Needs wrk (apt install wrk), python3,
# and the sqlite3 or psql client for BENCH_DB.
set -euo pipefail
command -v wrk >/dev/null || { echo "bench: wrk is not installed (apt install wrk)" >&2; exit 1; }
exec python3 "$(dirname "$0")/usage.py" "$@"
