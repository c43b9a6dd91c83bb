// The MCP method table: turns JSON-RPC requests of one session into calls on the route's
// ServerDefinition. Transport-agnostic: transports hand it parsed messages and an Outbound.
#pragma once

#include <chrono>
#include <functional>
#include <string_view>
#include <memory>

#include "bastion/server.hpp"
#include "core/worker_pool.hpp"
#include "jsonrpc/message.hpp"
#include "mcp/session.hpp"

namespace bastion::mcp {

// What a list entry is, for the authorization filter of list results.
enum class ListedKind { tool, prompt, resource, resource_template };

struct DispatchOptions {
  std::chrono::milliseconds client_request_timeout{std::chrono::seconds(60)};
  int max_input_rounds = 8;        // multi-round handlers: rounds before giving up
  std::size_t page_size = 100;     // list pagination
  // Pipeline step 5 (DESIGN.md §2): when set, tools/list, prompts/list, resources/list and
  // resources/templates/list show a session only the entries this predicate allows for its
  // principal (name: tool/prompt name, resource URI or URI template). Unset: everything.
  std::function<bool(const Principal*, ListedKind, std::string_view name)> may_use;
};

// The serverInfo object of initialize (legacy) and server/discover (modern).
json::object server_info_json(const ServerInfo& info);

class Dispatcher {
 public:
  Dispatcher(std::shared_ptr<ServerDefinition> server, DispatchOptions options, core::WorkerPool& workers,
             core::TimerQueue& timers);
  ~Dispatcher();

  const ServerDefinition& server() const { return *server_; }

  // initialize (legacy): negotiates the version into the session and returns the result.
  Result<json::object> initialize(Session& session, const json::object& params);

  // Any other request. Exactly one response reaches `out` unless the call is cancelled.
  void handle_request(const std::shared_ptr<Session>& session, jsonrpc::Request request,
                      std::shared_ptr<Outbound> out);
  void handle_notification(const std::shared_ptr<Session>& session, const jsonrpc::Notification& note);
  // A client's answer to one of our server-to-client requests.
  void handle_response(const std::shared_ptr<Session>& session, const jsonrpc::Response& response);

  json::object capabilities() const;

 private:
  struct Impl;
  std::shared_ptr<ServerDefinition> server_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bastion::mcp
