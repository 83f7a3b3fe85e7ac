#!/usr/bin/env bash
# Auth0's Deploy CLI and Node management SDK against two Gatehouse instances of the test's
# own (deploy.test.mjs). Installs the npm packages if missing.
#
#   GATEHOUSE_BIN=/path/to/gatehouse tests/deploy/run.sh
set -euo pipefail
cd "$(dirname "$0")"
: "${GATEHOUSE_BIN:?set GATEHOUSE_BIN to the gatehouse binary}"
[[ -x node_modules/.bin/a0deploy && -d node_modules/auth0 && -d node_modules/js-yaml ]] || npm ci --no-audit --no-fund
exec node --test --test-concurrency=1 ./*.test.mjs
