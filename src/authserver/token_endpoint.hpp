// The back channel: /oauth/token (authorization_code with PKCE, refresh_token with rotation and
// reuse detection, client_credentials) and /oauth/revoke (RFC 7009). Access tokens are JWTs
// per RFC 9068 ("typ":"at+jwt"; iss, sub, aud, exp, iat, jti, client_id, scope). Synchronous
// handlers; the AuthorizationServer runs them on a worker.
#pragma once

#include <atomic>
#include <cstdint>

#include "authserver/context.hpp"
#include "http/exchange.hpp"

namespace bastion::authserver {

class TokenEndpoint {
 public:
  explicit TokenEndpoint(Context& context) : context_(context) {}

  http::Response token(const http::Request& request);
  http::Response revoke(const http::Request& request);

 private:
  // RFC 6749 §2.3.1 client authentication: HTTP Basic, or client_secret in the body, or none
  // (public client identified by client_id). Exactly one method; it must be the registered one.
  OAuthResult<Client> authenticate_client(const http::Request& request, const Form& form);

  http::Response authorization_code_grant(const http::Request& request, const Form& form, const Client& client);
  http::Response refresh_token_grant(const http::Request& request, const Form& form, const Client& client);
  http::Response client_credentials_grant(const Form& form, const Client& client);

  // {"access_token", "token_type":"Bearer", "expires_in", "scope", ["refresh_token"]}.
  http::Response issue_tokens(const Client& client, const std::string& subject, const std::string& resource,
                              const std::string& scope, const std::string* refresh_family);

  Context& context_;
  std::atomic<std::uint64_t> issued_refresh_{0};
};

}  // namespace bastion::authserver
