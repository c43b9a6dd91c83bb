#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run Bastion on its embedded
# default configuration (the demo tools at http://127.0.0.1:8080/mcp, loopback only).
# Extra arguments go to `bastion serve`, e.g.:  scripts/run-demo.sh --port 9000
# Stop it with Ctrl-C (SIGINT) or SIGTERM: it shuts down gracefully.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/setup.sh
scripts/build.sh

BIN="${BASTION_BUILD_DIR:-build}/apps/bastion/bastion"
echo "run-demo: starting $BIN serve $*"
echo "run-demo: in another terminal, try:"
echo "  scripts/inspector.sh http://127.0.0.1:8080/mcp --transport http --method tools/call --tool-name echo --tool-arg message=hello"
exec "$BIN" serve "$@"
