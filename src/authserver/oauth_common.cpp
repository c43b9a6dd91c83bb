#include "authserver/oauth_common.hpp"

#include <boost/json.hpp>
#include <boost/url.hpp>
#include <openssl/crypto.h>

#include <algorithm>
#include <set>

#include "core/base64.hpp"
#include "core/sha256.hpp"

namespace bastion::authserver {

namespace urls = boost::urls;
namespace json = boost::json;

std::optional<Form> parse_form(std::string_view text, std::size_t max_params) {
  Form out;
  if (text.empty()) return out;
  auto encoded = urls::parse_query(text);
  if (!encoded) return std::nullopt;
  const urls::encoding_opts plus_as_space(true);
  std::size_t count = 0;
  for (const auto& param : *encoded) {
    if (++count > max_params) return std::nullopt;
    std::string key = param.key.decode(plus_as_space);
    if (key.empty()) continue;  // "a=1&&b=2" leaves an empty segment; harmless
    std::string value = param.has_value ? param.value.decode(plus_as_space) : std::string();
    if (!out.emplace(std::move(key), std::move(value)).second) return std::nullopt;
  }
  return out;
}

std::string form_value(const Form& form, std::string_view name) {
  auto it = form.find(name);
  return it == form.end() ? std::string() : it->second;
}

http::Response no_store_json(int status, std::string body) {
  http::Response response = http::json_response(status, std::move(body));
  response.headers.set("Cache-Control", "no-store");
  response.headers.set("Pragma", "no-cache");
  return response;
}

http::Response oauth_error(int status, std::string_view error, std::string_view description) {
  json::object body;
  body["error"] = error;
  if (!description.empty()) body["error_description"] = description;
  return no_store_json(status, json::serialize(body));
}

bool is_form_content_type(const http::Request& request) {
  const std::string* type = request.headers.find("Content-Type");
  if (type == nullptr) return false;
  std::string_view value = *type;
  value = value.substr(0, value.find(';'));
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  return http::iequals(value, "application/x-www-form-urlencoded");
}

bool constant_time_equals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

namespace {

bool is_unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

bool is_base64url_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool is_loopback_host(std::string_view host) {
  if (http::iequals(host, "localhost")) return true;
  if (host == "[::1]" || host == "::1") return true;
  // 127.0.0.0/8 written as a dotted quad.
  if (!host.starts_with("127.")) return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') ++dots;
    else if (c < '0' || c > '9') return false;
  }
  return dots == 3;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

// Boost.URL 1.81 reads "http://127.0.0.1.evil.example/cb" as host 127.0.0.1 with the path
// ".evil.example/cb", while browsers (WHATWG URL) go to 127.0.0.1.evil.example. RFC 3986 §3.3:
// after an authority the path is empty or starts with "/"; anything else is refused, so our view
// of a URL can never differ from the browser's.
bool authority_well_formed(const urls::url_view& url) {
  const auto path = url.encoded_path();
  return path.empty() || path.front() == '/';
}

bool pkce_s256_matches(std::string_view code_verifier, std::string_view code_challenge) {
  if (code_verifier.size() < 43 || code_verifier.size() > 128) return false;
  if (!std::all_of(code_verifier.begin(), code_verifier.end(), is_unreserved)) return false;
  const auto digest = core::sha256(code_verifier);
  const std::string computed =
      core::base64url_encode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
  return constant_time_equals(computed, code_challenge);
}

bool is_valid_s256_challenge(std::string_view code_challenge) {
  return code_challenge.size() == 43 && std::all_of(code_challenge.begin(), code_challenge.end(), is_base64url_char);
}

bool is_allowed_redirect_uri(std::string_view uri) {
  if (uri.size() > 2048) return false;
  auto parsed = urls::parse_absolute_uri(uri);
  if (!parsed) return false;
  if (parsed->has_fragment() || parsed->has_userinfo() || !parsed->has_authority()) return false;
  if (!authority_well_formed(*parsed)) return false;
  const std::string scheme = lower(parsed->scheme());
  const std::string host(parsed->encoded_host_address());
  if (host.empty()) return false;
  if (scheme == "https") return true;
  if (scheme == "http") return is_loopback_host(host);
  return false;
}

std::string uri_origin(std::string_view uri) {
  auto parsed = urls::parse_absolute_uri(uri);
  if (!parsed || !parsed->has_authority() || !authority_well_formed(*parsed)) return {};
  std::string out = lower(parsed->scheme()) + "://" + lower(parsed->encoded_host_address());
  if (parsed->has_port()) out += ":" + std::string(parsed->port());
  return out;
}

std::string uri_host(std::string_view uri) {
  auto parsed = urls::parse_absolute_uri(uri);
  if (!parsed || !parsed->has_authority() || !authority_well_formed(*parsed)) return {};
  return lower(parsed->encoded_host_address());
}

std::optional<std::string> canonical_resource(std::string_view uri) {
  if (uri.empty() || uri.size() > 2048) return std::nullopt;
  auto parsed = urls::parse_absolute_uri(uri);
  // RFC 8707 §2: "MUST be an absolute URI ... MUST NOT include a fragment component".
  if (!parsed || parsed->has_fragment() || !parsed->has_authority() || parsed->has_userinfo()) return std::nullopt;
  if (!authority_well_formed(*parsed)) return std::nullopt;
  const std::string scheme = lower(parsed->scheme());
  if (scheme != "https" && scheme != "http") return std::nullopt;
  std::string out = scheme + "://" + lower(parsed->encoded_host_address());
  if (parsed->has_port()) {
    const std::string port(parsed->port());
    const bool default_port = (scheme == "https" && port == "443") || (scheme == "http" && port == "80");
    if (!default_port && !port.empty()) out += ":" + port;
  }
  std::string path(parsed->encoded_path());
  if (path == "/") path.clear();
  out += path;
  if (parsed->has_query()) out += "?" + std::string(parsed->encoded_query());
  return out;
}

std::optional<std::vector<std::string>> parse_scope(std::string_view scope) {
  std::set<std::string> tokens;
  std::size_t i = 0;
  while (i < scope.size()) {
    if (scope[i] == ' ') {
      ++i;
      continue;
    }
    std::size_t end = scope.find(' ', i);
    if (end == std::string_view::npos) end = scope.size();
    std::string_view token = scope.substr(i, end - i);
    for (char c : token) {
      const unsigned char u = static_cast<unsigned char>(c);
      // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
      if (!(u == 0x21 || (u >= 0x23 && u <= 0x5B) || (u >= 0x5D && u <= 0x7E))) return std::nullopt;
    }
    tokens.emplace(token);
    if (tokens.size() > 64) return std::nullopt;
    i = end;
  }
  return std::vector<std::string>(tokens.begin(), tokens.end());
}

std::string join_scope(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& s : scopes) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '`': out += "&#96;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string add_query_params(std::string_view uri, const std::vector<std::pair<std::string, std::string>>& params) {
  auto parsed = urls::parse_absolute_uri(uri);
  if (!parsed) return std::string(uri);
  urls::url url(*parsed);
  for (const auto& [k, v] : params) url.params().append({k, v});
  return std::string(url.buffer());
}

std::int64_t unix_seconds(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace bastion::authserver
