#include "auth/introspection.hpp"

#include "core/base64.hpp"

namespace bastion::auth {

namespace {

// application/x-www-form-urlencoded (RFC 6749 Appendix B, used for client credentials too).
std::string form_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') out.push_back(static_cast<char>(c));
    else if (c == ' ') out.push_back('+');
    else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

http::ClientRequest introspection_request(std::string_view endpoint, std::string_view token,
                                          const IntrospectionSettings& settings) {
  http::ClientRequest request;
  request.method = "POST";
  request.url = std::string(endpoint);
  request.headers.set("Content-Type", "application/x-www-form-urlencoded");
  request.headers.set("Accept", "application/json");
  request.headers.set("Authorization", "Basic " + core::base64_encode(form_encode(settings.client_id) + ":" +
                                                                     form_encode(settings.client_secret)));
  request.body = "token=" + form_encode(token) + "&token_type_hint=access_token";
  return request;
}

Result<json::object> introspect(std::string_view endpoint, std::string_view token, const IntrospectionSettings& settings,
                                const http::Fetcher& fetcher, const http::ClientOptions& options) {
  auto response = fetcher(introspection_request(endpoint, token, settings), options);
  if (!response) return fail(-32001, "introspection request failed", 503);
  if (response->status != 200) return fail(-32001, "introspection answered HTTP " + std::to_string(response->status), 503);
  auto doc = parse_strict_object(response->body, 8, 1000);
  if (!doc) return fail(-32001, "introspection answer is not a JSON object", 503);
  const auto* active = doc->if_contains("active");
  // RFC 7662 §2.2: `active` is REQUIRED and boolean; anything else is not an answer.
  if (!active || !active->is_bool()) return fail(-32001, "introspection answer without active", 503);
  return std::move(*doc);
}

}  // namespace bastion::auth
