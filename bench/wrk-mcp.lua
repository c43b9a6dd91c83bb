-- wrk script for bench/run.sh: POSTs JSON-RPC tools/call requests of the `echo` tool.
-- Each request gets its own JSON-RPC id (ids must not repeat while in flight).
--
-- MCP_WIRE=session (default): the sessionful Streamable HTTP wire; MCP_SESSION is the
--   Mcp-Session-Id (optional, for servers without sessions) and MCP_VERSION defaults to 2025-06-18.
-- MCP_WIRE=stateless: the 2026-07-28 wire, with no session. Every request carries what that
--   revision requires: the MCP-Protocol-Version, Mcp-Method and Mcp-Name headers, and in
--   params._meta the protocol version and the client capabilities (MCP-REQUIREMENTS items 18
--   and 71); MCP_VERSION defaults to 2026-07-28.
-- ECHO_MESSAGE: the text to echo (default "hello").
-- MCP_AUTHORIZATION: an Authorization header value ("Bearer ...") for protected routes.
--
-- The last line it prints is machine-readable:
--   RESULT rps=... p50_ms=... p99_ms=... requests=... errors=... non2xx=... timeouts=...

local stateless = os.getenv("MCP_WIRE") == "stateless"
local session = os.getenv("MCP_SESSION") or ""
local version = os.getenv("MCP_VERSION") or (stateless and "2026-07-28" or "2025-06-18")
local message = os.getenv("ECHO_MESSAGE") or "hello"
local authorization = os.getenv("MCP_AUTHORIZATION") or ""

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
  if authorization ~= "" then wrk.headers["Authorization"] = authorization end
  if stateless then
    wrk.headers["Mcp-Method"] = "tools/call"
    wrk.headers["Mcp-Name"] = "echo"
  elseif session ~= "" then
    wrk.headers["Mcp-Session-Id"] = session
  end
end

function request()
  counter = counter + 1
  -- tid is set per thread by setup(); ids stay below 2^31 for up to 20 threads.
  local id = (tid or 1) * 100000000 + counter
  local meta = ""
  if stateless then
    meta = string.format(
      ',"_meta":{"io.modelcontextprotocol/protocolVersion":"%s","io.modelcontextprotocol/clientCapabilities":{}}',
      version)
  end
  local body = string.format(
    '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"message":"%s"}%s}}',
    id, message, meta)
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
