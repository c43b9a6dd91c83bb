// RFC 9728 OAuth 2.0 Protected Resource Metadata for one route, and the canonical resource URI
// it is built on (RFC 8707 §2, MCP-REQUIREMENTS items 80, 81, 86).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bastion::auth {

// The canonical URI of a resource: lowercase scheme and host, default port dropped, no
// fragment, no trailing slash (except the root). nullopt when `url` is not an absolute
// http(s) URL.
std::optional<std::string> canonical_resource(std::string_view url);

// Where the PRM of `resource` lives (RFC 9728 §3.1): the well-known segment inserted between
// the origin and the resource's path: https://h/.well-known/oauth-protected-resource/mcp.
std::string metadata_url_for(std::string_view canonical_resource);

struct ProtectedResourceMetadata {
  std::string resource;
  std::vector<std::string> authorization_servers;
  std::vector<std::string> scopes_supported;  // the minimal set; offline_access never advertised
  std::string resource_name;
  std::string resource_documentation;

  std::string to_json() const;
};

}  // namespace bastion::auth
