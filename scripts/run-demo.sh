#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run Bastion on its embedded
# default configuration (the demo tools at http://127.0.0.1:8080/mcp, loopback only, behind the embedded
# OAuth 2.1 authorization server; the first start prints the admin password once).
# Extra arguments go to `bastion serve`, e.g.:  scripts/run-demo.sh --port 9000
# Stop it with Ctrl-C (SIGINT) or SIGTERM: it shuts down gracefully.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/setup.sh
scripts/build.sh

BIN="${BASTION_BUILD_DIR:-build}/apps/bastion/bastion"
echo "run-demo: starting $BIN serve $*"
echo "run-demo: the route is protected by the embedded OAuth authorization server; in another terminal, try:"
echo "  TOKEN=\"\$(scripts/login.sh http://127.0.0.1:8080/mcp)\"    # prints a sign-in URL to open in a browser"
echo "  scripts/inspector.sh http://127.0.0.1:8080/mcp --transport http --header \"Authorization: Bearer \$TOKEN\" \\"
echo "      --method tools/call --tool-name echo --tool-arg message=hello"
echo "run-demo: (with --port N, use that port in the URLs)"
exec "$BIN" serve "$@"
