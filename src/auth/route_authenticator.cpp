#include "auth/route_authenticator.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <stdexcept>

#include "auth/challenge.hpp"

namespace bastion::auth {

namespace {

// ASCII only, without the C locale's isalnum (a function call per character of every token).
bool is_b64token_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~' || c == '+' || c == '/';
}

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
bool is_b64token(std::string_view t) {
  std::size_t i = 0;
  while (i < t.size() && is_b64token_char(t[i])) ++i;
  if (i == 0) return false;
  while (i < t.size() && t[i] == '=') ++i;
  return i == t.size();
}

bool form_has_access_token(std::string_view body) {
  // Only the parameter name matters; its value is never looked at.
  std::size_t pos = 0;
  while (pos <= body.size()) {
    auto amp = body.find('&', pos);
    auto part = body.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    if (part.starts_with("access_token=") || part == "access_token") return true;
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return false;
}

}  // namespace

std::variant<std::string_view, AuthFailure> extract_bearer(const http::Request& request) {
  if (!request.query.empty() && http::query_param(request, "access_token"))
    return AuthFailure{AuthFailureReason::token_in_query, 400};
  if (const std::string* ct = request.headers.find("Content-Type")) {
    // Media types compare case-insensitively (RFC 9110 §8.3.1); only the type/subtype prefix.
    constexpr std::string_view kForm = "application/x-www-form-urlencoded";
    std::string_view v = *ct;
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    if (v.size() >= kForm.size() && http::iequals(v.substr(0, kForm.size()), kForm) && form_has_access_token(request.body))
      return AuthFailure{AuthFailureReason::token_in_body, 400};
  }
  const std::size_t count = request.headers.count("Authorization");
  if (count == 0) return AuthFailure{AuthFailureReason::missing_token, 401};
  if (count > 1) return AuthFailure{AuthFailureReason::malformed_request, 400};
  std::string_view value = *request.headers.find("Authorization");
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  const auto space = value.find(' ');
  const std::string_view scheme = value.substr(0, space);
  // The scheme is case-insensitive (RFC 9110 §11.1); another scheme carries no bearer token.
  if (!http::iequals(scheme, "Bearer")) return AuthFailure{AuthFailureReason::missing_token, 401};
  if (space == std::string_view::npos) return AuthFailure{AuthFailureReason::malformed_request, 400};
  std::string_view token = value.substr(space + 1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  if (!is_b64token(token)) return AuthFailure{AuthFailureReason::malformed_request, 400};
  return token;
}

RouteAuthenticator::RouteAuthenticator(std::shared_ptr<const TokenVerifier> verifier, std::string route_path,
                                       RouteAuthSettings settings, AuthEventCallback on_event, Clock clock,
                                       core::WorkerPool* blocking)
    : verifier_(std::move(verifier)),
      route_path_(std::move(route_path)),
      settings_(std::move(settings)),
      policy_(settings_.scopes),
      on_event_(std::move(on_event)),
      clock_(std::move(clock)),
      blocking_(blocking),
      cache_(settings_.token_cache_entries, settings_.token_cache_max_age) {
  if (settings_.issuers.empty()) {
    for (std::size_t i = 0; i < verifier_->issuer_count(); ++i) target_.issuers.push_back(i);
  } else {
    for (const auto& name : settings_.issuers) {
      auto idx = verifier_->issuer_index(name);
      if (!idx) throw std::invalid_argument("unknown issuer '" + name + "'");
      target_.issuers.push_back(*idx);
    }
  }
  if (target_.issuers.empty()) throw std::invalid_argument("a protected route needs at least one issuer");
  target_.audiences = settings_.audiences;
}

void RouteAuthenticator::set_resource(const std::string& resource_url) {
  auto canonical = canonical_resource(resource_url);
  if (!canonical) throw std::invalid_argument("not an absolute http(s) URL: " + resource_url);
  resource_ = *canonical;
  metadata_url_ = metadata_url_for(resource_);
  target_.audiences = settings_.audiences;
  target_.audiences.insert(target_.audiences.begin(), resource_);
}

void RouteAuthenticator::count_failure(AuthFailureReason reason, int status) {
  ++failures_[static_cast<std::size_t>(reason)];
  if (on_event_) {
    AuthEvent e;
    e.kind = AuthEvent::Kind::authentication_failed;
    e.route = route_path_;
    e.reason = reason;
    e.status = status;
    on_event_(e);
  }
}

http::Response RouteAuthenticator::refusal(AuthFailure failure) {
  count_failure(failure.reason, failure.status);
  http::Response r;
  r.status = failure.status;
  r.headers.set("Content-Type", "application/json");
  r.headers.set("Cache-Control", "no-store");
  Challenge c;
  c.resource_metadata = metadata_url_;
  // The scopes a request to this route needs at least; the method's own are asked for by the
  // 403 step-up once the request is known (MCP 2025-11-25 Scope Selection Strategy).
  c.scopes = settings_.scopes.route_scopes;
  // Descriptions are the same for every cause inside a class: which check failed would help
  // an attacker tune a forgery, and a legitimate client can do nothing different with it.
  std::string description;
  if (failure.status == 400) {
    c.error = "invalid_request";
    description = "The request is malformed; send the access token in the Authorization header only.";
  } else if (failure.status == 503) {
    // No challenge: the token may be fine, the issuer's keys are out of reach.
    r.headers.set("Retry-After", "5");
    r.body = R"({"error":"temporarily_unavailable","error_description":"The access token cannot be verified right now."})";
    return r;
  } else if (failure.reason != AuthFailureReason::missing_token) {
    c.error = "invalid_token";
    description = "The access token is invalid or expired.";
  }
  c.error_description = description;
  r.headers.set("WWW-Authenticate", www_authenticate(c));
  boost::json::object body;
  body["error"] = c.error.empty() ? "unauthorized" : c.error;
  body["error_description"] = description.empty() ? "An access token is required." : description;
  r.body = boost::json::serialize(body);
  return r;
}

std::chrono::system_clock::time_point RouteAuthenticator::now() const {
  return clock_ ? clock_() : std::chrono::system_clock::now();
}

RouteAuthenticator::Outcome RouteAuthenticator::conclude(std::string_view token, std::shared_ptr<const Principal> principal,
                                                         std::expected<Verified, AuthFailure> verified,
                                                         std::chrono::system_clock::time_point now) {
  if (principal) {
    ++cache_hits_;
  } else {
    if (!verified) return refusal(verified.error());
    principal = verified->principal;
    cache_.insert(token, principal, verified->cache_until, now,
                  verified->via_jwks ? static_cast<int>(verified->issuer) : -1);
  }
  // Scopes every request of the route needs: a valid token without them is a 403 step-up.
  if (!ScopePolicy::satisfied(principal->scopes, settings_.scopes.route_scopes)) {
    auto r = authorize(principal.get(), "", "", [] { return std::string(R"({"error":"insufficient_scope"})"); });
    if (r) return std::move(*r);
  }
  ++authenticated_;
  if (on_event_) {
    AuthEvent e;
    e.kind = AuthEvent::Kind::authenticated;
    e.route = route_path_;
    e.principal = principal.get();
    on_event_(e);
  }
  return principal;
}

std::shared_ptr<const Principal> RouteAuthenticator::cached(std::string_view token, std::chrono::system_clock::time_point now) {
  auto hit = cache_.find(token, now);
  if (hit.principal && hit.jwks_issuer >= 0 && !verifier_->keys_usable(static_cast<std::size_t>(hit.jwks_issuer)))
    return nullptr;
  return hit.principal;
}

RouteAuthenticator::Outcome RouteAuthenticator::authenticate(const http::Request& request) {
  auto extracted = extract_bearer(request);
  if (auto* f = std::get_if<AuthFailure>(&extracted)) return refusal(*f);
  const std::string_view token = std::get<std::string_view>(extracted);
  const auto t = now();
  if (auto hit = cached(token, t)) return conclude(token, std::move(hit), {}, t);
  return conclude(token, nullptr, verifier_->verify(token, target_), t);
}

void RouteAuthenticator::authenticate(const http::Request& request, Done done) {
  auto extracted = extract_bearer(request);
  if (auto* f = std::get_if<AuthFailure>(&extracted)) return done(refusal(*f));
  const std::string_view token = std::get<std::string_view>(extracted);
  const auto t = now();
  if (auto hit = cached(token, t)) return done(conclude(token, std::move(hit), {}, t));
  auto quick = verifier_->verify(token, target_, /*may_block=*/blocking_ == nullptr);
  if (quick || quick.error().reason != AuthFailureReason::deferred) return done(conclude(token, nullptr, std::move(quick), t));
  // The network is needed: never on an I/O thread (DESIGN.md §5). The job owns a copy of the
  // token; `request` is not touched again.
  auto job = [this, token = std::string(token), done]() mutable {
    if (stopping_) return done(unavailable());
    const auto later = now();
    done(conclude(token, nullptr, verifier_->verify(token, target_), later));
  };
  // Queue full (or stopping): the token may be fine, the verifier is saturated.
  if (stopping_ || !blocking_->post(job)) done(unavailable());
}

http::Response RouteAuthenticator::unavailable() {
  count_failure(AuthFailureReason::issuer_unavailable, 503);
  http::Response r;
  r.status = 503;
  r.headers.set("Content-Type", "application/json");
  r.headers.set("Retry-After", "1");
  r.body = R"({"error":"temporarily_unavailable","error_description":"The access token cannot be verified right now."})";
  return r;
}

std::optional<http::Response> RouteAuthenticator::authorize(const Principal* principal, std::string_view method,
                                                            std::string_view name,
                                                            const std::function<std::string()>& make_body) {
  if (principal && policy_.allows(principal->scopes, method, name)) return std::nullopt;
  auto required = policy_.required(method, name);
  ++denied_;
  if (on_event_) {
    AuthEvent e;
    e.kind = AuthEvent::Kind::authorization_denied;
    e.route = route_path_;
    e.reason = AuthFailureReason::insufficient_scope;
    e.status = 403;
    e.principal = principal;
    e.method = method;
    e.name = name;
    on_event_(e);
  }
  http::Response r;
  r.status = 403;
  r.headers.set("Content-Type", "application/json");
  r.headers.set("Cache-Control", "no-store");
  // One challenge with every scope this operation needs (MCP: Runtime Insufficient Scope
  // Errors; RFC 6750 §3.1 insufficient_scope).
  Challenge c;
  c.resource_metadata = metadata_url_;
  c.scopes = std::move(required);
  c.error = "insufficient_scope";
  c.error_description = "The access token lacks a scope this operation needs.";
  r.headers.set("WWW-Authenticate", www_authenticate(c));
  if (make_body) r.body = make_body();
  return r;
}

bool RouteAuthenticator::may_use(const Principal* principal, ItemKind kind, std::string_view name) const {
  if (!principal) return false;
  switch (kind) {
    case ItemKind::tool: return policy_.allows(principal->scopes, "tools/call", name);
    case ItemKind::prompt: return policy_.allows(principal->scopes, "prompts/get", name);
    case ItemKind::resource: return policy_.allows(principal->scopes, "resources/read", name);
  }
  return false;
}

ProtectedResourceMetadata RouteAuthenticator::metadata() const {
  ProtectedResourceMetadata m;
  m.resource = resource_;
  for (std::size_t idx : target_.issuers) {
    const auto& iss = verifier_->issuer(idx).issuer;
    // A {tenantid} template is no issuer a client can discover; it is listed by the operator's
    // audiences/documentation instead.
    if (iss.find('{') == std::string::npos &&
        std::find(m.authorization_servers.begin(), m.authorization_servers.end(), iss) == m.authorization_servers.end())
      m.authorization_servers.push_back(iss);
  }
  m.scopes_supported = settings_.scopes.route_scopes;
  m.resource_name = settings_.resource_name;
  m.resource_documentation = settings_.resource_documentation;
  return m;
}

http::Response RouteAuthenticator::metadata_response(const http::Request& request) const {
  http::Response r;
  if (request.method != "GET" && request.method != "HEAD") {
    r.status = 405;
    r.headers.set("Allow", "GET, HEAD");
    return r;
  }
  r.status = 200;
  r.headers.set("Content-Type", "application/json");
  // Public and the same for everyone: browser-based clients fetch it cross-origin.
  r.headers.set("Access-Control-Allow-Origin", "*");
  r.headers.set("Cache-Control", "public, max-age=300");
  if (request.method == "GET") r.body = metadata().to_json();
  return r;
}

AuthStats RouteAuthenticator::stats() const {
  AuthStats s;
  s.authenticated = authenticated_;
  s.cache_hits = cache_hits_;
  s.denied = denied_;
  for (std::size_t i = 0; i < s.failures.size(); ++i) s.failures[i] = failures_[i];
  return s;
}

}  // namespace bastion::auth
