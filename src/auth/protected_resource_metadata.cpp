#include "auth/protected_resource_metadata.hpp"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>

namespace bastion::auth {

std::optional<std::string> canonical_resource(std::string_view text) {
  auto parsed = boost::urls::parse_uri_reference(text);
  if (!parsed || !parsed->has_scheme() || !parsed->has_authority()) return std::nullopt;
  boost::urls::url u(*parsed);
  std::string scheme(u.scheme());
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  if (scheme != "http" && scheme != "https") return std::nullopt;
  u.set_scheme(scheme);
  std::string host(u.encoded_host());
  std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
  u.set_encoded_host(host);
  if ((scheme == "https" && u.port() == "443") || (scheme == "http" && u.port() == "80")) u.remove_port();
  u.remove_fragment();
  u.remove_userinfo();
  std::string path(u.encoded_path());
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  if (path == "/") path.clear();
  u.set_encoded_path(path);
  return std::string(u.buffer());
}

std::string metadata_url_for(std::string_view resource) {
  auto parsed = boost::urls::parse_uri(resource);
  if (!parsed) return {};
  std::string origin = std::string(parsed->scheme()) + "://" + std::string(parsed->encoded_authority());
  std::string path(parsed->encoded_path());
  if (path == "/") path.clear();
  return origin + "/.well-known/oauth-protected-resource" + path;
}

std::string ProtectedResourceMetadata::to_json() const {
  namespace json = boost::json;
  json::object o;
  o["resource"] = resource;
  json::array servers;
  for (const auto& s : authorization_servers) servers.emplace_back(s);
  o["authorization_servers"] = std::move(servers);
  json::array scopes;
  for (const auto& s : scopes_supported)
    if (s != "offline_access") scopes.emplace_back(s);  // MCP: SHOULD NOT advertise it
  o["scopes_supported"] = std::move(scopes);
  o["bearer_methods_supported"] = json::array{"header"};  // RFC 6750 §2.1 only
  if (!resource_name.empty()) o["resource_name"] = resource_name;
  if (!resource_documentation.empty()) o["resource_documentation"] = resource_documentation;
  return json::serialize(o);
}

}  // namespace bastion::auth
