#include "mcp/session.hpp"

#include "jsonrpc/error_codes.hpp"
#include "mcp/call_context.hpp"

namespace bastion::mcp {

std::optional<LogLevel> Session::log_level() const {
  std::lock_guard lock(mutex_);
  return log_level_;
}

void Session::set_log_level(LogLevel level) {
  std::lock_guard lock(mutex_);
  log_level_ = level;
}

bool Session::client_supports(std::string_view path) const {
  const json::object* node = &client_capabilities;
  while (!path.empty()) {
    auto dot = path.find('.');
    std::string_view part = path.substr(0, dot);
    const json::value* v = node->if_contains(part);
    if (!v) return false;
    if (dot == std::string_view::npos) return !v->is_null() && !(v->is_bool() && !v->get_bool());
    if (!v->is_object()) return false;
    node = &v->get_object();
    path.remove_prefix(dot + 1);
  }
  return true;
}

void Session::subscribe(const std::string& uri) {
  std::lock_guard lock(mutex_);
  subscriptions_.insert(uri);
}

void Session::unsubscribe(const std::string& uri) {
  std::lock_guard lock(mutex_);
  subscriptions_.erase(uri);
}

void Session::set_unsolicited_sink(std::function<void(json::object)> sink) {
  std::lock_guard lock(mutex_);
  unsolicited_sink_ = std::move(sink);
}

void Session::send_unsolicited(json::object message) {
  std::function<void(json::object)> sink;
  {
    std::lock_guard lock(mutex_);
    sink = unsolicited_sink_;
  }
  // Before notifications/initialized the server sends nothing unsolicited (lifecycle.mdx).
  if (sink && initialized() && !closed()) sink(std::move(message));
}

jsonrpc::Id Session::next_outbound_id() { return jsonrpc::Id(next_outbound_id_.fetch_add(1)); }

void Session::await_reply(const jsonrpc::Id& id, ClientReply reply, std::uint64_t timer_id) {
  std::lock_guard lock(mutex_);
  pending_replies_[id.key()] = {std::move(reply), timer_id};
}

std::optional<std::pair<Session::ClientReply, std::uint64_t>> Session::take_reply(const jsonrpc::Id& id) {
  std::lock_guard lock(mutex_);
  auto it = pending_replies_.find(id.key());
  if (it == pending_replies_.end()) return std::nullopt;
  auto value = std::move(it->second);
  pending_replies_.erase(it);
  return value;
}

void Session::track(const jsonrpc::Id& id, std::shared_ptr<CallContext> call) {
  std::lock_guard lock(mutex_);
  calls_[id.key()] = std::move(call);
}

void Session::untrack(const jsonrpc::Id& id) {
  std::lock_guard lock(mutex_);
  calls_.erase(id.key());
}

std::shared_ptr<CallContext> Session::find_call(const jsonrpc::Id& id) {
  std::lock_guard lock(mutex_);
  auto it = calls_.find(id.key());
  return it == calls_.end() ? nullptr : it->second;
}

std::size_t Session::in_flight() const {
  std::lock_guard lock(mutex_);
  return calls_.size();
}

void Session::close() {
  if (closed_.exchange(true)) return;
  std::map<std::string, std::shared_ptr<CallContext>> calls;
  std::map<std::string, std::pair<ClientReply, std::uint64_t>> replies;
  {
    std::lock_guard lock(mutex_);
    calls.swap(calls_);
    replies.swap(pending_replies_);
    unsolicited_sink_ = nullptr;
  }
  for (auto& [_, call] : calls) call->cancel();
  for (auto& [_, reply] : replies)
    reply.first(fail(jsonrpc::kInternalError, "session ended before the client answered"));
}

namespace {
json::object list_changed(std::string_view method) { return jsonrpc::make_notification(method, {}); }
}  // namespace

void Session::tools_changed() { send_unsolicited(list_changed("notifications/tools/list_changed")); }
void Session::prompts_changed() { send_unsolicited(list_changed("notifications/prompts/list_changed")); }
void Session::resources_changed() { send_unsolicited(list_changed("notifications/resources/list_changed")); }

void Session::resource_updated(const std::string& uri) {
  {
    std::lock_guard lock(mutex_);
    if (!subscriptions_.contains(uri)) return;
  }
  send_unsolicited(jsonrpc::make_notification("notifications/resources/updated", json::object{{"uri", uri}}));
}

}  // namespace bastion::mcp
