#include "http/router.hpp"

#include <algorithm>
#include <stdexcept>

namespace bastion::http {

namespace {

void require_route_path(const std::string& path, const Handler& handler) {
  if (path.empty() || path.front() != '/') {
    throw std::invalid_argument("route path must start with '/': \"" + path + "\"");
  }
  if (!handler) throw std::invalid_argument("route \"" + path + "\" has no handler");
}

// True when `prefix` covers `path` on a segment boundary.
bool prefix_matches(std::string_view prefix, std::string_view path) noexcept {
  if (!path.starts_with(prefix)) return false;
  if (path.size() == prefix.size()) return true;
  return prefix.back() == '/' || path[prefix.size()] == '/';
}

}  // namespace

Response not_found_response() { return json_response(404, R"({"error":"not_found"})"); }

Router& Router::add_exact(std::string path, Handler handler) {
  require_route_path(path, handler);
  if (exact_.contains(path)) throw std::invalid_argument("route \"" + path + "\" registered twice");
  exact_.emplace(std::move(path), std::move(handler));
  return *this;
}

Router& Router::add_prefix(std::string prefix, Handler handler) {
  require_route_path(prefix, handler);
  for (const auto& route : prefixes_) {
    if (route.prefix == prefix) throw std::invalid_argument("prefix route \"" + prefix + "\" registered twice");
  }
  prefixes_.push_back(PrefixRoute{std::move(prefix), std::move(handler)});
  std::stable_sort(prefixes_.begin(), prefixes_.end(),
                   [](const PrefixRoute& a, const PrefixRoute& b) { return a.prefix.size() > b.prefix.size(); });
  return *this;
}

Router& Router::set_fallback(Handler handler) {
  fallback_ = std::move(handler);
  return *this;
}

const Handler* Router::find(std::string_view path) const {
  if (auto it = exact_.find(path); it != exact_.end()) return &it->second;
  for (const auto& route : prefixes_) {
    if (prefix_matches(route.prefix, path)) return &route.handler;
  }
  return nullptr;
}

void Router::handle(std::shared_ptr<Exchange> exchange) const {
  if (const Handler* handler = find(exchange->request().path)) {
    (*handler)(std::move(exchange));
    return;
  }
  if (fallback_) {
    fallback_(std::move(exchange));
    return;
  }
  exchange->respond(not_found_response());
}

Handler Router::as_handler() const {
  auto snapshot = std::make_shared<const Router>(*this);
  return [snapshot](std::shared_ptr<Exchange> exchange) { snapshot->handle(std::move(exchange)); };
}

}  // namespace bastion::http
