// The stateless 2026-07-28 ("modern") revision, transport-agnostic: per-request `_meta`,
// server/discover, the modern method table, MRTR round trips, caching hints and
// subscriptions/listen. Transports validate their own framing (HTTP headers) and hand requests
// here; everything protocol-level about the modern era is decided in this file.
//
// Spec: MCP 2026-07-28 basic/index.mdx (§_meta, §Error Codes), basic/versioning.mdx,
// server/discover.mdx, server/utilities/caching.mdx, basic/patterns/{mrtr,subscriptions,
// cancellation}.mdx; MCP-REQUIREMENTS items 18-26, 29, 32, 34, 57, 58.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "bastion/server.hpp"
#include "core/result.hpp"
#include "jsonrpc/message.hpp"
#include "mcp/dispatcher.hpp"
#include "mcp/request_state.hpp"
#include "mcp/session.hpp"
#include "mcp/versions.hpp"

namespace bastion::mcp {

// Reserved per-request `_meta` keys (basic/index.mdx §Reserved keys).
inline constexpr std::string_view kMetaProtocolVersion = "io.modelcontextprotocol/protocolVersion";
inline constexpr std::string_view kMetaClientCapabilities = "io.modelcontextprotocol/clientCapabilities";
inline constexpr std::string_view kMetaClientInfo = "io.modelcontextprotocol/clientInfo";
inline constexpr std::string_view kMetaLogLevel = "io.modelcontextprotocol/logLevel";
inline constexpr std::string_view kMetaSubscriptionId = "io.modelcontextprotocol/subscriptionId";
inline constexpr std::string_view kMetaServerInfo = "io.modelcontextprotocol/serverInfo";

// Revisions served statelessly, newest first.
inline constexpr std::array<std::string_view, 1> kModernVersions = {kVersion2026_07_28};

inline bool is_modern_version(std::string_view v) {
  for (auto s : kModernVersions)
    if (s == v) return true;
  return false;
}

// Every revision this dual-era server speaks, modern first (legacy ones through initialize):
// server/discover `supportedVersions` and the `supported` list of -32022 (versioning.mdx).
json::array supported_versions();

// The per-request protocol fields of a modern request.
struct RequestMeta {
  std::string protocol_version;
  json::object client_capabilities;
  json::object client_info;
  std::optional<LogLevel> log_level;
};

// Reads params._meta. -32602 (HTTP 400) when `_meta`, its protocolVersion or its
// clientCapabilities is missing or of the wrong type, or when logLevel is not a level.
// The version is not checked against what is supported here (see unsupported_version()).
Result<RequestMeta> parse_request_meta(const json::object& params);

// The -32022 UnsupportedProtocolVersion error response, data {supported, requested}.
json::object unsupported_version(const std::optional<jsonrpc::Id>& id, std::string_view requested);

struct ModernOptions {
  // Caching hints (server/utilities/caching.mdx). Lists are also invalidated by list_changed
  // on subscriptions/listen streams, so a short freshness is enough.
  std::chrono::milliseconds discover_ttl{std::chrono::minutes(5)};
  std::chrono::milliseconds list_ttl{std::chrono::seconds(60)};
  // Handlers compute contents on every read; nothing says how long they stay valid.
  std::chrono::milliseconds read_ttl{0};
  // Open subscriptions/listen streams across all clients of the route.
  std::size_t max_subscriptions = 10000;
};

class SubscriptionRegistry;

// Serves modern requests on one route, over the route's Dispatcher.
class ModernServer {
 public:
  ModernServer(std::shared_ptr<ServerDefinition> server, Dispatcher& dispatcher,
               std::shared_ptr<const RequestStateSealer> sealer, ModernOptions options);
  ~ModernServer();
  ModernServer(const ModernServer&) = delete;
  ModernServer& operator=(const ModernServer&) = delete;

  // True for the methods of the modern wire. Everything else, including what 2026-07-28
  // removed (initialize, ping, logging/setLevel, resources/subscribe|unsubscribe), is -32601.
  static bool serves(std::string_view method);

  // Serves one request whose `_meta` parsed and whose version is supported (the transport
  // checked both, and its own framing). Exactly one response reaches `out` unless the request
  // is cancelled; a subscriptions/listen request gets its acknowledgement and notifications
  // instead, and a response only when the server ends it. Returns the cancellation: the
  // transport calls it when the client closes the response stream (cancellation.mdx), after
  // which nothing more is sent for the request. `principal` must outlive the request.
  std::function<void()> handle_request(jsonrpc::Request request, RequestMeta meta, const Principal* principal,
                                       std::shared_ptr<Outbound> out);

  // Ends every subscriptions/listen stream gracefully (its `complete` result), for shutdown.
  void end_subscriptions();
  std::size_t subscription_count() const;

  const ServerDefinition& server() const { return *server_; }

 private:
  json::object discover_result(const Principal* principal) const;
  std::function<void()> listen(const jsonrpc::Request& request, const Principal* principal,
                               std::shared_ptr<Outbound> out);

  std::shared_ptr<ServerDefinition> server_;
  Dispatcher& dispatcher_;
  std::shared_ptr<const RequestStateSealer> sealer_;
  ModernOptions options_;
  // Shared with the cancellations handed to transports, which may outlive this object.
  std::shared_ptr<SubscriptionRegistry> subscriptions_;
  std::once_flag server_info_once_;
  std::shared_ptr<const json::object> server_info_;
};

}  // namespace bastion::mcp
