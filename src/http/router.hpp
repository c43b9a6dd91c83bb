// Path -> Handler table. Built once at start-up, then immutable and shared by every I/O thread
// without locks. Method checks are the handlers' business (they answer 405 themselves).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http/exchange.hpp"

namespace bastion::http {

class Router {
 public:
  // `path` must start with '/'. Registering the same path twice is a start-up error
  // (std::invalid_argument): two owners for one path is always a wiring bug.
  Router& add_exact(std::string path, Handler handler);

  // Serves `prefix` itself and everything below it on a segment boundary: "/oauth" matches
  // "/oauth", "/oauth/token" but not "/oauthx"; "/static/" matches "/static/a" only.
  // The longest matching prefix wins; any exact match wins over every prefix.
  Router& add_prefix(std::string prefix, Handler handler);

  // Answers paths nobody claimed. Default: 404 {"error":"not_found"}.
  Router& set_fallback(Handler handler);

  // The handler for a (percent-decoded) request path, or nullptr when only the fallback applies.
  const Handler* find(std::string_view path) const;

  // Dispatches the exchange by Request::path.
  void handle(std::shared_ptr<Exchange> exchange) const;

  // A Handler (for Server) dispatching through an immutable snapshot of this router.
  Handler as_handler() const;

 private:
  struct TransparentHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  struct PrefixRoute {
    std::string prefix;
    Handler handler;
  };

  std::unordered_map<std::string, Handler, TransparentHash, std::equal_to<>> exact_;
  std::vector<PrefixRoute> prefixes_;  // sorted by descending prefix length
  Handler fallback_;
};

// The default answer for unknown paths: 404 {"error":"not_found"}.
Response not_found_response();

}  // namespace bastion::http
