#!/usr/bin/env bash
# Workspace screens benchmark: see bench/workspaces.py. Needs wrk (apt install wrk) and python3.
set -euo pipefail
command -v wrk >/dev/null || { echo "bench: wrk is not installed (apt install wrk)" >&2; exit 1; }
exec python3 "$(dirname "$0")/workspaces.py" "$@"
