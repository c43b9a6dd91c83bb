// WWW-Authenticate: Bearer challenges (RFC 6750 §3, RFC 9728 §5.1, MCP authorization
// "Scope Selection Strategy" / "Runtime Insufficient Scope Errors").
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace bastion::auth {

struct Challenge {
  std::string error;              // "", invalid_request, invalid_token, insufficient_scope
  std::string error_description;  // generic text only: it must tell an attacker nothing
  std::vector<std::string> scopes;  // every scope this request needs, in one challenge
  std::string resource_metadata;  // absolute PRM URL
};

// `Bearer resource_metadata="...", scope="a b", error="...", error_description="..."`.
// Values are quoted-strings (RFC 9110 §5.6.4): '"' and '\' are escaped, control characters
// dropped, so no value can end the parameter or inject another header.
std::string www_authenticate(const Challenge& challenge);

std::string quote(std::string_view value);

}  // namespace bastion::auth
