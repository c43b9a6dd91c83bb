// One MCP route over HTTP: Streamable HTTP (2025-03-26 .. 2025-11-25, sessionful) at <path>,
// and the deprecated 2024-11-05 HTTP+SSE transport at <path>/sse + <path>/messages.
// The 2026-07-28 stateless revision is served on <path> too, chosen per request (modern_http.hpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "bastion/server.hpp"
#include "http/exchange.hpp"
#include "jsonrpc/message.hpp"
#include "mcp/dispatcher.hpp"

namespace bastion::telemetry {
class Telemetry;
}

namespace bastion::transport {

struct EndpointOptions {
  std::string path = "/mcp";
  // Sessions (MCP-REQUIREMENTS item 66; PEERS.md pain 2: reap idle sessions, cap their number).
  std::chrono::milliseconds session_idle_timeout{std::chrono::minutes(30)};
  std::size_t max_sessions = 10000;
  std::size_t max_sessions_per_client = 1000;  // keyed by principal, else by remote address
  // SSE
  std::chrono::milliseconds sse_keepalive{std::chrono::seconds(15)};
  std::size_t event_store_events_per_stream = 1000;
  // How long a handler waits for the client's answer to a server-to-client request.
  std::chrono::milliseconds client_request_timeout{std::chrono::seconds(60)};
  // Threads that run tool/resource/prompt handlers (handlers may block).
  std::size_t worker_threads = 8;

  // 2026-07-28 (stateless) requests, src/transport/modern_http.hpp.
  // AES-256 keys sealing MRTR requestState, each the standard base64 of 32 random bytes: the
  // first seals, every one opens (rotate by putting a new key first). Secrets: fill from secret
  // references, never literals. Empty: one random key per process, which only suits a single
  // instance (a retry reaching another instance fails verification).
  std::vector<std::string> request_state_keys;
  std::chrono::milliseconds request_state_ttl{std::chrono::minutes(10)};
  // Caching hints (ttlMs) of server/discover, the four list methods and resources/read.
  std::chrono::milliseconds discover_ttl{std::chrono::minutes(5)};
  std::chrono::milliseconds list_ttl{std::chrono::seconds(60)};
  std::chrono::milliseconds resource_read_ttl{0};
  // Open subscriptions/listen streams on the route.
  std::size_t max_subscriptions = 10000;

  // Pipeline step 5 (authorization), on protected routes. Called with the request's principal
  // for every JSON-RPC request once it is parsed, on every era (sessionful POST, batch,
  // 2024-11-05 messages, 2026-07-28 stateless), before it reaches the dispatcher; an answer
  // (403 insufficient_scope) is sent instead of dispatching.
  std::function<std::optional<http::Response>(const Principal*, const jsonrpc::Request&)> authorize;
  // List filtering (mcp::DispatchOptions::may_use).
  std::function<bool(const Principal*, mcp::ListedKind, std::string_view)> may_use;
  // Where session audit events go (session_created/session_ended); null: none. Request-level
  // telemetry needs no option: it rides on the observed Exchange (telemetry/telemetry.hpp).
  // Must outlive the endpoint.
  telemetry::Telemetry* telemetry = nullptr;
};

class McpEndpoint {
 public:
  McpEndpoint(std::shared_ptr<ServerDefinition> server, EndpointOptions options);
  ~McpEndpoint();
  McpEndpoint(const McpEndpoint&) = delete;
  McpEndpoint& operator=(const McpEndpoint&) = delete;

  const std::string& path() const;
  // True when this endpoint serves the request path (<path>, <path>/sse, <path>/messages).
  bool matches(const std::string& request_path) const;
  // Serves one exchange; Host/Origin checks have already run (http/guard), and on a protected
  // route authentication too: `principal` is who the bearer token names (null on routes
  // without authentication). Sessions and their streams are bound to the principal that
  // created them; another principal naming the session gets 404 (as an unknown session).
  void handle(std::shared_ptr<http::Exchange> exchange, std::shared_ptr<const Principal> principal = nullptr);

  std::size_t session_count() const;
  // Open 2026-07-28 subscriptions/listen streams.
  std::size_t subscription_count() const;
  // Stops accepting new sessions, ends open streams, waits for in-flight handlers.
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bastion::transport
