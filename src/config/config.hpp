// The bastion binary's configuration: YAML -> plain structs, validated as a whole at load
// (DESIGN.md §5 "Config"). Unknown keys, wrong types and broken cross-references are errors,
// each reported as `file:line:col: what is wrong`, all of them at once. This is the only part of
// the project that includes yaml-cpp; nothing here is on a request path.
//
// docs/configuration.md is the reference for every key; keep the two in step.
#pragma once

#include <boost/json.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bastion::config {

namespace json = boost::json;

// Where a value came from. `line` and `column` are 1-based; 0 means "no position" (the embedded
// default, a command-line override).
struct Location {
  std::string file;
  int line = 0;
  int column = 0;

  std::string to_string() const;  // "file:line:col", or just "file" without a position
};

struct ConfigError {
  Location where;
  std::string message;

  std::string to_string() const;  // "file:line:col: message"
};

// One line per error, in file order.
std::string format_errors(const std::vector<ConfigError>& errors);

struct TlsConfig {
  std::string certificate_file;  // PEM chain; relative paths are resolved against the config file
  std::string private_key_file;  // PEM key
};

struct ListenerConfig {
  std::string address = "127.0.0.1";  // an IP literal (127.0.0.1, ::1, 0.0.0.0, ::) or "localhost"
  std::uint16_t port = 8080;           // 0: any free port (tests)
  std::optional<TlsConfig> tls;
  // Plain HTTP on an address other than loopback must be asked for explicitly: tokens and
  // session ids would cross the network in clear text.
  bool allow_insecure = false;
  std::string public_url;  // how clients reach this listener, e.g. https://mcp.example.com; optional
};

// Mirrors http::Limits (src/http/server.hpp), plus the I/O thread count.
struct LimitsConfig {
  std::size_t max_body_bytes = 4 * 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::milliseconds read_timeout{30'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds write_timeout{30'000};
  std::size_t max_connections = 10'000;
  std::size_t max_write_queue_bytes = 8 * 1024 * 1024;
  std::chrono::milliseconds shutdown_grace{10'000};
  // After refusing a request (413, 431, ...) the server reads and discards what the client still
  // sends so that it can read the answer (RFC 9112 §9.6). Unset: 4 × max_body_bytes.
  std::optional<std::size_t> lingering_close_bytes;
  std::chrono::milliseconds lingering_close_timeout{5'000};
  std::size_t threads = 0;  // I/O threads; 0: one per hardware thread
};

struct SecurityConfig {
  // Mirrors http::GuardConfig (src/http/guard.hpp).
  std::vector<std::string> allowed_hosts;    // extra Host values accepted: host, host:port or "*"
  std::vector<std::string> allowed_origins;  // extra Origins: scheme://host[:port], "null" or "*"
  bool allow_loopback_names = true;          // localhost / 127.0.0.1 / [::1] on any port
  std::vector<std::string> trusted_proxies;  // IPs or CIDRs whose X-Forwarded-* are believed
  // AES-256 keys (base64 of 32 bytes) sealing the requestState of 2026-07-28 multi-round
  // requests: the first seals, all open. Secrets: in the file only as ${env:...}/${file:...}
  // references. Empty: a random key per process (single instance only).
  std::vector<std::string> request_state_keys;
  // The key (base64 of 32 bytes) of the HMAC-SHA-256 digests of tool arguments in request lines
  // and audit records: shared by every instance, so that equal calls match across them. A
  // secret: in the file only as a reference. Empty: a random key per process.
  std::string argument_digest_key;
};

struct SessionsConfig {
  std::chrono::seconds idle_timeout{1800};
  std::size_t max_sessions = 10'000;
  std::size_t max_sessions_per_client = 1'000;
};

// What every route reports about itself (serverInfo, instructions); a route may override each.
struct ServerConfig {
  std::string name = "bastion";
  std::string title;
  std::string instructions;
};

// OAuth 2.1 resource server (docs/configuration.md "auth"). Plain strings here; the app turns
// them into auth::IssuerSettings (algorithm and profile names were checked by validate()).
struct IntrospectionConfig {
  std::string endpoint;       // empty: the issuer's introspection_endpoint from discovery
  std::string client_id;
  std::string client_secret;  // a secret: only as a ${env:}/${file:} reference in the file
  std::chrono::seconds max_cache{60};
};

struct IssuerConfig {
  std::string name;
  std::string issuer;
  std::string jwks_uri;
  bool discovery = true;
  std::vector<std::string> algorithms{"RS256"};
  std::vector<std::string> audiences;
  std::string profile = "generic";  // generic | keycloak | entra | auth0 | okta
  bool allow_http_loopback = false;
  std::string ca_file;
  std::chrono::seconds refresh_interval{300};
  std::chrono::seconds unknown_kid_refetch_interval{30};
  std::chrono::seconds max_staleness{24 * 3600};
  std::chrono::seconds clock_skew{60};
  std::chrono::milliseconds fetch_timeout{3000};
  bool require_at_jwt = false;
  std::optional<IntrospectionConfig> introspection;
};

struct AuthConfig {
  std::vector<IssuerConfig> issuers;
  std::size_t max_token_bytes = 8 * 1024;
  std::size_t token_cache_entries = 10'000;     // verified tokens per route
  std::chrono::seconds token_cache_max_age{300};
};

struct ScopeRuleConfig {
  std::string pattern;  // `*` matches any run of characters
  std::vector<std::string> scopes;
};

struct RouteAuthConfig {
  std::vector<std::string> issuers;    // names from auth.issuers; empty: all of them
  std::vector<std::string> audiences;  // accepted besides the route's canonical URI
  std::vector<std::string> scopes;     // every request on the route
  std::vector<ScopeRuleConfig> method_scopes;
  std::vector<ScopeRuleConfig> tool_scopes;
  std::vector<ScopeRuleConfig> prompt_scopes;
  std::vector<ScopeRuleConfig> resource_scopes;
  bool filter_lists = true;
  std::string resource_name;
  std::string resource_documentation;
  bool primary = false;  // also served at /.well-known/oauth-protected-resource
};

struct RouteConfig {
  std::string path;                  // "/mcp"
  ServerConfig server;               // the top-level `server` block, with the route's overrides
  std::vector<std::string> modules;  // built-in module names, in install order
  // Per-module settings (ModuleOptions.settings); only for modules listed in `modules`.
  std::map<std::string, json::object> module_settings;
  std::optional<RouteAuthConfig> auth;  // set: the route requires a bearer token
  // Tool arguments appear in the request log and the audit trail only as a SHA-256 digest,
  // unless the route opts in here (they may hold personal data or secrets).
  bool log_tool_arguments = false;
};

// The embedded OAuth 2.1 authorization server (src/authserver), `authorization_server:`.
struct AuthServerUserConfig {
  std::string username;
  std::string password_hash;  // argon2id PHC string (`bastion hash-password` makes one)
};

struct AuthServerClientConfig {
  std::string client_id;
  std::string client_name;
  std::vector<std::string> redirect_uris;
  // none, client_secret_basic, client_secret_post or private_key_jwt.
  std::string token_endpoint_auth_method = "none";
  std::string client_secret;  // a secret: only as a ${env:}/${file:} reference
  std::string public_key;     // private_key_jwt: PEM public key (usually "${file:client.pub.pem}")
  std::vector<std::string> grant_types{"authorization_code", "refresh_token"};
  std::vector<std::string> scopes;  // empty: every scope the server offers
};

struct AuthServerDcrConfig {
  bool enabled = true;
  std::size_t max_clients = 1000;
  std::size_t per_minute = 20;              // all addresses together
  std::size_t per_minute_per_address = 10;
};

struct AuthServerCimdConfig {
  bool enabled = true;
  bool allow_loopback = false;  // development only
  std::size_t max_document_bytes = 5 * 1024;
  std::chrono::milliseconds timeout{3000};
  std::chrono::seconds cache_ttl{300};
  // An extra trust anchor (PEM) for the documents' HTTPS: a private CA, or tests; the system
  // store is always used. Relative to the config file.
  std::string ca_file;
};

struct AuthServerConfig {
  bool enabled = false;
  std::string issuer;  // empty: the first listener's public_url, else http(s)://address:port
  std::string data_dir = ":memory:";
  std::string signing_algorithm = "ES256";  // or EdDSA
  std::chrono::seconds access_token_ttl{600};
  std::chrono::seconds code_ttl{60};
  std::chrono::seconds refresh_token_ttl{30 * 86'400};
  std::chrono::seconds key_rotation{30 * 86'400};
  std::vector<std::string> scopes{"mcp"};
  std::vector<std::string> resources;  // extra resource indicators; every route's URL is one anyway
  std::vector<AuthServerUserConfig> users;
  std::vector<AuthServerClientConfig> clients;
  AuthServerDcrConfig dcr;
  AuthServerCimdConfig cimd;
};

// Where the embedded default keeps the authorization server's state: $XDG_STATE_HOME/bastion,
// else $HOME/.local/state/bastion, else ./.bastion-data.
std::string default_authserver_data_dir();

enum class LogLevel { trace, debug, info, warn, error, critical, off };
std::string_view to_string(LogLevel level);

enum class LogFormat { json, text, automatic };
std::string_view to_string(LogFormat format);

struct LoggingConfig {
  LogLevel level = LogLevel::info;
  // automatic: human-readable text when stderr is a terminal, JSON lines otherwise.
  LogFormat format = LogFormat::automatic;
  // Per-component levels (bastion, request, http, transport, mcp, telemetry, auth, authserver,
  // config); a component not listed uses `level`. "request" carries one line per request.
  std::map<std::string, LogLevel> components;
};

// The audit trail (docs/operations.md): security-relevant events, one JSON line each.
struct AuditConfig {
  bool enabled = false;
  enum class Sink { stdout_stream, file } sink = Sink::stdout_stream;
  std::string path;  // the file (appended to, created 0600) when sink is file
};

struct MetricsConfig {
  bool enabled = true;  // request counters and histograms; /metrics needs the admin listener
};

// The admin listener: /metrics, /healthz, /readyz. Loopback by default; never the MCP port.
struct AdminConfig {
  bool enabled = false;
  std::string address = "127.0.0.1";
  std::uint16_t port = 9464;  // the port OpenTelemetry's Prometheus exporter uses
  bool allow_insecure = false;  // plain HTTP beyond loopback, asked for explicitly
};

// Traces exported over OTLP/HTTP (JSON encoding).
struct TracingConfig {
  bool enabled = false;
  std::string otlp_endpoint = "http://127.0.0.1:4318/v1/traces";
  double sample_ratio = 1.0;  // for traces that start here; a caller's sampled flag is obeyed
  std::size_t max_batch_size = 512;
  std::size_t max_queue_size = 2048;
  std::chrono::milliseconds export_timeout{5'000};
  std::chrono::milliseconds schedule_delay{1'000};
  std::string service_name = "bastion";
  // Extra headers for the collector (API keys): values must be secret references.
  std::map<std::string, std::string> headers;
};

// The issuer name routes use for the embedded authorization server (routes[].auth.issuers).
inline constexpr const char* kEmbeddedIssuerName = "embedded";

struct Config {
  std::string source = "<default>";  // the file it was loaded from
  ServerConfig server;
  LoggingConfig logging;
  AuditConfig audit;
  MetricsConfig metrics;
  AdminConfig admin;
  TracingConfig tracing;
  std::vector<ListenerConfig> listeners;
  LimitsConfig limits;
  SecurityConfig security;
  SessionsConfig sessions;
  AuthConfig auth;
  std::vector<RouteConfig> routes;
  AuthServerConfig authorization_server;

  // Key path ("routes[0].module_settings.demo.token") -> the text as written, for every string
  // that held a secret reference. The redacted dump prints these instead of the resolved value.
  std::map<std::string, std::string> references;
  // Key path -> where it was written; used by validate() to point at the offending value.
  std::map<std::string, Location> locations;

  // The recorded location of `path`, else of its nearest recorded parent, else the file.
  Location location_of(const std::string& path) const;
};

// Module names a route may use; std::nullopt skips the check (the config library does not know
// the modules; the binary passes the names of builtin_modules()).
struct LoadOptions {
  std::optional<std::vector<std::string>> known_modules;
  // Environment lookup for ${env:NAME}; a seam for tests. Default: std::getenv.
  std::function<std::optional<std::string>(const std::string&)> getenv;
};

using LoadResult = std::expected<Config, std::vector<ConfigError>>;

LoadResult load_config_file(const std::string& path, const LoadOptions& options = {});
// `source_name` is used in error messages and to resolve relative paths (its directory).
LoadResult load_config_string(const std::string& yaml, const std::string& source_name,
                              const LoadOptions& options = {});

// The embedded default: one plain listener on 127.0.0.1:8080, one route /mcp serving `demo`, and
// the embedded authorization server with its state under default_authserver_data_dir().
Config default_config();

// Whole-config checks (cross-references, listener safety). load_* call it; call it again after
// changing a loaded Config (command-line overrides).
std::vector<ConfigError> validate(const Config& config,
                                  const std::optional<std::vector<std::string>>& known_modules = std::nullopt);

// Command-line overrides of the first listener (`bastion serve --listen/--port`).
struct ListenerOverrides {
  std::optional<std::string> address;
  std::optional<std::uint16_t> port;
  bool allow_insecure = false;
};
// Applies the overrides and re-validates; returns the errors (empty: fine).
std::vector<ConfigError> apply_overrides(Config& config, const ListenerOverrides& overrides,
                                         const std::optional<std::vector<std::string>>& known_modules = std::nullopt);

// The effective configuration as YAML, every key explicit, loadable again. Secrets are never
// printed: values that came from a ${...} reference are shown as the reference, and literal
// module settings under secret-looking keys (password, secret, token, ...) as "<redacted>".
std::string dump_redacted(const Config& config);

// Secret references in string values: ${env:NAME} and ${file:/path} are replaced by the
// variable's value / the file's content (trailing newlines removed); "$${" is a literal "${".
// Exposed for tests and for later users (e.g. secrets/). Returns the resolved text or a message.
struct ReferenceContext {
  std::string base_directory;  // for relative ${file:...} paths
  std::function<std::optional<std::string>(const std::string&)> getenv;
};
std::expected<std::string, std::string> resolve_references(const std::string& text,
                                                           const ReferenceContext& context);
// True when `text` holds at least one ${...} reference (not counting "$${" escapes).
bool has_reference(const std::string& text);

}  // namespace bastion::config
