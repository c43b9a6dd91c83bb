// One MCP route over HTTP: Streamable HTTP (2025-03-26 .. 2025-11-25, sessionful) at <path>,
// and the deprecated 2024-11-05 HTTP+SSE transport at <path>/sse + <path>/messages.
// (The 2026-07-28 stateless revision joins here too; it is chosen per request.)
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "bastion/server.hpp"
#include "http/exchange.hpp"

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
  // Serves one exchange; Host/Origin checks have already run (http/guard).
  void handle(std::shared_ptr<http::Exchange> exchange);

  std::size_t session_count() const;
  // Stops accepting new sessions, ends open streams, waits for in-flight handlers.
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bastion::transport
