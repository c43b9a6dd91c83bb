// The bastion binary's wiring: a validated Config becomes server definitions, MCP endpoints, a
// guard, a router and an HTTP server. main.cpp only parses the command line and calls these.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "auth/route_authenticator.hpp"
#include "auth/token_verifier.hpp"
#include "authserver/authorization_server.hpp"
#include "bastion/server.hpp"
#include "config/config.hpp"
#include "http/guard.hpp"
#include "http/server.hpp"
#include "telemetry/telemetry.hpp"
#include "transport/mcp_endpoint.hpp"
#include "transport/stdio.hpp"

namespace bastion::app {

// A start-up error caused by the configuration (exit code 2). The message already starts with
// the config position ("file:line:col: ...") where one is known.
class ConfigurationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Names of the built-in modules, for config::LoadOptions::known_modules.
std::vector<std::string> builtin_module_names();
config::LoadOptions load_options();

// Config -> the layers' own option types.
http::Limits http_limits(const config::LimitsConfig& limits);
std::size_t io_threads(const config::LimitsConfig& limits);  // 0 -> hardware threads
http::GuardConfig guard_config(const config::SecurityConfig& security);
http::ListenerSpec listener_spec(const config::ListenerConfig& listener);
transport::EndpointOptions endpoint_options(const config::Config& config, const config::RouteConfig& route);
transport::StdioOptions stdio_options(const config::Config& config);
telemetry::TelemetryOptions telemetry_options(const config::Config& config);

// The definition one route serves: serverInfo, instructions, and its modules installed in order.
// Throws ConfigurationError when a module refuses its settings.
std::shared_ptr<ServerDefinition> build_definition(const config::Config& config, std::size_t route_index);

// auth.issuers[i] -> the resource server's runtime settings (names were validated already).
auth::IssuerSettings issuer_settings(const config::IssuerConfig& issuer);
// routes[i].auth -> the route's authentication and scope policy.
auth::RouteAuthSettings route_auth_settings(const config::Config& config, const config::RouteAuthConfig& route);

// What other parts of the binary hand the HTTP app besides the config.
struct HttpAppHooks {
  // Issuers added in code, trusted by every protected route that names them (or names none):
  // the embedded authorization server adds its own loopback issuer here (allow_http_loopback).
  // "{self}" at the start of its issuer / jwks_uri stands for the first listener's origin,
  // known once listen() has bound it (auth::TokenVerifier::resolve_self).
  std::vector<auth::IssuerSettings> extra_issuers;
  // Authentication outcomes and authorization denials (observability); never carries a token.
  auth::AuthEventCallback on_auth_event;
  // The network seam for JWKS, discovery and introspection; default: http::default_fetcher().
  http::Fetcher fetcher;
};

// Everything start-up would build, without binding a port (`bastion check-config`).
// Throws ConfigurationError.
void check_startup(const config::Config& config);

// The embedded authorization server's options from its config block (issuer and resources are
// set after the listeners are bound, when the port is known).
authserver::AuthServerOptions authserver_options(const config::AuthServerConfig& config);

// The first admin user created at this start (nobody could sign in otherwise), for the console.
struct AdminCredentials {
  std::string username;
  std::string password;
};

// `bastion serve`: the HTTP server with one MCP endpoint per route.
class HttpApp {
 public:
  // Builds every route's definition and endpoint, the guard and the server. Throws
  // ConfigurationError.
  explicit HttpApp(const config::Config& config, HttpAppHooks hooks = {});
  ~HttpApp();
  HttpApp(const HttpApp&) = delete;
  HttpApp& operator=(const HttpApp&) = delete;

  // Binds every listener in order, then the admin listener when enabled; returns the bound
  // ports of the MCP listeners (port 0 becomes the real one). Throws std::runtime_error from
  // the HTTP layer (address in use, unreadable TLS files...).
  std::vector<std::uint16_t> listen();
  // The admin listener's bound port (after listen()), when it is enabled.
  std::optional<std::uint16_t> admin_port() const { return admin_port_; }
  telemetry::Telemetry& telemetry() { return *telemetry_; }
  // One URL per route per listener, e.g. http://127.0.0.1:8080/mcp (after listen()).
  std::vector<std::string> route_urls() const;

  void start();  // I/O threads in the background
  void wait();   // until the server has stopped
  // Endpoints first (no new sessions, streams ended, in-flight handlers awaited), then the
  // server (stop accepting, drain for up to limits.shutdown_grace_ms).
  void shutdown_gracefully();

  // Per protected route (route order) and per issuer, for observability; empty without auth.
  std::vector<std::pair<std::string, auth::AuthStats>> auth_stats() const;
  std::vector<std::pair<std::string, auth::JwksStats>> jwks_stats() const;
  // The embedded authorization server, or nullptr when it is disabled.
  authserver::AuthorizationServer* authorization_server() const { return authserver_.get(); }
  // Set once, when this start created the first admin user; printed once by main.cpp.
  std::optional<AdminCredentials> take_admin_credentials();

 private:
  void handle_health(const std::shared_ptr<http::Exchange>& exchange) const;
  void handle_metrics(const std::shared_ptr<http::Exchange>& exchange) const;
  void handle_ready(const std::shared_ptr<http::Exchange>& exchange) const;
  void register_app_metrics();

  config::Config config_;
  std::shared_ptr<auth::TokenVerifier> verifier_;  // null when no issuer is configured
  // Verifications that need the network (introspection, JWKS fetches) run here, never on an
  // I/O thread; null without protected routes. Stopped before the server goes away.
  std::unique_ptr<core::WorkerPool> auth_pool_;
  // One per route, null for routes without `auth` (same index as config_.routes).
  std::vector<std::unique_ptr<auth::RouteAuthenticator>> authenticators_;
  // First: it outlives everything that records into it (endpoints, servers, exchanges).
  std::unique_ptr<telemetry::Telemetry> telemetry_;
  std::vector<std::unique_ptr<telemetry::RouteTag>> route_tags_;  // stable addresses for handlers
  std::atomic<bool> listening_{false};
  std::optional<std::uint16_t> admin_port_;
  std::unique_ptr<http::Server> admin_server_;  // /metrics, /healthz, /readyz
  std::vector<std::unique_ptr<transport::McpEndpoint>> endpoints_;
  std::unique_ptr<http::Guard> guard_;
  std::optional<AdminCredentials> admin_;
  std::unique_ptr<authserver::AuthorizationServer> authserver_;
  std::vector<std::uint16_t> ports_;
  std::unique_ptr<http::Server> server_;  // last: destroyed first, while endpoints still exist
};

// The URL a client uses for `path` on a listener bound to `port`: wildcard addresses are shown
// as loopback (that is where a local client connects), IPv6 in brackets.
std::string route_url(const config::ListenerConfig& listener, std::uint16_t port, const std::string& path);

}  // namespace bastion::app
