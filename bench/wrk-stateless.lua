-- wrk script for bench/run.sh, the modern path: POSTs a stateless 2026-07-28 tools/call of
-- `echo`, with no session. Every request carries what that revision requires: the
-- MCP-Protocol-Version, Mcp-Method and Mcp-Name headers, and in params._meta the protocol
-- version and the client capabilities (MCP-REQUIREMENTS items 18 and 71). Each request gets its
-- own JSON-RPC id.
-- Environment: MCP_VERSION (default 2026-07-28), ECHO_MESSAGE (default "hello").
-- The last line it prints is machine-readable, as in wrk-mcp.lua:
--   RESULT rps=... p50_ms=... p99_ms=... requests=... errors=... non2xx=... timeouts=...

local version = os.getenv("MCP_VERSION") or "2026-07-28"
local message = os.getenv("ECHO_MESSAGE") or "hello"

local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
end

local counter = 0
function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json, text/event-stream"
  wrk.headers["MCP-Protocol-Version"] = version
  wrk.headers["Mcp-Method"] = "tools/call"
  wrk.headers["Mcp-Name"] = "echo"
end

function request()
  counter = counter + 1
  -- tid is set per thread by setup(); ids stay below 2^31 for up to 20 threads.
  local id = (tid or 1) * 100000000 + counter
  local body = string.format(
    '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"message":"%s"},' ..
    '"_meta":{"io.modelcontextprotocol/protocolVersion":"%s","io.modelcontextprotocol/clientCapabilities":{}}}}',
    id, message, version)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local secs = summary.duration / 1000000
  local e = summary.errors
  io.write(string.format(
    "RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d errors=%d non2xx=%d timeouts=%d\n",
    summary.requests / secs,
    latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    summary.requests,
    e.connect + e.read + e.write + e.timeout,
    e.status,
    e.timeout))
end
