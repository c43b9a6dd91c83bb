// The front channel: /oauth/authorize, the sign-in form (/oauth/login) and the consent form
// (/oauth/consent). Authorization code flow with PKCE S256 only (OAuth 2.1 §4.1, RFC 7636),
// exact redirect-URI matching, `resource` required (RFC 8707), `iss` in every response
// (RFC 9207), `state` echoed. Each handler is synchronous and may block (client metadata fetch,
// argon2, SQLite): the AuthorizationServer runs it on a worker.
#pragma once

#include <variant>

#include "authserver/context.hpp"
#include "http/exchange.hpp"

namespace bastion::authserver {

class AuthorizationEndpoint {
 public:
  explicit AuthorizationEndpoint(Context& context) : context_(context) {}

  http::Response authorize(const http::Request& request);   // GET /oauth/authorize
  http::Response login(const http::Request& request);       // POST /oauth/login
  http::Response consent_page(const http::Request& request);  // GET /oauth/consent?tx=
  http::Response consent(const http::Request& request);     // POST /oauth/consent

  // Cookie names: with the __Host- prefix (Secure, Path=/, no Domain) when served over HTTPS;
  // browsers refuse __Host- cookies without Secure, so plain-HTTP development uses plain names.
  static std::string session_cookie_name(bool secure);
  static std::string browser_cookie_name(bool secure);

 private:
  bool secure(const http::Request& request) const;
  // The redirect back to the client with `params` plus state and iss (RFC 9207 §2).
  http::Response redirect_to_client(const std::string& redirect_uri, const std::string& state,
                                    std::vector<std::pair<std::string, std::string>> params) const;
  http::Response redirect_error(const std::string& redirect_uri, const std::string& state, const std::string& error,
                                const std::string& description) const;
  // Issues a code for an approved request and redirects to the client.
  http::Response issue_code(const PendingRequest& request, const std::string& subject);
  http::Response show_consent(const PendingRequest& request, const std::string& subject, const http::Request& http_request);
  // The pending request of a form post, checked against the browser cookie and the CSRF token.
  std::variant<PendingRequest, http::Response> checked_pending(const http::Request& request, const Form& form,
                                                               bool check_csrf);

  Context& context_;
};

// One cookie's value from the Cookie header(s), or "".
std::string cookie_value(const http::Request& request, std::string_view name);

}  // namespace bastion::authserver
