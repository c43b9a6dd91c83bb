// Streamable HTTP for the stateless 2026-07-28 revision, served on the same route as the legacy
// eras and chosen per request (MCP-REQUIREMENTS items 69-75 and 104). This file owns the HTTP
// side only: which era a POST belongs to, the request-metadata headers checked against the body
// (MCP-Protocol-Version, Mcp-Method, Mcp-Name, Mcp-Param-*), status codes, request-scoped SSE
// streams and cancellation by closing them. The protocol itself is mcp::ModernServer's.
//
// Spec: MCP 2026-07-28 basic/transports/streamable-http.mdx.
#pragma once

#include <boost/json.hpp>

#include <memory>

#include "bastion/server.hpp"
#include "http/exchange.hpp"
#include "mcp/dispatcher.hpp"
#include "transport/mcp_endpoint.hpp"

namespace bastion::transport {

class ModernHttp {
 public:
  // Throws std::invalid_argument for malformed request-state keys in `options`.
  ModernHttp(std::shared_ptr<ServerDefinition> server, mcp::Dispatcher& dispatcher, const EndpointOptions& options);
  ~ModernHttp();
  ModernHttp(const ModernHttp&) = delete;
  ModernHttp& operator=(const ModernHttp&) = delete;

  // Whether a POST body takes the modern path. Legacy when the request names a session
  // (Mcp-Session-Id) or is a legacy initialize (params.protocolVersion); modern when its params
  // carry io.modelcontextprotocol/* `_meta`, or when nothing legacy identifies it and its
  // MCP-Protocol-Version header is not a legacy revision, or its method exists only on the
  // modern wire. Everything else stays legacy, so modern validation never touches legacy
  // clients and the other way round.
  static bool claims_post(const http::Request& request, const boost::json::value& body);
  // A GET or DELETE without a session from a client that announces a non-legacy revision: the
  // modern wire has neither, so 405 (streamable-http.mdx §Backward Compatibility).
  static bool claims_get_or_delete(const http::Request& request);

  // Serves a POST that claims_post() accepted; `body` is the parsed JSON, `principal` who the
  // bearer token names (null on routes without authentication).
  void handle_post(const std::shared_ptr<http::Exchange>& exchange, const boost::json::value& body,
                   std::shared_ptr<const Principal> principal = nullptr);
  void reject_get_or_delete(const std::shared_ptr<http::Exchange>& exchange);

  std::size_t subscription_count() const;
  // Refuses new requests and ends open subscriptions/listen streams gracefully.
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bastion::transport
