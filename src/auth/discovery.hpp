// Authorization server metadata discovery: RFC 8414 (with §3.1 path insertion) and OpenID
// Connect Discovery 1.0, in the order MCP clients use (MCP-REQUIREMENTS item 88). The resource
// server only needs the jwks_uri and, for opaque tokens, the introspection endpoint.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "http/client.hpp"

namespace bastion::auth {

struct AuthorizationServerMetadata {
  std::string issuer;
  std::string jwks_uri;
  std::string introspection_endpoint;
};

// The metadata URLs to try for `issuer`, in order:
//   <origin>/.well-known/oauth-authorization-server<path>   (RFC 8414 §3.1)
//   <origin>/.well-known/openid-configuration<path>         (RFC 8414 §5 compatibility)
//   <issuer>/.well-known/openid-configuration               (OIDC Discovery §4)
// Duplicates (an issuer without a path) appear once. Empty when `issuer` is not an absolute
// http(s) URL without query or fragment.
std::vector<std::string> metadata_urls(std::string_view issuer);

// Fetches the first document that answers 200 with a JSON object whose `issuer` equals
// `issuer` exactly (RFC 8414 §3.3; otherwise an attacker-controlled document could name another
// issuer's keys). Errors say which step failed, never echo the document.
Result<AuthorizationServerMetadata> discover(const std::string& issuer, const http::Fetcher& fetcher,
                                             const http::ClientOptions& options);

}  // namespace bastion::auth
