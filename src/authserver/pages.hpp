// The HTML the user sees: sign-in, consent and error pages, and their stylesheet. Plain
// templates in which every interpolated value is HTML-escaped; no script at all, so the
// Content-Security-Policy can be "default-src 'none'" (OWASP Clickjacking and XSS cheat sheets;
// MCP security best practices, confused deputy: consent pages MUST forbid framing).
#pragma once

#include <string>
#include <vector>

#include "http/exchange.hpp"

namespace bastion::authserver {

struct LoginPage {
  std::string tx;
  std::string csrf;
  std::string client_name;
  std::string redirect_host;
  std::string username;  // refilled after a failed attempt
  std::string message;   // "Wrong user name or password." etc.
  std::string form_action_origin;  // the client's redirect origin, for CSP form-action
};

struct ConsentPage {
  std::string tx;
  std::string csrf;
  std::string client_name;
  std::string client_id;
  std::string redirect_host;
  bool redirect_is_loopback = false;
  bool client_is_metadata_document = false;
  std::string subject;
  std::string resource;
  std::vector<std::string> scopes;
  std::string form_action_origin;
};

http::Response render_login(const LoginPage& page, int status = 200);
http::Response render_consent(const ConsentPage& page);
// An error shown to the user when the client cannot be told (unknown client, redirect URI not
// registered: RFC 6749 §4.1.2.1 says the AS MUST NOT redirect then).
http::Response render_error(int status, const std::string& title, const std::string& detail);
http::Response stylesheet();

// The security headers of every page.
void set_page_headers(http::Response& response, const std::string& form_action_origin);

}  // namespace bastion::authserver
