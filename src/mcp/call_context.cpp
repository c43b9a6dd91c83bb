#include "mcp/call_context.hpp"

namespace bastion::mcp {

CallContext::CallContext(std::shared_ptr<Session> session, jsonrpc::Id request_id, std::shared_ptr<Outbound> out,
                         std::optional<json::value> progress_token)
    : session_(std::move(session)),
      request_id_(std::move(request_id)),
      out_(std::move(out)),
      progress_token_(std::move(progress_token)) {}

void CallContext::progress(double progress, std::optional<double> total, std::string message) {
  if (!progress_token_ || cancelled() || finished()) return;
  {
    // progress MUST increase with each notification (basic/utilities/progress.mdx).
    std::lock_guard lock(mutex_);
    if (!(progress > last_progress_)) return;
    last_progress_ = progress;
  }
  json::object params{{"progressToken", *progress_token_}, {"progress", progress}};
  if (total) params["total"] = *total;
  if (!message.empty()) params["message"] = std::move(message);
  out_->send(jsonrpc::make_notification("notifications/progress", std::move(params)));
}

void CallContext::log(LogLevel level, json::value data, std::string logger) {
  if (cancelled() || finished()) return;
  if (session_->modern) {
    // 2026-07-28: no log messages for a request that did not ask for them (item 32).
    auto lvl = session_->log_level();
    if (!lvl || level < *lvl) return;
  } else if (auto lvl = session_->log_level(); lvl && level < *lvl) {
    return;
  }
  json::object params{{"level", to_string(level)}, {"data", std::move(data)}};
  if (!logger.empty()) params["logger"] = std::move(logger);
  out_->send(jsonrpc::make_notification("notifications/message", std::move(params)));
}

const json::value* CallContext::input(std::string_view key) const {
  std::lock_guard lock(mutex_);
  return inputs_.if_contains(key);
}

void CallContext::set_input(std::string key, json::value value) {
  std::lock_guard lock(mutex_);
  inputs_[key] = std::move(value);
}

void CallContext::close_stream_for_polling(std::chrono::milliseconds retry) {
  if (!cancelled() && !finished()) out_->close_for_polling(retry);
}

bool CallContext::finish(json::object response) {
  if (finished_.exchange(true)) return false;
  session_->untrack(request_id_);
  // After cancellation the server sends no response (basic/utilities/cancellation.mdx).
  if (cancelled()) {
    out_->abandon();
    return false;
  }
  out_->respond(std::move(response));
  return true;
}

void CallContext::send_related(json::object message) {
  if (!cancelled() && !finished()) out_->send(std::move(message));
}

}  // namespace bastion::mcp
