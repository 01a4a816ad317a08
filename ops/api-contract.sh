#!/usr/bin/env bash
# The machine API against its own OpenAPI document: starts the binary on a
# fresh SQLite database, makes a test key with every scope, and runs
# schemathesis (PyPI) over /api/v1/openapi.json with every check: any 5xx,
# any answer whose status, content type, headers or body the document does
# not describe, any bad input accepted, fails the run. One worker: with
# two, Python 3.11's ast module races in hypothesis (SystemError: AST
# constructor recursion depth mismatch), a tool error, not a finding.
#
# Needs: python3 with schemathesis (`pip install schemathesis`; installed
# here when missing), curl.
# Usage: ops/api-contract.sh   (builds the debug binary if needed)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v schemathesis >/dev/null 2>&1; then
  echo "==> installing schemathesis"
  python3 -m pip install --quiet schemathesis \
    || { echo "api-contract: cannot install schemathesis (pip install schemathesis)" >&2; exit 1; }
fi

cargo build --quiet
BIN="$PWD/target/debug/sowat-admin"
WORK="$(mktemp -d)"
PID=""
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
  [ -n "${FAKE_PID:-}" ] && kill "$FAKE_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
  if command -v redis-cli >/dev/null 2>&1; then
    redis-cli --scan --pattern "${BULL_PREFIX:-none}:*" | xargs -r redis-cli del >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
export SOWAT_DATABASE_URL="sqlite://$WORK/contract.db"
export SOWAT_LISTEN="127.0.0.1:$PORT"
export SOWAT_PUBLIC_URL="http://127.0.0.1:$PORT"
export SOWAT_LOG=warn
# Stripe is a local stand-in: the billing API is exercised end to end.
STRIPE_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
python3 ops/stripe_fake.py "$STRIPE_PORT" sk_test_contract &
FAKE_PID=$!
export SOWAT_STRIPE_SECRET_KEY=sk_test_contract
export SOWAT_STRIPE_API_BASE="http://127.0.0.1:$STRIPE_PORT"

# The jobs API on the local Redis, under a prefix of this run's own.
BULL_PREFIX="contract$$"
export SOWAT_REDIS_URL="redis://127.0.0.1:6379/0"
export SOWAT_BULLMQ_PREFIX="$BULL_PREFIX"

# A few users to find and an owner for the key.
"$BIN" --data-dir "$WORK" seed --bench --users 50 > "$WORK/seed.txt"
OWNER=$(sed -n 's/^ *email: *//p' "$WORK/seed.txt" | head -n 1)
[ -n "$OWNER" ] || { echo "api-contract: the seed printed no administrator:" >&2; cat "$WORK/seed.txt" >&2; exit 1; }
SECRET=$("$BIN" --data-dir "$WORK" create-api-key --name "contract test" --client-id contract-test \
  --owner "$OWNER" --scopes users:read,users:sync,usage:read,usage:write,billing:write,jobs:read,jobs:write,workspaces:read,workspaces:write --rate-per-minute 100000 --monthly-quota 1000000000 \
  | sed -n 's/^ *\(sowat_live_[A-Za-z0-9_-]*\)$/\1/p')
[ -n "$SECRET" ] || { echo "api-contract: no key was created" >&2; exit 1; }

"$BIN" --data-dir "$WORK" serve > "$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "api-contract: the server did not start:" >&2; cat "$WORK/server.log" >&2; exit 1; }

status=0
CONTRACT_KEY="$SECRET" SCHEMATHESIS_HOOKS="$PWD/ops/api_contract_hooks.py" \
  schemathesis --config-file ops/api-contract.toml run "http://127.0.0.1:$PORT/api/v1/openapi.json" \
  --checks all \
  --max-examples "${CONTRACT_EXAMPLES:-60}" \
  --seed "${CONTRACT_SEED:-20261203}" \
  --workers 1 \
  --no-color \
  --report-dir "$WORK/report" || status=$?
if [ "$status" -ne 0 ]; then
  echo "api-contract: schemathesis found answers outside the document (status $status); server log:" >&2
  grep -E 'ERROR|panicked' "$WORK/server.log" | head -n 40 >&2 || true
fi
exit "$status"
