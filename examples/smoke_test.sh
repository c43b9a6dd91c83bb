#!/bin/sh
# Talks to an example server over stdio: initialize, initialized, tools/list; passes when the
# server answered both requests with results (one JSON message per line on stdout).
set -eu
server="$1"
out=$(printf '%s\n' \
  '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"smoke","version":"1"}}}' \
  '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
  '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' | timeout 20 "$server")
echo "$out" | grep -q '"id":1,"result":{"protocolVersion":"2025-11-25"' || { echo "no initialize result: $out"; exit 1; }
echo "$out" | grep -q '"id":2,"result":{"tools":\[{' || { echo "no tools/list result: $out"; exit 1; }
echo "ok: $(echo "$out" | wc -l) messages"
