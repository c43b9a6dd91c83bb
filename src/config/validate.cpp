// Meaning and cross-references of a Config: ranges, addresses, URLs, route paths, module names,
// listener safety. Runs on loaded configs, the default one and after command-line overrides.
#include <boost/url/parse.hpp>
#include <boost/url/authority_view.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "config/config.hpp"
#include "config/detail.hpp"
#include "core/base64.hpp"

namespace bastion::config {

std::vector<ConfigError> validate_impl(const Config& config,
                                       const std::optional<std::vector<std::string>>& known_modules,
                                       const std::set<std::string>& failed_paths);

namespace {

// Paths the HTTP router answers itself (DESIGN.md §2); a route there would be shadowed or would
// shadow them.
bool is_reserved_path(const std::string& path) {
  for (std::string_view exact : {"/healthz", "/readyz", "/metrics"}) {
    if (path == exact) return true;
  }
  for (std::string_view prefix : {"/.well-known", "/oauth"}) {
    if (path == prefix || (path.starts_with(prefix) && path[prefix.size()] == '/')) return true;
  }
  return false;
}

// A route path: "/" then segments of unreserved characters (RFC 3986 §2.3), no empty, "." or
// ".." segments, no trailing slash. Returns what is wrong, or an empty string.
std::string route_path_problem(const std::string& path) {
  if (path.empty()) return "must not be empty";
  if (path.front() != '/') return "'" + path + "' must start with '/'";
  if (path == "/") return "'/' cannot be a route; name a path such as /mcp";
  if (path.size() > 200) return "is longer than 200 characters";
  if (path.back() == '/') return "'" + path + "' must not end with '/'";
  std::size_t start = 1;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const std::string segment = path.substr(start, end - start);
    if (segment.empty()) return "'" + path + "' has an empty segment ('//')";
    if (segment == "." || segment == "..") return "'" + path + "' must not contain '.' or '..' segments";
    for (char c : segment) {
      const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == '~';
      if (!ok) {
        return "'" + path + "' contains '" + std::string(1, c) + "'; use letters, digits, '-', '.', '_' and '~'";
      }
    }
    start = end + 1;
  }
  if (is_reserved_path(path)) return "'" + path + "' is reserved (health, metrics and OAuth endpoints)";
  return {};
}

// http(s)://host[:port][/path], no query, no fragment. Returns what is wrong, or empty.
std::string http_url_problem(const std::string& text, bool allow_path) {
  auto url = boost::urls::parse_absolute_uri(text);
  if (!url) return "'" + text + "' is not an absolute URL";
  if (url->scheme_id() != boost::urls::scheme::http && url->scheme_id() != boost::urls::scheme::https) {
    return "'" + text + "' must start with http:// or https://";
  }
  if (url->host().empty()) return "'" + text + "' has no host";
  // Boost.URL 1.81 accepts "http://127.0.0.1.evil.example" as host 127.0.0.1 with a path
  // ".evil.example"; RFC 3986 §3.3 (and browsers) disagree, so such URLs are refused.
  if (!url->encoded_path().empty() && url->encoded_path().front() != '/') return "'" + text + "' has an invalid host";
  if (url->has_userinfo()) return "'" + text + "' must not contain user information";
  if (url->has_query() || url->has_fragment()) return "'" + text + "' must not have a query or fragment";
  if (!allow_path && !url->path().empty()) return "'" + text + "' must be an origin (scheme://host[:port]) without a path";
  if (allow_path && !url->path().empty() && url->path().back() == '/') return "'" + text + "' must not end with '/'";
  return {};
}

// host or host:port as it appears in a Host header; "[v6]" and "[v6]:port" for IPv6; "*".
std::string host_problem(const std::string& text) {
  if (text.empty()) return "must not be empty";
  if (text == "*") return {};
  if (text.find("://") != std::string::npos || text.find('/') != std::string::npos) {
    return "'" + text + "' must be a host name (host or host:port), not a URL";
  }
  if (std::count(text.begin(), text.end(), ':') > 1 && text.front() != '[') {
    return "'" + text + "' looks like an IPv6 address: write it in brackets, e.g. [::1] or [::1]:8080";
  }
  auto authority = boost::urls::parse_authority(text);
  if (!authority || authority->has_userinfo() || authority->encoded_host().empty()) {
    return "'" + text + "' is not a host name (host or host:port)";
  }
  if (authority->has_port()) {
    const auto port = authority->port();
    const bool digits = !port.empty() && std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || port.size() > 5 || std::stoul(std::string(port)) > 65535) {
      return "'" + text + "' has an invalid port";
    }
  }
  return {};
}

class Validator {
 public:
  Validator(const Config& config, const std::optional<std::vector<std::string>>& known_modules,
            const std::set<std::string>& failed_paths)
      : config_(config), known_(known_modules), failed_(failed_paths) {}

  std::vector<ConfigError> run() {
    check_server("server", config_.server, nullptr);
    check_listeners();
    check_limits();
    check_sessions();
    check_security();
    check_routes();
    check_auth();
    check_observability();
    check_authorization_server();
    return std::move(errors_);
  }

 private:
  // Quiet about a path the parser already reported, or any path below it.
  bool already_reported(const std::string& path) const {
    for (std::string p = path; !p.empty(); p = detail::parent_path(p)) {
      if (failed_.contains(p)) return true;
    }
    return false;
  }

  void report(const std::string& path, const std::string& message) {
    if (already_reported(path)) return;
    errors_.push_back(ConfigError{config_.location_of(path), path.empty() ? message : path + ": " + message});
  }

  // A value as it may appear in a message: the reference as written when it came from one, so
  // that a resolved secret never reaches the terminal or a log.
  std::string shown(const std::string& path, const std::string& value) const {
    auto it = config_.references.find(path);
    return it == config_.references.end() ? value : it->second;
  }

  // report() for a message that quotes the value at `path`.
  void report_value(const std::string& path, const std::string& value, std::string message) {
    const std::string display = shown(path, value);
    if (!value.empty() && display != value) {
      for (std::size_t at = message.find(value); at != std::string::npos; at = message.find(value, at + display.size())) {
        message.replace(at, value.size(), display);
      }
    }
    report(path, message);
  }

  void range(const std::string& path, std::uint64_t value, std::uint64_t min, std::uint64_t max) {
    if (value < min || value > max) {
      report(path, std::to_string(value) + " is out of range (" + std::to_string(min) + " to " + std::to_string(max) + ")");
    }
  }

  void check_server(const std::string& prefix, const ServerConfig& server, const ServerConfig* inherited) {
    // A route's inherited values were checked once, at the top level.
    if (server.name.empty() && !(inherited && inherited->name.empty())) report(prefix + ".name", "must not be empty");
  }

  void check_listeners() {
    if (config_.listeners.empty()) {
      report("listeners", "at least one listener is needed");
      return;
    }
    struct Bound {
      detail::IpAddress ip;
      std::uint16_t port;
      std::string path;
    };
    std::vector<Bound> bound;
    for (std::size_t i = 0; i < config_.listeners.size(); ++i) {
      const auto& l = config_.listeners[i];
      const std::string path = "listeners[" + std::to_string(i) + "]";
      if (l.tls) {
        if (l.tls->certificate_file.empty()) report(path + ".tls.certificate", "must name a PEM file");
        if (l.tls->private_key_file.empty()) report(path + ".tls.private_key", "must name a PEM file");
      }
      if (!l.public_url.empty()) {
        if (auto problem = http_url_problem(l.public_url, true); !problem.empty()) report_value(path + ".public_url", l.public_url, problem);
      }
      // http::Server takes "localhost" as 127.0.0.1; any other name would need DNS at start-up.
      const auto ip = detail::parse_ip(l.address == "localhost" ? std::string("127.0.0.1") : l.address);
      if (!ip) {
        report_value(path + ".address", l.address, "'" + l.address +
                                      "' is not an IP address (127.0.0.1 or ::1: this machine only; 0.0.0.0 or ::: "
                                      "all interfaces)");
        continue;
      }
      // Without TLS, bearer tokens and session ids cross the network in clear text (MCP
      // transports, Security Warning; RFC 6750 §5.3): binding beyond loopback that way must be
      // asked for, typically behind a proxy that terminates TLS.
      if (!detail::is_loopback(*ip) && !l.tls && !l.allow_insecure) {
        report_value(path + ".address", l.address, "plain HTTP on " + l.address +
                                      " is reachable from the network: configure tls, or set allow_insecure: true "
                                      "(--allow-insecure), e.g. behind a proxy that terminates TLS");
      }
      if (l.port != 0) {
        for (const auto& other : bound) {
          // A wildcard address overlaps every address of its family; "::" usually also takes
          // IPv4 (dual stack).
          const bool same_family = other.ip.v6 == ip->v6;
          const bool overlap = (same_family && std::equal(ip->bytes, ip->bytes + 16, other.ip.bytes)) ||
                               (detail::is_unspecified(*ip) && (same_family || ip->v6)) ||
                               (detail::is_unspecified(other.ip) && (same_family || other.ip.v6));
          if (other.port == l.port && overlap) {
            report(path + ".port", "port " + std::to_string(l.port) + " on " + shown(path + ".address", l.address) +
                                      " is already used by " + other.path);
            break;
          }
        }
        bound.push_back(Bound{*ip, l.port, path});
      }
    }
  }

  static std::uint64_t ms(std::chrono::milliseconds d) {
    return static_cast<std::uint64_t>(std::max<std::int64_t>(0, d.count()));
  }

  void check_limits() {
    const auto& l = config_.limits;
    range("limits.max_body_bytes", l.max_body_bytes, 1, 1ull << 30);
    range("limits.max_header_bytes", l.max_header_bytes, 1024, 1024 * 1024);
    range("limits.read_timeout_ms", ms(l.read_timeout), 1, 3'600'000);
    range("limits.idle_timeout_ms", ms(l.idle_timeout), 1, 86'400'000);
    range("limits.write_timeout_ms", ms(l.write_timeout), 1, 3'600'000);
    range("limits.max_connections", l.max_connections, 1, 1'000'000);
    range("limits.max_write_queue_bytes", l.max_write_queue_bytes, 64 * 1024, 1ull << 30);
    range("limits.shutdown_grace_ms", ms(l.shutdown_grace), 0, 600'000);
    if (l.lingering_close_bytes) range("limits.lingering_close_bytes", *l.lingering_close_bytes, 0, 1ull << 34);
    range("limits.lingering_close_timeout_ms", ms(l.lingering_close_timeout), 0, 600'000);
    range("limits.threads", l.threads, 0, 256);
  }

  void check_sessions() {
    const auto& s = config_.sessions;
    range("sessions.idle_timeout_s", static_cast<std::uint64_t>(std::max<std::int64_t>(0, s.idle_timeout.count())), 1,
          7 * 86'400);
    range("sessions.max_sessions", s.max_sessions, 1, 10'000'000);
    range("sessions.max_sessions_per_client", s.max_sessions_per_client, 1, 10'000'000);
  }

  void check_security() {
    const auto& s = config_.security;
    for (std::size_t i = 0; i < s.allowed_hosts.size(); ++i) {
      if (auto problem = host_problem(s.allowed_hosts[i]); !problem.empty()) {
        report_value("security.allowed_hosts[" + std::to_string(i) + "]", s.allowed_hosts[i], problem);
      }
    }
    for (std::size_t i = 0; i < s.allowed_origins.size(); ++i) {
      if (s.allowed_origins[i] == "*" || s.allowed_origins[i] == "null") continue;  // any / the opaque origin
      if (auto problem = http_url_problem(s.allowed_origins[i], false); !problem.empty()) {
        report_value("security.allowed_origins[" + std::to_string(i) + "]", s.allowed_origins[i], problem);
      }
    }
    // Messages about keys never quote them.
    constexpr const char* kKeyShape = "must be the base64 of exactly 32 random bytes (e.g. from: openssl rand -base64 32)";
    std::map<std::string, std::size_t> keys;  // decoded key -> first index
    for (std::size_t i = 0; i < s.request_state_keys.size(); ++i) {
      const std::string path = "security.request_state_keys[" + std::to_string(i) + "]";
      auto key = core::base64_decode(s.request_state_keys[i]);
      if (!key || key->size() != 32) {
        report(path, kKeyShape);
        continue;
      }
      if (auto [it, inserted] = keys.emplace(std::move(*key), i); !inserted) {
        report(path, "repeats security.request_state_keys[" + std::to_string(it->second) + "]");
      }
    }
    if (!s.argument_digest_key.empty()) {
      auto key = core::base64_decode(s.argument_digest_key);
      if (!key || key->size() != 32) report("security.argument_digest_key", kKeyShape);
    }
    for (std::size_t i = 0; i < s.trusted_proxies.size(); ++i) {
      if (!detail::is_ip_or_cidr(s.trusted_proxies[i])) {
        report_value("security.trusted_proxies[" + std::to_string(i) + "]", s.trusted_proxies[i],
               "'" + s.trusted_proxies[i] + "' is not an IP address or CIDR block (e.g. 10.0.0.0/8)");
      }
    }
  }

  void check_routes() {
    if (config_.routes.empty()) {
      report("routes", "at least one route is needed");
      return;
    }
    std::map<std::string, std::string> seen_paths;  // path -> key path of the first route
    for (std::size_t i = 0; i < config_.routes.size(); ++i) {
      const auto& route = config_.routes[i];
      const std::string path = "routes[" + std::to_string(i) + "]";
      check_server(path + ".server", route.server, &config_.server);
      if (auto problem = route_path_problem(route.path); !problem.empty()) {
        report_value(path + ".path", route.path, problem);
      } else if (auto [it, inserted] = seen_paths.emplace(route.path, path); !inserted) {
        report_value(path + ".path", route.path, "'" + route.path + "' is already served by " + it->second);
      }
      check_modules(path, route);
    }
    // An endpoint also serves <path>/sse and <path>/messages (the 2024-11-05 transport), so a
    // route there would never be reached.
    for (std::size_t i = 0; i < config_.routes.size(); ++i) {
      for (const auto& [other, other_path] : seen_paths) {
        const std::string& mine = config_.routes[i].path;
        if (mine == other + "/sse" || mine == other + "/messages") {
          const std::string path = "routes[" + std::to_string(i) + "].path";
          report_value(path, mine,
                       "'" + mine + "' is served by " + other_path + " (" + shown(other_path + ".path", other) +
                           ") for the HTTP+SSE transport");
        }
      }
    }
  }

  // An issuer-side URL: https, or http to a loopback host when the issuer allows it (MCP
  // authorization: every authorization server endpoint uses HTTPS).
  void check_issuer_url(const std::string& path, const std::string& value, bool allow_http_loopback, bool templated) {
    std::string checked = value;
    if (const auto at = checked.find("{tenantid}"); templated && at != std::string::npos)
      checked.replace(at, 10, "tenant");
    auto parsed = boost::urls::parse_absolute_uri(checked);
    if (!parsed || !parsed->has_authority() || parsed->encoded_host().empty()) {
      report_value(path, value, "'" + value + "' is not an absolute URL");
      return;
    }
    if (parsed->has_fragment() || parsed->has_query()) {
      report_value(path, value, "'" + value + "' must have no query or fragment");
      return;
    }
    if (checked.find('{') != std::string::npos) {
      report_value(path, value, "'" + value + "': {tenantid} is only for the entra profile with a jwks_uri");
      return;
    }
    const std::string scheme(parsed->scheme());
    if (scheme == "https") return;
    const std::string host(parsed->encoded_host());
    const bool loopback = host == "localhost" || host.starts_with("127.") || host == "[::1]";
    if (scheme == "http" && allow_http_loopback && loopback) return;
    report_value(path, value,
                 "'" + value + "' must use https (http only to a loopback host with allow_http_loopback: true)");
  }

  void check_auth() {
    // Names the resource server implements (src/auth/jose.hpp, src/auth/auth_types.hpp).
    static const std::set<std::string> kAlgorithms{"RS256", "RS384", "RS512", "PS256", "PS384",
                                                   "PS512", "ES256", "ES384", "EdDSA"};
    static const std::set<std::string> kProfiles{"generic", "keycloak", "entra", "auth0", "okta"};
    std::set<std::string> names;
    for (std::size_t i = 0; i < config_.auth.issuers.size(); ++i) {
      const auto& is = config_.auth.issuers[i];
      const std::string path = "auth.issuers[" + std::to_string(i) + "]";
      if (is.name.empty()) report(path + ".name", "must not be empty");
      else if (is.name == kEmbeddedIssuerName)
        report_value(path + ".name", is.name, "'" + is.name + "' is reserved for the embedded authorization server");
      else if (!names.insert(is.name).second) report_value(path + ".name", is.name, "issuer '" + is.name + "' is listed twice");
      const bool templated = is.profile == "entra" && !is.jwks_uri.empty();
      check_issuer_url(path + ".issuer", is.issuer, is.allow_http_loopback, templated);
      if (!is.jwks_uri.empty()) check_issuer_url(path + ".jwks_uri", is.jwks_uri, is.allow_http_loopback, false);
      if (is.algorithms.empty()) report(path + ".algorithms", "at least one algorithm is needed");
      for (std::size_t j = 0; j < is.algorithms.size(); ++j) {
        if (!kAlgorithms.contains(is.algorithms[j]))
          report_value(path + ".algorithms[" + std::to_string(j) + "]", is.algorithms[j],
                       "unsupported algorithm '" + is.algorithms[j] +
                           "' (expected RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 or EdDSA; never none or HS*)");
      }
      if (!kProfiles.contains(is.profile))
        report_value(path + ".profile", is.profile,
                     "unknown profile '" + is.profile + "' (expected generic, keycloak, entra, auth0 or okta)");
      if (is.jwks_uri.empty() && !is.discovery && !is.introspection)
        report(path, "needs jwks_uri, discovery: true or introspection");
      if (is.refresh_interval.count() == 0) report(path + ".refresh_interval_s", "must be at least 1");
      if (is.max_staleness < is.refresh_interval)
        report(path + ".max_staleness_s", "must be at least refresh_interval_s");
      if (is.clock_skew > std::chrono::seconds(600)) report(path + ".clock_skew_s", "at most 600 seconds");
      if (is.introspection) {
        if (is.introspection->client_id.empty()) report(path + ".introspection.client_id", "is required");
        if (is.introspection->client_secret.empty()) report(path + ".introspection.client_secret", "is required");
        if (!is.introspection->endpoint.empty())
          check_issuer_url(path + ".introspection.endpoint", is.introspection->endpoint, is.allow_http_loopback, false);
        else if (!is.discovery)
          report(path + ".introspection.endpoint", "is required when discovery is off");
      }
    }
    // The embedded authorization server is one more issuer, trusted through its public metadata
    // and JWKS like any other (it is reached over loopback HTTP).
    if (config_.authorization_server.enabled) names.insert(kEmbeddedIssuerName);
    std::string primary;
    for (std::size_t i = 0; i < config_.routes.size(); ++i) {
      const auto& route = config_.routes[i];
      if (!route.auth) continue;
      const std::string path = "routes[" + std::to_string(i) + "].auth";
      if (names.empty())
        report(path, "a protected route needs an issuer: list one in auth.issuers or enable authorization_server");
      for (std::size_t j = 0; j < route.auth->issuers.size(); ++j) {
        if (!names.contains(route.auth->issuers[j]))
          report_value(path + ".issuers[" + std::to_string(j) + "]", route.auth->issuers[j],
                       "unknown issuer '" + route.auth->issuers[j] +
                           "' (not in auth.issuers; 'embedded' needs authorization_server.enabled)");
      }
      for (const auto& s : route.auth->scopes)
        if (s.empty() || s.find_first_of(" \"\\") != std::string::npos) report(path + ".scopes", "scopes are single words without quotes");
      if (route.auth->primary) {
        if (!primary.empty()) report(path + ".primary", "only one route can be primary (already " + primary + ")");
        else primary = path;
      }
    }
  }

  void check_observability() {
    if (config_.audit.enabled && config_.audit.sink == AuditConfig::Sink::file && config_.audit.path.empty())
      report("audit.path", "the file sink needs a path");
    const auto& a = config_.admin;
    if (a.enabled) {
      const auto ip = detail::parse_ip(a.address == "localhost" ? std::string("127.0.0.1") : a.address);
      if (!ip) {
        report_value("admin.address", a.address, "'" + a.address + "' is not an IP address (127.0.0.1 or ::1 by default)");
      } else if (!detail::is_loopback(*ip) && !a.allow_insecure) {
        // Metrics and readiness tell an attacker what runs here and how it is doing.
        report_value("admin.address", a.address, "the admin listener on " + a.address +
                                                     " is reachable from the network: keep it on loopback, or set "
                                                     "admin.allow_insecure: true (e.g. for a pod's Prometheus scrape)");
      }
      if (a.port != 0)
        for (std::size_t i = 0; i < config_.listeners.size(); ++i)
          if (config_.listeners[i].port == a.port)
            report("admin.port", "port " + std::to_string(a.port) + " is already used by listeners[" + std::to_string(i) + "]");
    }
    const auto& t = config_.tracing;
    if (t.enabled) {
      if (auto problem = http_url_problem(t.otlp_endpoint, true); !problem.empty())
        report_value("tracing.otlp_endpoint", t.otlp_endpoint, problem);
      if (t.service_name.empty()) report("tracing.service_name", "must not be empty");
    }
    range("tracing.max_batch_size", t.max_batch_size, 1, 100'000);
    range("tracing.max_queue_size", t.max_queue_size, 1, 1'000'000);
    if (t.max_queue_size < t.max_batch_size)
      report("tracing.max_queue_size", "must be at least tracing.max_batch_size (" + std::to_string(t.max_batch_size) + ")");
    range("tracing.export_timeout_ms", ms(t.export_timeout), 1, 600'000);
    range("tracing.schedule_delay_ms", ms(t.schedule_delay), 1, 600'000);
  }

  // ---- authorization_server ------------------------------------------------------------------

  static bool is_loopback_host_name(std::string_view host) {
    if (host == "localhost" || host == "[::1]") return true;
    auto ip = detail::parse_ip(std::string(host));
    return ip && detail::is_loopback(*ip);
  }

  // https, or http on a loopback host (OAuth 2.1 §1.5 / MCP authorization: redirect URIs are
  // https or localhost); no fragment, no userinfo.
  static std::string redirect_uri_problem(const std::string& text) {
    auto url = boost::urls::parse_absolute_uri(text);
    if (!url || !url->has_authority() || url->host().empty()) return "'" + text + "' is not an absolute URL";
    if (url->has_fragment()) return "'" + text + "' must not have a fragment";
    if (!url->encoded_path().empty() && url->encoded_path().front() != '/') return "'" + text + "' has an invalid host";
    if (url->has_userinfo()) return "'" + text + "' must not contain user information";
    if (url->scheme_id() == boost::urls::scheme::https) return {};
    if (url->scheme_id() == boost::urls::scheme::http && is_loopback_host_name(url->encoded_host_address())) return {};
    return "'" + text + "' must be https, or http on a loopback host (localhost, 127.0.0.1, [::1])";
  }

  static bool valid_scope_token(const std::string& s) {
    if (s.empty()) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
      const unsigned char u = static_cast<unsigned char>(c);
      return u == 0x21 || (u >= 0x23 && u <= 0x5B) || (u >= 0x5D && u <= 0x7E);
    });
  }

  void check_authorization_server() {
    const auto& as = config_.authorization_server;
    const std::string p = "authorization_server";
    if (!as.issuer.empty()) {
      if (auto problem = http_url_problem(as.issuer, true); !problem.empty()) {
        report(p + ".issuer", problem);
      } else {
        auto url = boost::urls::parse_absolute_uri(as.issuer);
        // MCP authorization, Communication Security: every AS endpoint MUST use HTTPS; plain HTTP
        // only for a development issuer on this machine.
        if (url->scheme_id() != boost::urls::scheme::https && !is_loopback_host_name(url->encoded_host_address())) {
          report(p + ".issuer", "'" + as.issuer + "' must be https (plain http only on a loopback host)");
        }
      }
    }
    if (as.data_dir.empty()) report(p + ".data_dir", "must name a folder, or be \":memory:\"");
    if (as.signing_algorithm != "ES256" && as.signing_algorithm != "EdDSA") {
      report(p + ".signing_algorithm", "'" + as.signing_algorithm + "' is not supported (ES256 or EdDSA)");
    }
    range(p + ".access_token_ttl_s", static_cast<std::uint64_t>(as.access_token_ttl.count()), 60, 86'400);
    range(p + ".code_ttl_s", static_cast<std::uint64_t>(as.code_ttl.count()), 10, 600);
    range(p + ".refresh_token_ttl_s", static_cast<std::uint64_t>(as.refresh_token_ttl.count()), 60, 366 * 86'400);
    range(p + ".key_rotation_s", static_cast<std::uint64_t>(as.key_rotation.count()), 3'600, 366 * 86'400);
    if (as.enabled && as.scopes.empty()) report(p + ".scopes", "must offer at least one scope");
    std::set<std::string> scopes;
    for (std::size_t i = 0; i < as.scopes.size(); ++i) {
      if (!valid_scope_token(as.scopes[i])) report(p + ".scopes[" + std::to_string(i) + "]", "'" + as.scopes[i] + "' is not a valid scope (RFC 6749 §3.3)");
      scopes.insert(as.scopes[i]);
    }
    for (std::size_t i = 0; i < as.resources.size(); ++i) {
      if (auto problem = http_url_problem(as.resources[i], true); !problem.empty()) report(p + ".resources[" + std::to_string(i) + "]", problem);
    }
    std::set<std::string> users;
    for (std::size_t i = 0; i < as.users.size(); ++i) {
      const auto& u = as.users[i];
      const std::string up = p + ".users[" + std::to_string(i) + "]";
      if (u.username.empty() || u.username.size() > 128) report(up + ".username", "must be 1 to 128 characters");
      else if (!users.insert(u.username).second) report(up + ".username", "'" + u.username + "' is listed twice");
      if (!u.password_hash.starts_with("$argon2id$")) {
        report(up + ".password_hash", "must be an argon2id hash ($argon2id$...); make one with 'bastion hash-password'");
      }
    }
    std::set<std::string> ids;
    for (std::size_t i = 0; i < as.clients.size(); ++i) {
      const auto& c = as.clients[i];
      const std::string cp = p + ".clients[" + std::to_string(i) + "]";
      if (c.client_id.empty() || c.client_id.size() > 200) report(cp + ".client_id", "must be 1 to 200 characters");
      else if (c.client_id.starts_with("https://")) report(cp + ".client_id", "https URLs are Client ID Metadata Documents; choose another id");
      else if (!ids.insert(c.client_id).second) report(cp + ".client_id", "'" + c.client_id + "' is listed twice");
      const auto& m = c.token_endpoint_auth_method;
      if (m != "none" && m != "client_secret_basic" && m != "client_secret_post" && m != "private_key_jwt") {
        report(cp + ".token_endpoint_auth_method",
               "'" + m + "' is not supported (none, client_secret_basic, client_secret_post, private_key_jwt)");
      } else if (m == "private_key_jwt") {
        if (!c.client_secret.empty()) report(cp + ".client_secret", "a private_key_jwt client has no secret");
        if (c.public_key.find("-----BEGIN PUBLIC KEY-----") == std::string::npos) {
          report(cp + ".public_key", "private_key_jwt needs the client's PEM public key (-----BEGIN PUBLIC KEY-----)");
        }
      } else if (!c.public_key.empty()) {
        report(cp + ".public_key", "only a private_key_jwt client has a public_key");
      } else if (m == "none" && !c.client_secret.empty()) {
        report(cp + ".client_secret", "a public client (token_endpoint_auth_method: none) has no secret");
      } else if (m != "none" && c.client_secret.size() < 16) {
        report(cp + ".client_secret", "a confidential client needs a secret of at least 16 characters");
      }
      bool code_flow = false;
      for (std::size_t g = 0; g < c.grant_types.size(); ++g) {
        const auto& grant = c.grant_types[g];
        if (grant == "authorization_code") code_flow = true;
        if (grant != "authorization_code" && grant != "refresh_token" && grant != "client_credentials") {
          report(cp + ".grant_types[" + std::to_string(g) + "]", "'" + grant + "' is not supported");
        } else if (grant == "client_credentials" && m == "none") {
          report(cp + ".grant_types[" + std::to_string(g) + "]", "client_credentials needs a confidential client (a client_secret)");
        }
      }
      if (code_flow && c.redirect_uris.empty()) report(cp + ".redirect_uris", "the authorization_code grant needs at least one redirect URI");
      for (std::size_t r = 0; r < c.redirect_uris.size(); ++r) {
        if (auto problem = redirect_uri_problem(c.redirect_uris[r]); !problem.empty()) {
          report(cp + ".redirect_uris[" + std::to_string(r) + "]", problem);
        }
      }
      for (std::size_t s = 0; s < c.scopes.size(); ++s) {
        if (!scopes.contains(c.scopes[s])) report(cp + ".scopes[" + std::to_string(s) + "]", "'" + c.scopes[s] + "' is not in authorization_server.scopes");
      }
    }
    range(p + ".dcr.max_clients", as.dcr.max_clients, 0, 1'000'000);
    range(p + ".dcr.per_minute", as.dcr.per_minute, 1, 10'000);
    range(p + ".dcr.per_minute_per_address", as.dcr.per_minute_per_address, 1, 10'000);
    range(p + ".cimd.max_document_bytes", as.cimd.max_document_bytes, 512, 1024 * 1024);
    range(p + ".cimd.timeout_ms", static_cast<std::uint64_t>(as.cimd.timeout.count()), 100, 60'000);
    range(p + ".cimd.cache_ttl_s", static_cast<std::uint64_t>(as.cimd.cache_ttl.count()), 0, 86'400);
  }

  void check_modules(const std::string& path, const RouteConfig& route) {
    if (route.modules.empty()) report(path + ".modules", "a route needs at least one module");
    std::set<std::string> seen;
    for (std::size_t j = 0; j < route.modules.size(); ++j) {
      const std::string& name = route.modules[j];
      const std::string item = path + ".modules[" + std::to_string(j) + "]";
      if (name.empty()) {
        report(item, "module name must not be empty");
      } else if (known_ && std::find(known_->begin(), known_->end(), name) == known_->end()) {
        std::string available;
        for (const auto& k : *known_) available += (available.empty() ? "" : ", ") + k;
        report_value(item, name, "unknown module '" + name + "' (available: " + available + ")");
      } else if (!seen.insert(name).second) {
        report_value(item, name, "module '" + name + "' is listed twice");
      }
    }
    for (const auto& [name, settings] : route.module_settings) {
      if (std::find(route.modules.begin(), route.modules.end(), name) == route.modules.end()) {
        report(path + ".module_settings." + name, "settings for module '" + name + "', which this route does not list in modules");
      }
    }
  }

  const Config& config_;
  const std::optional<std::vector<std::string>>& known_;
  const std::set<std::string>& failed_;
  std::vector<ConfigError> errors_;
};

}  // namespace

std::vector<ConfigError> validate_impl(const Config& config,
                                       const std::optional<std::vector<std::string>>& known_modules,
                                       const std::set<std::string>& failed_paths) {
  return Validator(config, known_modules, failed_paths).run();
}

std::vector<ConfigError> validate(const Config& config, const std::optional<std::vector<std::string>>& known_modules) {
  return validate_impl(config, known_modules, {});
}

std::vector<ConfigError> apply_overrides(Config& config, const ListenerOverrides& overrides,
                                         const std::optional<std::vector<std::string>>& known_modules) {
  if (config.listeners.empty()) config.listeners.push_back(ListenerConfig{});
  auto& first = config.listeners.front();
  if (overrides.address) {
    first.address = *overrides.address;
    config.references.erase("listeners[0].address");
    config.locations["listeners[0].address"] = Location{"--listen", 0, 0};
  }
  if (overrides.port) {
    first.port = *overrides.port;
    config.locations["listeners[0].port"] = Location{"--port", 0, 0};
  }
  if (overrides.allow_insecure) {
    first.allow_insecure = true;
    config.locations["listeners[0].allow_insecure"] = Location{"--allow-insecure", 0, 0};
  }
  return validate(config, known_modules);
}

}  // namespace bastion::config
