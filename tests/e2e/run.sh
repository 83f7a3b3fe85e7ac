#!/usr/bin/env bash
# End-to-end test: starts `gatehouse serve` on a free port with a fresh SQLite file,
# creates a client and a user through the Management API, and runs the node tests
# (openid-client + headless Chromium; the admin console with axe-core). Installs Chromium and
# the npm packages if missing. Console screenshots land in E2E_ARTIFACTS (default ./artifacts).
#
#   GATEHOUSE_BIN=/path/to/gatehouse tests/e2e/run.sh
set -euo pipefail
cd "$(dirname "$0")"
bin="${GATEHOUSE_BIN:?set GATEHOUSE_BIN to the gatehouse binary}"

if [[ ! -x /usr/bin/chromium ]]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [[ ! -d node_modules/openid-client || ! -d node_modules/playwright-core || ! -d node_modules/jose || ! -d node_modules/oidc-provider || ! -d node_modules/@auth0/auth0-spa-js || ! -d node_modules/axe-core || ! -d node_modules/auth0-lock || ! -d node_modules/auth0-js || ! -d node_modules/esbuild ]]; then
  npm ci --no-audit --no-fund
fi

work="$(mktemp -d)"
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
port="$(free_port)"
export E2E_APP_ORIGIN="http://127.0.0.1:$(free_port)"
export GATEHOUSE_LISTEN="127.0.0.1:$port"
export GATEHOUSE_DATABASE_URL="sqlite://$work/gatehouse.db"
export GATEHOUSE_ISSUER="http://127.0.0.1:$port/"
export GATEHOUSE_DATA_DIR="$work/data"
# Email goes to the file outbox, where the sign-up and reset tests read their links.
export E2E_OUTBOX="$work/data/outbox"
export GATEHOUSE_ADMIN_CLIENT_ID="e2e-admin"
export GATEHOUSE_ADMIN_CLIENT_SECRET="$(node -e 'console.log(require("crypto").randomBytes(32).toString("hex"))')"
# The admin console's first administrator (console.test.mjs signs in as them).
export GATEHOUSE_CONSOLE_ADMIN_EMAIL="console.admin@example.com"
export GATEHOUSE_CONSOLE_ADMIN_PASSWORD="Console-Admin-Correct-Horse-3!"
# Screenshots of the console's pages, kept after the run.
export E2E_ARTIFACTS="${E2E_ARTIFACTS:-$PWD/artifacts}"
# The upstream OpenID provider of the social sign-in test (oidc-provider, upstream-op.mjs).
upstream_port="$(free_port)"
export E2E_UPSTREAM_ORIGIN="http://127.0.0.1:$upstream_port"
export E2E_UPSTREAM_SECRET="$(node -e 'console.log(require("crypto").randomBytes(24).toString("hex"))')"

env -u GATEHOUSE_BIN "$bin" serve >"$work/server.log" 2>&1 &
pid=$!
node upstream-op.mjs "$upstream_port" >"$work/upstream.log" 2>&1 &
upstream_pid=$!
cleanup() {
  kill "$pid" "$upstream_pid" 2>/dev/null || true
  wait "$pid" "$upstream_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  if curl -fsS "${GATEHOUSE_ISSUER}readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$work/server.log" >&2; echo "gatehouse exited" >&2; exit 1; fi
  sleep 0.1
done

for _ in $(seq 1 100); do
  if curl -fsS "$E2E_UPSTREAM_ORIGIN/.well-known/openid-configuration" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$upstream_pid" 2>/dev/null; then cat "$work/upstream.log" >&2; echo "upstream provider exited" >&2; exit 1; fi
  sleep 0.1
done

node setup.mjs "$work/fixture.json"
status=0
# E2E_TESTS picks some test files (e.g. "console.test.mjs"); all run by default.
E2E_FIXTURE="$work/fixture.json" node --test --test-concurrency=1 ${E2E_TESTS:-./*.test.mjs} || status=$?
if [[ $status -ne 0 ]]; then
  echo "---- gatehouse log ----" >&2
  tail -n 50 "$work/server.log" >&2
fi
exit $status
