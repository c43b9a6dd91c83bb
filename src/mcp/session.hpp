// One client's conversation with a route. On the legacy wire (2024-11-05 .. 2025-11-25) it
// lives from initialize to DELETE/reaping; a modern (2026-07-28) request gets a short-lived
// session built from its own _meta, so the dispatcher has one model for both eras.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "bastion/server.hpp"
#include "core/result.hpp"
#include "jsonrpc/message.hpp"

namespace bastion::mcp {

namespace json = boost::json;

// Where the dispatcher sends what belongs to one inbound request: its notifications, its
// server-to-client requests and finally its response. Implemented by each transport.
class Outbound {
 public:
  virtual ~Outbound() = default;
  virtual void send(json::object message) = 0;
  // The final response; nothing is sent for the request after it.
  virtual void respond(json::object response) = 0;
  // SEP-1699 polling: end the current connection after what was sent, keep the request going.
  virtual void close_for_polling(std::chrono::milliseconds retry) {}
  // The request was cancelled: no response will come; end whatever waits for one.
  virtual void abandon() {}
  // The W3C trace context of the request this outbound answers, as MCP `_meta` fields
  // (traceparent, tracestate, baggage); empty when the transport does not trace.
  virtual json::object trace_meta() const { return {}; }
  // The dispatcher found the tool a tools/call names in the server's catalogue. Telemetry labels
  // the call's metrics with the tool's name only then (a client's made-up names would otherwise
  // create unbounded series); the lookup is the dispatcher's, made once.
  virtual void tool_found() {}
  // Who sent this request, when it differs from the session's creator in what it holds (a
  // newer token of the same subject, with other scopes or expiry). Null: the session's
  // principal. Lives as long as the Outbound.
  virtual const Principal* caller() const { return nullptr; }
};

class CallContext;

// A modern (2026-07-28) multi-round request: what the client sent back from the previous round
// (requestState already verified and unsealed) and how to seal the state of the next one
// (basic/patterns/mrtr.mdx). Only the ephemeral session of a modern tools/call, prompts/get or
// resources/read carries one.
struct RoundTrip {
  json::object input_responses;
  std::optional<std::string> request_state;
  std::function<std::string(std::string_view state)> seal;
};

class Session : public CatalogueObserver, public std::enable_shared_from_this<Session> {
 public:
  using Clock = std::chrono::steady_clock;
  using ClientReply = std::function<void(Result<json::value>)>;

  explicit Session(std::string id) : id_(std::move(id)), last_activity_(Clock::now()) {}

  const std::string& id() const { return id_; }

  // Negotiated at initialize (legacy) or taken from the request's _meta (modern).
  std::string protocol_version;
  json::object client_capabilities;
  json::object client_info;
  bool modern = false;
  std::string owner;  // principal or remote address: who may use this session
  const Principal* principal = nullptr;
  std::shared_ptr<const RoundTrip> round_trip;  // modern multi-round requests only

  bool initialized() const { return initialized_.load(); }
  void mark_initialized() { initialized_ = true; }
  bool initialize_seen() const { return initialize_seen_.load(); }
  void mark_initialize_seen() { initialize_seen_ = true; }

  std::optional<LogLevel> log_level() const;
  void set_log_level(LogLevel level);

  bool client_supports(std::string_view capability_path) const;

  // Resource subscriptions (legacy resources/subscribe).
  void subscribe(const std::string& uri);
  void unsubscribe(const std::string& uri);

  // Unsolicited messages (list_changed, resources/updated) go here: the standalone GET stream,
  // the 2024-11-05 SSE stream or stdout. Unset: they are dropped (nowhere to deliver).
  void set_unsolicited_sink(std::function<void(json::object)> sink);
  void send_unsolicited(json::object message);

  // Server-to-client requests: assigns the id, remembers the reply callback until the client's
  // answer arrives (resolve) or the deadline passes (expire).
  jsonrpc::Id next_outbound_id();
  void await_reply(const jsonrpc::Id& id, ClientReply reply, std::uint64_t timer_id);
  // Returns the timer id to cancel and the callback, if the id was pending.
  std::optional<std::pair<ClientReply, std::uint64_t>> take_reply(const jsonrpc::Id& id);

  // In-flight inbound requests, for notifications/cancelled.
  void track(const jsonrpc::Id& id, std::shared_ptr<CallContext> call);
  void untrack(const jsonrpc::Id& id);
  std::shared_ptr<CallContext> find_call(const jsonrpc::Id& id);
  std::size_t in_flight() const;
  // Cancels every in-flight call and fails every pending client request (session ended).
  void close();
  bool closed() const { return closed_.load(); }

  void touch() { last_activity_.store(Clock::now()); }
  Clock::time_point last_activity() const { return last_activity_.load(); }

  // CatalogueObserver
  void tools_changed() override;
  void prompts_changed() override;
  void resources_changed() override;
  void resource_updated(const std::string& uri) override;

 private:
  const std::string id_;
  std::atomic<bool> initialized_{false};
  std::atomic<bool> initialize_seen_{false};
  std::atomic<bool> closed_{false};
  std::atomic<Clock::time_point> last_activity_;
  std::atomic<std::int64_t> next_outbound_id_{1};

  mutable std::mutex mutex_;
  std::optional<LogLevel> log_level_;
  std::set<std::string> subscriptions_;
  std::function<void(json::object)> unsolicited_sink_;
  std::map<std::string, std::pair<ClientReply, std::uint64_t>> pending_replies_;
  std::map<std::string, std::shared_ptr<CallContext>> calls_;
};

}  // namespace bastion::mcp
