#include "authserver/context.hpp"

#include <algorithm>

#include "core/random.hpp"

namespace bastion::authserver {

Context::Context(AuthServerOptions opts, std::unique_ptr<Store> s, std::unique_ptr<SigningKeys> k)
    : options(std::move(opts)),
      store(std::move(s)),
      keys(std::move(k)),
      hasher(options.password_cost),
      login_failures_per_user(options.login.failures_per_user, options.login.window, 10'000),
      login_attempts_per_address(options.login.attempts_per_address, options.login.window, 10'000) {
  clients = std::make_unique<ClientRegistry>(*store, options, options.fetcher);
  set_issuer(options.issuer);
  set_resources(options.resources);
}

std::string Context::issuer() const {
  std::lock_guard lock(mutex_);
  return issuer_;
}

void Context::set_issuer(std::string issuer) {
  // RFC 8414 §2: no trailing slash games; the issuer is used verbatim everywhere.
  while (issuer.size() > 1 && issuer.back() == '/') issuer.pop_back();
  std::lock_guard lock(mutex_);
  issuer_ = std::move(issuer);
}

std::vector<std::string> Context::resources() const {
  std::lock_guard lock(mutex_);
  return resources_;
}

void Context::set_resources(std::vector<std::string> resources) {
  std::vector<std::string> canonical;
  for (const auto& r : resources) {
    if (auto c = canonical_resource(r)) canonical.push_back(*c);
  }
  std::lock_guard lock(mutex_);
  resources_ = std::move(canonical);
}

std::optional<std::string> Context::allowed_resource(std::string_view resource) const {
  auto canonical = canonical_resource(resource);
  if (!canonical) return std::nullopt;
  std::lock_guard lock(mutex_);
  // Exact match of canonical forms only: a token for /mcp is not a token for /mcp/other, nor
  // for another host (RFC 8707 §2: the AS decides which resources it issues tokens for).
  if (std::find(resources_.begin(), resources_.end(), *canonical) == resources_.end()) return std::nullopt;
  return canonical;
}

bool Context::put_pending(PendingRequest request) {
  std::lock_guard lock(mutex_);
  if (pending_.size() >= options.max_pending_requests) sweep(pending_, now());
  if (pending_.size() >= options.max_pending_requests) return false;
  pending_[request.id] = std::move(request);
  return true;
}

std::optional<PendingRequest> Context::pending(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = pending_.find(id);
  if (it == pending_.end()) return std::nullopt;
  if (it->second.expires <= now()) {
    pending_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

void Context::erase_pending(const std::string& id) {
  std::lock_guard lock(mutex_);
  pending_.erase(id);
}

std::optional<std::string> Context::new_session(const std::string& subject) {
  const std::string cookie = core::random_base64url(32);
  std::lock_guard lock(mutex_);
  if (sessions_.size() >= options.max_sessions) sweep(sessions_, now());
  if (sessions_.size() >= options.max_sessions) return std::nullopt;
  sessions_[sha256_hex(cookie)] = LoginSession{subject, now() + options.login_session_ttl};
  return cookie;
}

std::optional<std::string> Context::session_subject(const std::string& cookie_value) {
  if (cookie_value.empty() || cookie_value.size() > 128) return std::nullopt;
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(sha256_hex(cookie_value));
  if (it == sessions_.end()) return std::nullopt;
  if (it->second.expires <= now()) {
    sessions_.erase(it);
    return std::nullopt;
  }
  return it->second.subject;
}

std::optional<std::string> Context::new_code(AuthorizationCode code) {
  // 256 bits: unguessable within its short life (RFC 6749 §10.10).
  const std::string value = core::random_base64url(32);
  std::lock_guard lock(mutex_);
  if (codes_.size() >= options.max_codes) sweep(codes_, now());
  if (codes_.size() >= options.max_codes) return std::nullopt;
  codes_[sha256_hex(value)] = std::move(code);
  return value;
}

std::optional<AuthorizationCode> Context::redeem_code(const std::string& code) {
  if (code.empty() || code.size() > 256) return std::nullopt;
  std::lock_guard lock(mutex_);
  auto it = codes_.find(sha256_hex(code));
  if (it == codes_.end()) return std::nullopt;
  AuthorizationCode copy = it->second;
  if (!it->second.used) {
    // A used code is kept until it expires, so that a replay is recognised as one.
    it->second.used = true;
  }
  return copy;
}

void Context::set_code_family(const std::string& code, const std::string& family) {
  std::lock_guard lock(mutex_);
  auto it = codes_.find(sha256_hex(code));
  if (it != codes_.end()) it->second.refresh_family = family;
}

std::optional<std::string> Context::check_password(const std::string& username, const std::string& password) {
  const UserOptions* configured = nullptr;
  for (const auto& u : options.users) {
    if (u.username == username) configured = &u;
  }
  std::optional<std::string> hash;
  if (configured != nullptr) hash = configured->password_hash;
  // The stored first-start admin counts only while the config lists no users: once an operator
  // configures users, a forgotten or leaked generated password stops working.
  else if (options.users.empty() && username.size() <= 128) hash = store->user_password_hash(username);
  if (!hash) {
    hasher.verify_dummy(password);  // same cost for unknown users (no user enumeration by timing)
    return std::nullopt;
  }
  if (!hasher.verify(password, *hash)) return std::nullopt;
  return username;
}

}  // namespace bastion::authserver
