#!/usr/bin/env bash
# Property-based API testing: schemathesis generates requests from /api/v2/openapi.json
# (valid and invalid) against a running `gatehouse serve` on a fresh SQLite store, with an
# admin token, and fails on any 5xx or a response that breaks the documented schema.
#
#   GATEHOUSE_BIN=/path/to/gatehouse tests/schemathesis/run.sh
set -euo pipefail
cd "$(dirname "$0")"
bin="${GATEHOUSE_BIN:?set GATEHOUSE_BIN to the gatehouse binary}"
venv="${GATEHOUSE_VENV:-$HOME/.cache/gatehouse-venv}"
"$venv/bin/pip" install -q --disable-pip-version-check -r requirements.txt

work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
secret="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
GATEHOUSE_LISTEN="127.0.0.1:$port" GATEHOUSE_DATABASE_URL="sqlite://$work/gatehouse.db" \
  GATEHOUSE_ISSUER="$base/" GATEHOUSE_DATA_DIR="$work/data" \
  GATEHOUSE_ADMIN_CLIENT_ID=schemathesis-admin GATEHOUSE_ADMIN_CLIENT_SECRET="$secret" \
  GATEHOUSE_RATE_LIMITS__MANAGEMENT_PER_TOKEN_PER_MINUTE=1000000 \
  GATEHOUSE_RATE_LIMITS__AUTHENTICATION_PER_IP_PER_MINUTE=1000000 \
  "$bin" serve >"$work/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
token="$(curl -fsS -X POST "$base/oauth/token" -H 'content-type: application/json' \
  -d "{\"grant_type\":\"client_credentials\",\"client_id\":\"schemathesis-admin\",\"client_secret\":\"$secret\",\"audience\":\"$base/api/v2/\"}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"

status=0
"$venv/bin/st" run "$base/api/v2/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-25}" \
  --seed 1 \
  --no-color || status=$?
if [[ $status -ne 0 ]] || grep -q 'ERROR\|panicked' "$work/server.log"; then
  echo "---- gatehouse log (errors) ----" >&2
  grep -E 'ERROR|panicked' "$work/server.log" | head -50 >&2 || true
fi
exit $status
