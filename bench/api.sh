#!/usr/bin/env bash
# Machine API benchmark: see bench/api.py. Needs wrk (apt install wrk) and python3.
set -euo pipefail
command -v wrk >/dev/null || { echo "bench: wrk is not installed (apt install wrk)" >&2; exit 1; }
exec python3 "$(dirname "$0")/api.py" "$@"
