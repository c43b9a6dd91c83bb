// Pipeline steps 2 and 5 for one protected route (DESIGN.md §2): the bearer token from the
// Authorization header only (RFC 6750 §2.1), verified into a Principal or answered with 400/401
// and a WWW-Authenticate challenge; then, per JSON-RPC request, the scope policy (403
// insufficient_scope step-up). Also serves the route's Protected Resource Metadata (RFC 9728).
// Uses the HTTP layer's plain request/response types only; no Beast.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "auth/auth_types.hpp"
#include "auth/protected_resource_metadata.hpp"
#include "auth/scope_policy.hpp"
#include "auth/token_verifier.hpp"
#include "auth/verified_token_cache.hpp"
#include "bastion/types.hpp"
#include "core/worker_pool.hpp"
#include "http/exchange.hpp"

namespace bastion::auth {

struct RouteAuthSettings {
  std::vector<std::string> issuers;    // issuer names; empty: every configured issuer
  std::vector<std::string> audiences;  // accepted besides the canonical resource URI
  ScopePolicySettings scopes;
  bool filter_lists = true;  // tools/prompts/resources lists show only what the principal may use
  std::string resource_name;
  std::string resource_documentation;
  std::size_t token_cache_entries = 10'000;
  std::chrono::seconds token_cache_max_age{300};
};

// What observability may learn about an outcome. Never the token.
struct AuthEvent {
  enum class Kind { authenticated, authentication_failed, authorization_denied };
  Kind kind = Kind::authenticated;
  std::string_view route;
  AuthFailureReason reason = AuthFailureReason::count_;
  int status = 0;
  const Principal* principal = nullptr;  // denials and successes
  std::string_view method;               // denials
  std::string_view name;                 // denials: tool/prompt name or resource URI
};
using AuthEventCallback = std::function<void(const AuthEvent&)>;

struct AuthStats {
  std::uint64_t authenticated = 0;
  std::uint64_t cache_hits = 0;
  std::uint64_t denied = 0;  // 403 insufficient_scope
  std::array<std::uint64_t, static_cast<std::size_t>(AuthFailureReason::count_)> failures{};
};

class RouteAuthenticator {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  using Outcome = std::variant<std::shared_ptr<const Principal>, http::Response>;

  using Done = std::function<void(Outcome)>;

  // Throws std::invalid_argument when a named issuer is unknown. `blocking` runs verifications
  // that need the network (introspection, JWKS fetches) off the I/O threads; it must outlive
  // this object's pending jobs. Null: such verifications block the caller.
  RouteAuthenticator(std::shared_ptr<const TokenVerifier> verifier, std::string route_path, RouteAuthSettings settings,
                     AuthEventCallback on_event = {}, Clock clock = {}, core::WorkerPool* blocking = nullptr);

  // The canonical resource URI (RFC 8707) from the public URL of the listener; set once the
  // ports are known and before requests are served.
  void set_resource(const std::string& resource_url);
  const std::string& resource() const { return resource_; }
  const std::string& metadata_url() const { return metadata_url_; }
  const std::string& route_path() const { return route_path_; }

  // Blocking: may wait on the network when the token needs it (tests, benchmarks, tools).
  Outcome authenticate(const http::Request& request);
  // The request path: answers at once when the token can be judged without the network (a
  // cached token, a JWT whose key is in the current set, any refusal), else verifies on the
  // blocking pool and calls `done` from there (503 when the pool is full). `request` must stay
  // valid until `done` runs (it belongs to the exchange the caller keeps alive).
  void authenticate(const http::Request& request, Done done);
  // Queued network verifications answer 503 at once instead of waiting on issuers (shutdown
  // must not wait fetch_timeout_ms per queued token).
  void shutdown() { stopping_ = true; }
  // Scope policy for one JSON-RPC request (method, and the tool/prompt name or resource URI);
  // the 403 answer when the principal lacks a scope, with `make_body()` as its body (built only
  // then: this runs on every request).
  std::optional<http::Response> authorize(const Principal* principal, std::string_view method, std::string_view name,
                                          const std::function<std::string()>& make_body);
  bool may_use(const Principal* principal, ItemKind kind, std::string_view name) const;
  bool filters_lists() const { return settings_.filter_lists; }

  // GET/HEAD of this route's PRM document.
  http::Response metadata_response(const http::Request& request) const;
  ProtectedResourceMetadata metadata() const;

  AuthStats stats() const;

 private:
  http::Response refusal(AuthFailure failure);
  http::Response unavailable();
  // A cached verification still good to use: not for a JWT whose issuer's keys went stale
  // (max staleness holds for cached tokens too).
  std::shared_ptr<const Principal> cached(std::string_view token, std::chrono::system_clock::time_point now);
  // The outcome of a verification (or a cache hit when `cached` is set).
  Outcome conclude(std::string_view token, std::shared_ptr<const Principal> cached,
                   std::expected<Verified, AuthFailure> verified, std::chrono::system_clock::time_point now);
  std::chrono::system_clock::time_point now() const;
  void count_failure(AuthFailureReason reason, int status);

  std::shared_ptr<const TokenVerifier> verifier_;
  std::string route_path_;
  RouteAuthSettings settings_;
  ScopePolicy policy_;
  AuthEventCallback on_event_;
  Clock clock_;
  core::WorkerPool* blocking_;
  VerifyTarget target_;
  VerifiedTokenCache cache_;
  std::string resource_;
  std::string metadata_url_;

  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> authenticated_{0}, cache_hits_{0}, denied_{0};
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(AuthFailureReason::count_)> failures_{};
};

// The bearer token of a request (RFC 6750 §2.1), or the failure to answer with. Refuses
// `access_token` in the query (§2.3) and in a form body (§2.2), several Authorization headers
// and a malformed credential (400 invalid_request); no credential at all, or another scheme, is
// a missing token (401 without an error code, §3.1).
std::variant<std::string_view, AuthFailure> extract_bearer(const http::Request& request);

}  // namespace bastion::auth
