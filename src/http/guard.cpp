#include "http/guard.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include <boost/url/authority_view.hpp>
#include <boost/url/ipv4_address.hpp>
#include <boost/url/ipv6_address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace bastion::http {

namespace {

namespace urls = boost::urls;

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_loopback_name(std::string_view lower_host) {
  return lower_host == "localhost" || lower_host == "127.0.0.1" || lower_host == "[::1]";
}

// RFC 3986 port = *DIGIT; an empty port means "the default" (§3.2.3). Ports above 65535 do
// not exist: such a value is malformed, not "some port".
struct ParsedPort {
  bool valid = true;
  std::optional<std::uint16_t> port;
};

ParsedPort parse_port(const urls::authority_view& authority) {
  if (!authority.has_port()) return {};
  std::string_view digits = authority.port();
  if (digits.empty()) return {};
  unsigned value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc{} || end != digits.data() + digits.size() || value > 65535) return {false, {}};
  return {true, static_cast<std::uint16_t>(value)};
}

// A Host-style value "host[:port]" (RFC 9110 §7.2: uri-host [ ":" port ]).
struct HostAndPort {
  std::string host;  // lower-case; IPv6 in brackets
  std::optional<std::uint16_t> port;
};

std::optional<HostAndPort> parse_host_and_port(std::string_view value) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  auto authority = urls::parse_authority(value);
  // Userinfo is not part of Host (RFC 9110 §7.2); an authority that has one is an attack on
  // naive parsers ("localhost@evil.example.com"), so it is refused rather than stripped.
  if (!authority || authority->has_userinfo()) return std::nullopt;
  std::string_view host = authority->encoded_host();
  if (host.empty()) return std::nullopt;
  auto port = parse_port(*authority);
  if (!port.valid) return std::nullopt;
  return HostAndPort{to_lower(host), port.port};
}

// A serialized origin (RFC 6454 §6.2): scheme "://" host [ ":" port ], nothing else.
struct ParsedOrigin {
  std::string normalized;  // scheme://host[:port], default port omitted
  std::string host;        // lower-case
  std::uint16_t port = 0;  // explicit or the scheme's default
};

std::optional<ParsedOrigin> parse_origin(std::string_view value) {
  auto uri = urls::parse_uri(trim(value));
  if (!uri) return std::nullopt;
  const urls::url_view& url = *uri;
  std::string scheme = to_lower(url.scheme());
  std::uint16_t default_port = 0;
  if (scheme == "http") {
    default_port = 80;
  } else if (scheme == "https") {
    default_port = 443;
  } else {
    return std::nullopt;  // MCP is served over http(s) only; other schemes never match
  }
  if (!url.has_authority() || url.has_userinfo() || url.has_query() || url.has_fragment()) {
    return std::nullopt;
  }
  if (!url.encoded_path().empty()) return std::nullopt;
  std::string_view host = url.encoded_host();
  if (host.empty()) return std::nullopt;
  auto port = parse_port(url.authority());
  if (!port.valid) return std::nullopt;

  ParsedOrigin origin;
  origin.host = to_lower(host);
  origin.port = port.port.value_or(default_port);
  origin.normalized = scheme + "://" + origin.host;
  if (origin.port != default_port) origin.normalized += ":" + std::to_string(origin.port);
  return origin;
}

// The element a trusted proxy appended last: the right-most entry of the right-most field.
// Entries to its left were written by hops we cannot vouch for.
std::optional<std::string_view> last_list_member(const Headers& headers, std::string_view name) {
  std::optional<std::string_view> last;
  for (const auto& [field_name, value] : headers.fields()) {
    if (!iequals(field_name, name)) continue;
    std::string_view v = value;
    auto comma = v.rfind(',');
    std::string_view member = trim(comma == std::string_view::npos ? v : v.substr(comma + 1));
    if (!member.empty()) last = member;
  }
  return last;
}

// host= of the last forwarded-element of the Forwarded fields (RFC 7239 §4). Quoted-string
// values may contain ',' and ';', so the split honours quotes.
std::optional<std::string> forwarded_host(const Headers& headers) {
  std::optional<std::string> result;
  bool seen_element = false;
  for (const auto& [field_name, value] : headers.fields()) {
    if (!iequals(field_name, "Forwarded")) continue;
    // Walk the elements; each complete element replaces the previous answer so the last wins.
    std::size_t i = 0;
    const std::string& v = value;
    while (i <= v.size()) {
      std::optional<std::string> element_host;
      // One element: pairs separated by ';' up to an unquoted ','.
      while (i < v.size() && v[i] != ',') {
        while (i < v.size() && (v[i] == ' ' || v[i] == '\t' || v[i] == ';')) ++i;
        std::size_t name_start = i;
        while (i < v.size() && v[i] != '=' && v[i] != ';' && v[i] != ',') ++i;
        std::string_view pair_name = trim(std::string_view(v).substr(name_start, i - name_start));
        std::string pair_value;
        if (i < v.size() && v[i] == '=') {
          ++i;
          if (i < v.size() && v[i] == '"') {
            ++i;
            while (i < v.size() && v[i] != '"') {
              if (v[i] == '\\' && i + 1 < v.size()) ++i;  // quoted-pair
              pair_value += v[i++];
            }
            if (i < v.size()) ++i;  // closing quote
          } else {
            std::size_t value_start = i;
            while (i < v.size() && v[i] != ';' && v[i] != ',') ++i;
            pair_value = std::string(trim(std::string_view(v).substr(value_start, i - value_start)));
          }
        }
        if (iequals(pair_name, "host")) element_host = std::move(pair_value);
        while (i < v.size() && v[i] != ';' && v[i] != ',') ++i;  // skip junk after a value
      }
      result = std::move(element_host);
      seen_element = true;
      ++i;  // past ',' (or past the end, ending the loop)
    }
  }
  if (!seen_element) return std::nullopt;
  return result;
}

// Textual IP -> 16 bytes (IPv4 as IPv4-mapped IPv6, so one comparison covers both families).
std::optional<std::array<unsigned char, 16>> parse_ip(std::string_view text, bool* is_v4 = nullptr) {
  // A link-local peer may carry a zone ("fe80::1%eth0"); zones do not take part in matching.
  if (auto percent = text.find('%'); percent != std::string_view::npos) text = text.substr(0, percent);
  if (auto v4 = urls::parse_ipv4_address(text)) {
    std::array<unsigned char, 16> bytes{};
    bytes[10] = 0xff;
    bytes[11] = 0xff;
    auto b4 = v4->to_bytes();
    std::copy(b4.begin(), b4.end(), bytes.begin() + 12);
    if (is_v4) *is_v4 = true;
    return bytes;
  }
  if (auto v6 = urls::parse_ipv6_address(text)) {
    if (is_v4) *is_v4 = false;
    return v6->to_bytes();
  }
  return std::nullopt;
}

bool in_range(const std::array<unsigned char, 16>& address, const std::array<unsigned char, 16>& network,
              unsigned prefix_bits) {
  unsigned full_bytes = prefix_bits / 8;
  for (unsigned i = 0; i < full_bytes; ++i) {
    if (address[i] != network[i]) return false;
  }
  unsigned rest = prefix_bits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (address[full_bytes] & mask) == (network[full_bytes] & mask);
}

Response forbidden(std::string_view reason) {
  // The reason is one of our own constant phrases: request bytes are never echoed, so the body
  // needs no escaping and reflects nothing an attacker chose. No id: the request was not read
  // as JSON-RPC (MCP basic/transports: the 403 body MAY be a JSON-RPC error without an id).
  std::string body;
  body.reserve(96 + reason.size());
  body += R"({"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"Forbidden: )";
  body += reason;
  body += R"("}})";
  return json_response(403, std::move(body));
}

}  // namespace

Guard::Guard(GuardConfig config) : config_(std::move(config)) {
  for (const auto& entry : config_.allowed_hosts) {
    if (entry == "*") {
      any_host_ = true;
      continue;
    }
    auto parsed = parse_host_and_port(entry);
    if (!parsed) throw std::invalid_argument("allowed host \"" + entry + "\" is not host or host:port");
    host_rules_.push_back(HostRule{std::move(parsed->host), parsed->port});
  }
  for (const auto& entry : config_.allowed_origins) {
    if (entry == "*") {
      any_origin_ = true;
      continue;
    }
    if (entry == "null") {
      null_origin_ = true;
      continue;
    }
    auto parsed = parse_origin(entry);
    if (!parsed) {
      throw std::invalid_argument("allowed origin \"" + entry +
                                  "\" is not scheme://host[:port] with scheme http or https");
    }
    origins_.push_back(std::move(parsed->normalized));
  }
  for (const auto& entry : config_.trusted_proxies) {
    std::string_view text = entry;
    std::optional<unsigned> prefix;
    if (auto slash = text.find('/'); slash != std::string_view::npos) {
      unsigned bits = 0;
      auto digits = text.substr(slash + 1);
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
      if (ec != std::errc{} || end != digits.data() + digits.size() || digits.empty()) {
        throw std::invalid_argument("trusted proxy \"" + entry + "\" has a bad prefix length");
      }
      prefix = bits;
      text = text.substr(0, slash);
    }
    bool is_v4 = false;
    auto address = parse_ip(text, &is_v4);
    if (!address || text.find('%') != std::string_view::npos) {
      throw std::invalid_argument("trusted proxy \"" + entry + "\" is not an IP address or CIDR");
    }
    unsigned max_bits = is_v4 ? 32 : 128;
    unsigned bits = prefix.value_or(max_bits);
    if (bits > max_bits) throw std::invalid_argument("trusted proxy \"" + entry + "\" has a bad prefix length");
    trusted_proxies_.push_back(AddressRange{*address, is_v4 ? bits + 96 : bits});
  }
}

bool Guard::host_allowed(std::string_view host_field) const {
  auto parsed = parse_host_and_port(host_field);
  if (!parsed) return false;
  if (config_.allow_loopback_names && is_loopback_name(parsed->host)) return true;
  if (any_host_) return true;
  for (const auto& rule : host_rules_) {
    if (rule.host != parsed->host) continue;
    if (!rule.port) return true;
    if (parsed->port == rule.port) return true;
    // No port in Host means the scheme's default; which scheme the client used is not known
    // behind a proxy, so both defaults match. Either way the name itself was allowed.
    if (!parsed->port && (*rule.port == 80 || *rule.port == 443)) return true;
  }
  return false;
}

bool Guard::origin_allowed(std::string_view origin_field, std::string_view effective_host) const {
  if (trim(origin_field) == "null") return null_origin_ || any_origin_;
  auto origin = parse_origin(origin_field);
  if (!origin) return false;  // malformed origins never match, even with "*"
  if (any_origin_) return true;
  if (std::find(origins_.begin(), origins_.end(), origin->normalized) != origins_.end()) return true;
  if (config_.allow_loopback_names && is_loopback_name(origin->host)) return true;
  // Same origin: a page served under the (already allowed) host it is talking to.
  if (auto host = parse_host_and_port(effective_host)) {
    std::uint16_t default_port = origin->normalized.starts_with("https:") ? 443 : 80;
    if (host->host == origin->host && host->port.value_or(default_port) == origin->port) return true;
  }
  return false;
}

bool Guard::peer_is_trusted_proxy(std::string_view remote_address) const {
  if (trusted_proxies_.empty()) return false;
  auto address = parse_ip(remote_address);
  if (!address) return false;
  for (const auto& range : trusted_proxies_) {
    if (in_range(*address, range.network, range.prefix_bits)) return true;
  }
  return false;
}

std::optional<Response> Guard::check(const Request& request) const {
  const Headers& headers = request.headers;

  // 1. The host the client asked for.
  std::string effective_host;
  bool forwarded = false;
  if (peer_is_trusted_proxy(request.remote_address)) {
    // Every forwarded claim present must pass: a proxy that sets one header but forwards the
    // other untouched would otherwise let the client pick the one we believe.
    auto x_forwarded_host = last_list_member(headers, "X-Forwarded-Host");
    auto forwarded_host_value = forwarded_host(headers);
    if (x_forwarded_host) {
      if (!host_allowed(*x_forwarded_host)) return forbidden("forwarded host not allowed");
      effective_host = std::string(*x_forwarded_host);
      forwarded = true;
    }
    if (forwarded_host_value) {
      if (!host_allowed(*forwarded_host_value)) return forbidden("forwarded host not allowed");
      effective_host = std::move(*forwarded_host_value);
      forwarded = true;
    }
  }
  if (!forwarded) {
    // The HTTP layer already refuses HTTP/1.1 requests without exactly one Host (RFC 9112 §3.2);
    // here a missing or repeated Host is refused for every version.
    const std::string* host = headers.find("Host");
    if (host == nullptr || headers.count("Host") != 1) return forbidden("Host header missing or repeated");
    if (!host_allowed(*host)) return forbidden("Host not allowed");
    effective_host = *host;
  }

  // 2. Who is asking. No Origin: not a browser's cross-origin request (CLI tools, SDK clients),
  // which DNS rebinding cannot produce without also sending a Host we refused above.
  std::size_t origin_count = headers.count("Origin");
  if (origin_count == 0) return std::nullopt;
  if (origin_count > 1) return forbidden("Origin repeated");
  if (!origin_allowed(*headers.find("Origin"), effective_host)) return forbidden("Origin not allowed");
  return std::nullopt;
}

std::optional<Response> check(const Request& request, const GuardConfig& config) {
  return Guard(config).check(request);
}

}  // namespace bastion::http
