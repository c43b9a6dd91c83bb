// State shared by the authorization server's endpoints: the options, the store, the keys, the
// client registry, and three bounded in-memory tables (authorization requests waiting for the
// user, signed-in browser sessions, issued authorization codes). Codes and pending requests are
// short-lived by design and need not survive a restart; a restart only asks the user to sign in
// again.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "authserver/client_registry.hpp"
#include "authserver/options.hpp"
#include "authserver/password_hasher.hpp"
#include "authserver/rate_limiter.hpp"
#include "authserver/signing_keys.hpp"
#include "authserver/store.hpp"

namespace bastion::authserver {

// An authorization request that passed every check and waits for sign-in and consent.
struct PendingRequest {
  std::string id;  // the "tx" in forms and URLs; 128 random bits
  std::string client_id;
  std::string client_name;
  ClientKind client_kind = ClientKind::configured;
  std::string redirect_uri;
  std::string state;
  std::string code_challenge;
  std::string resource;
  std::vector<std::string> scopes;
  bool force_consent = false;  // prompt=consent: ask even when consent was given before
  std::string csrf;            // synchronizer token (OWASP CSRF cheat sheet), in the forms
  std::string browser_sha256;  // digest of the browser cookie that started it (binds it to one browser)
  Clock::time_point expires;
};

struct LoginSession {
  std::string subject;
  Clock::time_point expires;
};

struct AuthorizationCode {
  std::string client_id;
  std::string redirect_uri;
  std::string code_challenge;
  std::string resource;
  std::string scope;
  std::string subject;
  Clock::time_point expires;
  bool used = false;
  std::string refresh_family;  // set when redeemed; revoked if the code is presented again
};

class Context {
 public:
  Context(AuthServerOptions options, std::unique_ptr<Store> store, std::unique_ptr<SigningKeys> keys);

  AuthServerOptions options;
  std::unique_ptr<Store> store;
  std::unique_ptr<SigningKeys> keys;
  std::unique_ptr<ClientRegistry> clients;
  PasswordHasher hasher;
  ClientAssertionVerifier assertions;  // private_key_jwt, with its jti replay cache
  RateLimiter login_failures_per_user;
  RateLimiter login_attempts_per_address;

  Clock::time_point now() const { return options.clock ? options.clock() : Clock::now(); }
  std::string issuer() const;
  void set_issuer(std::string issuer);
  std::vector<std::string> resources() const;
  void set_resources(std::vector<std::string> resources);
  // The canonical form of `resource` when tokens may be issued for it (RFC 8707 §2), else nullopt.
  std::optional<std::string> allowed_resource(std::string_view resource) const;

  void emit(SecurityEvent event) const {
    if (options.on_event) options.on_event(event);
  }

  // Pending requests. put_* return false when the table is full of live entries (fail closed).
  bool put_pending(PendingRequest request);
  std::optional<PendingRequest> pending(const std::string& id);
  void erase_pending(const std::string& id);

  // Login sessions, keyed by the digest of the cookie value (the cookie itself is not kept).
  std::optional<std::string> new_session(const std::string& subject);  // the cookie value
  std::optional<std::string> session_subject(const std::string& cookie_value);

  // Authorization codes, keyed by the digest of the code.
  std::optional<std::string> new_code(AuthorizationCode code);  // the code itself
  // Marks the code used and returns it; a second call returns it with `used` already true (the
  // caller then revokes what the first redemption issued: RFC 6749 §4.1.2).
  std::optional<AuthorizationCode> redeem_code(const std::string& code);
  void set_code_family(const std::string& code, const std::string& family);

  // Password check for users from the config and the store. Blocking (argon2).
  std::optional<std::string> check_password(const std::string& username, const std::string& password);

 private:
  template <class T>
  static void sweep(std::map<std::string, T>& table, Clock::time_point now) {
    for (auto it = table.begin(); it != table.end();) {
      if (it->second.expires <= now) it = table.erase(it);
      else ++it;
    }
  }

  mutable std::mutex mutex_;
  std::string issuer_;
  std::vector<std::string> resources_;  // canonical forms
  std::map<std::string, PendingRequest> pending_;
  std::map<std::string, LoginSession> sessions_;
  std::map<std::string, AuthorizationCode> codes_;
};

}  // namespace bastion::authserver
