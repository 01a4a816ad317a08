#!/usr/bin/env bash
# Audit trail benchmark: see bench/audit.py. Needs wrk (apt install wrk), python3 and sqlite3 or psql.
set -euo pipefail
command -v wrk >/dev/null || { echo "bench: wrk is not installed (apt install wrk)" >&2; exit 1; }
exec python3 "$(dirname "$0")/audit.py" "$@"
