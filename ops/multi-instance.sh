#!/usr/bin/env bash
# Three instances on one PostgreSQL behind nginx (round-robin, no sticky
# sessions), checked from outside through the balancer by
# ops/multi_instance_check.py: sign-in with TOTP served by every instance,
# lockout and the per-address limit counted across instances, a session
# ended on one instance refused by the others, a role change holding
# everywhere within a second, housekeeping run once.
#
# Needs: PostgreSQL on 127.0.0.1:5432 (user postgres, trust), nginx, python3.
# Usage: ops/multi-instance.sh   (builds the debug binary if needed)
set -euo pipefail
cd "$(dirname "$0")/.."

PG_ADMIN_URL="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
for tool in nginx psql python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "multi-instance: '$tool' is missing (apt-get install nginx-light postgresql-client python3)" >&2; exit 1; }
done
psql "$PG_ADMIN_URL" -qtAc 'SELECT 1' >/dev/null 2>&1 \
  || { echo "multi-instance: PostgreSQL does not answer at $PG_ADMIN_URL" >&2; exit 1; }

cargo build --quiet
BIN="$PWD/target/debug/sowat-admin"
WORK="$(mktemp -d)"
DB="sowat_multi_$$"
DB_URL="${PG_ADMIN_URL%/*}/$DB"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  kill "$(cat "$WORK/nginx.pid" 2>/dev/null)" 2>/dev/null || true
  wait 2>/dev/null || true
  psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
LB_PORT=$(free_port)
psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $DB" >/dev/null

export SOWAT_DATABASE_URL="$DB_URL"
export SOWAT_SECRET_KEY="$(python3 -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())')"
export SOWAT_PUBLIC_URL="http://127.0.0.1:$LB_PORT"
export SOWAT_TRUSTED_PROXIES=1
export SOWAT_LOGIN_ATTEMPTS_PER_MINUTE=20
export SOWAT_HOUSEKEEPING_SECONDS=2
export SOWAT_POOL_SIZE=4
export SOWAT_LOG=warn

# Two administrators with known credentials (one browses, one is locked out).
"$BIN" --data-dir "$WORK/seed" seed --bench --users 40 > "$WORK/admin1.txt"
sleep 1.1
"$BIN" --data-dir "$WORK/seed" seed --bench --users 1 > "$WORK/admin2.txt"

UPSTREAMS=""
for name in a b c; do
  port=$(free_port)
  SOWAT_INSTANCE_NAME="$name" SOWAT_LISTEN="127.0.0.1:$port" \
    "$BIN" --data-dir "$WORK/$name" serve > "$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  UPSTREAMS="$UPSTREAMS server 127.0.0.1:$port;"
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || { echo "instance $name did not start:" >&2; cat "$WORK/$name.log" >&2; exit 1; }
done

mkdir -p "$WORK/nginx"
cat > "$WORK/nginx.conf" <<CONF
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx;
  proxy_temp_path $WORK/nginx;
  fastcgi_temp_path $WORK/nginx;
  uwsgi_temp_path $WORK/nginx;
  scgi_temp_path $WORK/nginx;
  upstream sowat { $UPSTREAMS }
  server {
    listen 127.0.0.1:$LB_PORT;
    location / {
      proxy_pass http://sowat;
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_next_upstream off;
    }
  }
}
CONF
nginx -c "$WORK/nginx.conf" -p "$WORK" -g 'daemon off;' &
PIDS+=($!)
for _ in $(seq 1 50); do
  curl -fs "http://127.0.0.1:$LB_PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done

python3 ops/multi_instance_check.py "http://127.0.0.1:$LB_PORT" "$WORK/admin1.txt" "$WORK/admin2.txt" "$DB_URL"
