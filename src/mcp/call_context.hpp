// The RequestContext handed to tool, prompt and resource handlers for one inbound request.
#pragma once

#include <atomic>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>

#include "bastion/context.hpp"
#include "jsonrpc/message.hpp"
#include "mcp/session.hpp"

namespace bastion::mcp {

class CallContext final : public RequestContext {
 public:
  CallContext(std::shared_ptr<Session> session, jsonrpc::Id request_id, std::shared_ptr<Outbound> out,
              std::optional<json::value> progress_token);

  // RequestContext
  // The principal of this request (its own token), else the session's.
  const Principal* principal() const override {
    const Principal* caller = out_ ? out_->caller() : nullptr;
    return caller ? caller : session_->principal;
  }
  const std::string& protocol_version() const override { return session_->protocol_version; }
  const json::object& client_capabilities() const override { return session_->client_capabilities; }
  bool client_supports(std::string_view path) const override { return session_->client_supports(path); }
  void progress(double progress, std::optional<double> total, std::string message) override;
  void log(LogLevel level, json::value data, std::string logger) override;
  bool cancelled() const override { return cancelled_.load(); }
  const json::value* input(std::string_view key) const override;
  const std::string* request_state() const override { return request_state_ ? &*request_state_ : nullptr; }
  void close_stream_for_polling(std::chrono::milliseconds retry) override;
  json::object trace_meta() const override { return out_ ? out_->trace_meta() : json::object{}; }

  // Dispatcher side.
  const std::shared_ptr<Session>& session() const { return session_; }
  const jsonrpc::Id& request_id() const { return request_id_; }
  const std::shared_ptr<Outbound>& outbound() const { return out_; }
  void cancel() { cancelled_ = true; }
  // Sends the final response once; false when cancelled or already answered.
  bool finish(json::object response);
  bool finished() const { return finished_.load(); }
  // Related message (server-to-client request) on this request's stream.
  void send_related(json::object message);

  // Multi-round state: answers collected so far and the state the handler asked to keep.
  void set_input(std::string key, json::value value);
  void set_request_state(std::optional<std::string> state) { request_state_ = std::move(state); }
  int rounds = 0;

 private:
  std::shared_ptr<Session> session_;
  jsonrpc::Id request_id_;
  std::shared_ptr<Outbound> out_;
  std::optional<json::value> progress_token_;
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> finished_{false};
  mutable std::mutex mutex_;
  double last_progress_ = -std::numeric_limits<double>::infinity();
  json::object inputs_;
  std::optional<std::string> request_state_;
};

}  // namespace bastion::mcp
