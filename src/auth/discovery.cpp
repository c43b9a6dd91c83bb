#include "auth/discovery.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>

#include "auth/jose.hpp"

namespace bastion::auth {

std::vector<std::string> metadata_urls(std::string_view issuer) {
  auto parsed = boost::urls::parse_absolute_uri(issuer);
  if (!parsed) return {};
  const auto scheme = parsed->scheme();
  if ((scheme != "https" && scheme != "http") || !parsed->has_authority() || parsed->has_query() ||
      parsed->has_fragment())
    return {};
  std::string origin = std::string(scheme) + "://" + std::string(parsed->encoded_authority());
  std::string path(parsed->encoded_path());
  if (path == "/") path.clear();
  std::vector<std::string> out;
  auto add = [&](std::string url) {
    if (std::find(out.begin(), out.end(), url) == out.end()) out.push_back(std::move(url));
  };
  add(origin + "/.well-known/oauth-authorization-server" + path);
  add(origin + "/.well-known/openid-configuration" + path);
  std::string base(issuer);
  while (!base.empty() && base.back() == '/') base.pop_back();
  add(base + "/.well-known/openid-configuration");
  return out;
}

Result<AuthorizationServerMetadata> discover(const std::string& issuer, const http::Fetcher& fetcher,
                                             const http::ClientOptions& options) {
  const auto urls = metadata_urls(issuer);
  if (urls.empty()) return fail(-32001, "issuer is not an absolute http(s) URL", 500);
  std::string last = "no metadata document found";
  for (const auto& url : urls) {
    http::ClientRequest request;
    request.url = url;
    request.headers.set("Accept", "application/json");
    auto response = fetcher(request, options);
    if (!response) {
      last = "metadata fetch failed: " + response.error().message;
      continue;
    }
    if (response->status != 200) {
      last = "metadata answered HTTP " + std::to_string(response->status);
      continue;
    }
    auto doc = parse_strict_object(response->body, 8, 10'000);
    if (!doc) {
      last = "metadata is not a JSON object";
      continue;
    }
    AuthorizationServerMetadata meta;
    auto str = [&](std::string_view k) {
      const auto* v = doc->if_contains(k);
      return v && v->is_string() ? std::string(v->get_string()) : std::string();
    };
    meta.issuer = str("issuer");
    if (meta.issuer != issuer) {
      last = "metadata names another issuer";
      continue;
    }
    meta.jwks_uri = str("jwks_uri");
    meta.introspection_endpoint = str("introspection_endpoint");
    return meta;
  }
  return fail(-32001, last, 503);
}

}  // namespace bastion::auth
