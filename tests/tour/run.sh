#!/usr/bin/env bash
# Keeps the README's five-minute tour true: starts a fresh `gatehouse serve` (a temporary
# SQLite store, a free port, no admin credentials given, so that it prints its own as a
# newcomer's first start does) and runs the tour's ```sh blocks against it, in order,
# checking what each prints and logging in through the hosted page as a browser would
# (tour.py says how). Fails on the first step that is not as the README says.
#
#   tests/tour/run.sh            uses $GATEHOUSE_BIN (scripts/test sets it), else builds one
set -euo pipefail
cd "$(dirname "$0")/../.."

# The README's steps use curl and jq.
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq >/dev/null; }
if [[ -z "${GATEHOUSE_BIN:-}" ]]; then
  cargo build --locked --bin gatehouse
  GATEHOUSE_BIN="${CARGO_TARGET_DIR:-target}/debug/gatehouse"
fi

work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
mkdir "$work/tour"

# A newcomer's environment has no GATEHOUSE_* settings: drop the test run's.
unset_gatehouse_vars=()
for name in $(compgen -e | grep '^GATEHOUSE_' || true); do unset_gatehouse_vars+=(-u "$name"); done
env "${unset_gatehouse_vars[@]}" GATEHOUSE_LISTEN="127.0.0.1:$port" \
  GATEHOUSE_DATABASE_URL="sqlite://$work/gatehouse.db" GATEHOUSE_DATA_DIR="$work/data" \
  "$GATEHOUSE_BIN" serve >"$work/first-start.out" 2>"$work/server.log" &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; echo "tour: gatehouse exited" >&2; exit 1; }
  sleep 0.1
done

if ! python3 tests/tour/tour.py README.md "$base" "$work/first-start.out" "$work/tour"; then
  echo "---- gatehouse log ----" >&2
  tail -n 30 "$work/server.log" >&2
  exit 1
fi
