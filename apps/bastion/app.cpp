#include "app.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>
#include <thread>

#include "bastion/module.hpp"
#include "http/router.hpp"

namespace bastion::app {

namespace {

// "file:line:col: path: message", the same shape as the loader's errors.
ConfigurationError config_error(const config::Config& config, const std::string& path, const std::string& message) {
  return ConfigurationError(config::ConfigError{config.location_of(path), path + ": " + message}.to_string());
}

}  // namespace

std::vector<std::string> builtin_module_names() {
  std::vector<std::string> names;
  for (const auto& module : builtin_modules()) names.push_back(module.name);
  return names;
}

config::LoadOptions load_options() {
  config::LoadOptions options;
  options.known_modules = builtin_module_names();
  return options;
}

http::Limits http_limits(const config::LimitsConfig& limits) {
  http::Limits out;
  out.max_header_bytes = limits.max_header_bytes;
  out.max_body_bytes = limits.max_body_bytes;
  out.read_timeout = limits.read_timeout;
  out.idle_timeout = limits.idle_timeout;
  out.write_timeout = limits.write_timeout;
  out.max_connections = limits.max_connections;
  out.max_write_queue_bytes = limits.max_write_queue_bytes;
  out.shutdown_grace = limits.shutdown_grace;
  // Enough to drain a body refused on its Content-Length, which is not read before the 413.
  out.lingering_close_bytes = limits.lingering_close_bytes.value_or(4 * limits.max_body_bytes);
  out.lingering_close_timeout = limits.lingering_close_timeout;
  return out;
}

std::size_t io_threads(const config::LimitsConfig& limits) {
  if (limits.threads != 0) return limits.threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

http::GuardConfig guard_config(const config::SecurityConfig& security) {
  http::GuardConfig out;
  out.allowed_hosts = security.allowed_hosts;
  out.allowed_origins = security.allowed_origins;
  out.allow_loopback_names = security.allow_loopback_names;
  out.trusted_proxies = security.trusted_proxies;
  return out;
}

http::ListenerSpec listener_spec(const config::ListenerConfig& listener) {
  http::ListenerSpec spec;
  spec.address = listener.address;
  spec.port = listener.port;
  if (listener.tls) spec.tls = http::TlsFiles{listener.tls->certificate_file, listener.tls->private_key_file};
  spec.allow_plain_http_on_non_loopback = listener.allow_insecure;
  return spec;
}

transport::EndpointOptions endpoint_options(const config::Config& config, const config::RouteConfig& route) {
  transport::EndpointOptions options;
  options.path = route.path;
  options.session_idle_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(config.sessions.idle_timeout);
  options.max_sessions = config.sessions.max_sessions;
  options.max_sessions_per_client = config.sessions.max_sessions_per_client;
  options.request_state_keys = config.security.request_state_keys;
  return options;
}

transport::StdioOptions stdio_options(const config::Config& config) {
  transport::StdioOptions options;
  // One stdio line is one message: the same bound as an HTTP body.
  options.max_line_bytes = config.limits.max_body_bytes;
  return options;
}

std::shared_ptr<ServerDefinition> build_definition(const config::Config& config, std::size_t route_index) {
  const config::RouteConfig& route = config.routes.at(route_index);
  const std::string route_path = "routes[" + std::to_string(route_index) + "]";
  auto definition = std::make_shared<ServerDefinition>();
  definition->info.name = route.server.name;
  definition->info.title = route.server.title;
  definition->info.version = BASTION_VERSION;
  definition->instructions = route.server.instructions;
  for (std::size_t i = 0; i < route.modules.size(); ++i) {
    const std::string& name = route.modules[i];
    const std::string module_path = route_path + ".modules[" + std::to_string(i) + "]";
    const ModuleInfo* module = find_builtin_module(name);
    if (module == nullptr) throw config_error(config, module_path, "unknown module '" + name + "'");
    ModuleOptions options;
    const auto settings = route.module_settings.find(name);
    if (settings != route.module_settings.end()) options.settings = settings->second;
    // Modules check their own settings and throw on bad ones; point at the settings block when
    // there is one, else at the module's name.
    const std::string blame = settings != route.module_settings.end() ? route_path + ".module_settings." + name : module_path;
    try {
      module->install(*definition, options);
    } catch (const std::exception& e) {
      throw config_error(config, blame, "module '" + name + "': " + e.what());
    }
  }
  return definition;
}

authserver::AuthServerOptions authserver_options(const config::AuthServerConfig& as) {
  authserver::AuthServerOptions o;
  o.issuer = as.issuer;
  o.data_dir = as.data_dir;
  o.algorithm = as.signing_algorithm == "EdDSA" ? authserver::SigningAlgorithm::eddsa : authserver::SigningAlgorithm::es256;
  o.access_token_ttl = as.access_token_ttl;
  o.code_ttl = as.code_ttl;
  o.refresh_token_ttl = as.refresh_token_ttl;
  o.key_rotation = as.key_rotation;
  o.scopes = as.scopes;
  o.resources = as.resources;
  for (const auto& u : as.users) o.users.push_back({u.username, u.password_hash});
  for (const auto& c : as.clients) {
    authserver::ClientOptions client;
    client.client_id = c.client_id;
    client.client_name = c.client_name;
    client.redirect_uris = c.redirect_uris;
    client.token_endpoint_auth_method = c.token_endpoint_auth_method;
    client.client_secret = c.client_secret;
    client.public_key_pem = c.public_key;
    client.grant_types = c.grant_types;
    client.scopes = c.scopes;
    o.clients.push_back(std::move(client));
  }
  o.dcr.enabled = as.dcr.enabled;
  o.dcr.max_clients = as.dcr.max_clients;
  o.dcr.per_minute = as.dcr.per_minute;
  o.dcr.per_minute_per_address = as.dcr.per_minute_per_address;
  o.cimd.enabled = as.cimd.enabled;
  o.cimd.allow_loopback = as.cimd.allow_loopback;
  o.cimd.max_document_bytes = as.cimd.max_document_bytes;
  o.cimd.timeout = as.cimd.timeout;
  o.cimd.cache_ttl = as.cimd.cache_ttl;
  // Security events go to the log until the audit trail takes them (identifiers only; events
  // never carry passwords, codes or tokens).
  o.on_event = [](const authserver::SecurityEvent& e) {
    const bool bad = e.kind == authserver::SecurityEventKind::login_failed ||
                     e.kind == authserver::SecurityEventKind::login_rate_limited ||
                     e.kind == authserver::SecurityEventKind::refresh_token_reuse_detected ||
                     e.kind == authserver::SecurityEventKind::authorization_code_reuse_detected ||
                     e.kind == authserver::SecurityEventKind::client_metadata_refused;
    spdlog::log(bad ? spdlog::level::warn : spdlog::level::info, "authorization server: {} client={} user={} peer={} {}",
                authserver::to_string(e.kind), e.client_id, e.subject, e.remote_address, e.detail);
  };
  return o;
}

void check_startup(const config::Config& config) {
  for (std::size_t i = 0; i < config.routes.size(); ++i) build_definition(config, i);
  // What the authorization server would refuse at start-up, without opening its data folder.
  const auto& clients = config.authorization_server.clients;
  for (std::size_t i = 0; i < clients.size(); ++i) {
    if (!clients[i].public_key.empty() && !authserver::PublicKey::from_pem(clients[i].public_key)) {
      throw config_error(config, "authorization_server.clients[" + std::to_string(i) + "].public_key",
                         "not a PEM public key of P-256, Ed25519 or RSA (2048 bits or more)");
    }
  }
  try {
    http::Guard guard(guard_config(config.security));
  } catch (const std::exception& e) {
    throw config_error(config, "security", e.what());
  }
}

HttpApp::HttpApp(const config::Config& config) : config_(config) {
  for (std::size_t i = 0; i < config_.routes.size(); ++i) {
    auto definition = build_definition(config_, i);
    try {
      endpoints_.push_back(std::make_unique<transport::McpEndpoint>(definition, endpoint_options(config_, config_.routes[i])));
    } catch (const std::invalid_argument& e) {
      // Options the config validator let through but the endpoint refuses.
      throw config_error(config_, "routes[" + std::to_string(i) + "]", e.what());
    }
  }
  try {
    guard_ = std::make_unique<http::Guard>(guard_config(config_.security));
  } catch (const std::exception& e) {
    throw config_error(config_, "security", e.what());
  }

  http::Router router;
  if (config_.authorization_server.enabled) {
    auto options = authserver_options(config_.authorization_server);
    options.on_admin_created = [this](const std::string& username, const std::string& password) {
      admin_ = AdminCredentials{username, password};
    };
    try {
      authserver_ = std::make_unique<authserver::AuthorizationServer>(std::move(options));
    } catch (const std::exception& e) {
      throw config_error(config_, "authorization_server", e.what());
    }
    // Its pages and endpoints are public by design (anyone may start a sign-in); the forms carry
    // their own CSRF defence, so the MCP Host/Origin guard is not applied here.
    authserver_->register_routes(router);
  }
  // Health is answered before the guard: probes reach pods by IP with any Host, and "ok" tells
  // a rebinding attacker nothing.
  router.add_exact("/healthz", [this](std::shared_ptr<http::Exchange> exchange) { handle_health(exchange); });
  for (const auto& endpoint : endpoints_) {
    transport::McpEndpoint* target = endpoint.get();
    const http::Guard* guard = guard_.get();
    // The prefix covers <path>/sse and <path>/messages too; the endpoint says what it serves.
    router.add_prefix(endpoint->path(), [target, guard](std::shared_ptr<http::Exchange> exchange) {
      const http::Request& request = exchange->request();
      if (!target->matches(request.path)) {
        exchange->respond(http::not_found_response());
        return;
      }
      // DNS-rebinding defence before anything else looks at the request (MCP transports,
      // Security Warning).
      if (auto refusal = guard->check(request)) {
        exchange->respond(std::move(*refusal));
        return;
      }
      target->handle(std::move(exchange));
    });
  }
  server_ = std::make_unique<http::Server>(http_limits(config_.limits), router.as_handler(), io_threads(config_.limits));
}

HttpApp::~HttpApp() {
  // The server first: no handler may run once the endpoints are gone.
  server_.reset();
  endpoints_.clear();
  authserver_.reset();
}

std::optional<AdminCredentials> HttpApp::take_admin_credentials() {
  auto out = std::move(admin_);
  admin_.reset();
  return out;
}

void HttpApp::handle_health(const std::shared_ptr<http::Exchange>& exchange) const {
  const auto& method = exchange->request().method;
  http::Response response;
  if (method == "GET" || method == "HEAD") {
    response.status = 200;
    response.headers.set("Content-Type", "text/plain; charset=utf-8");
    response.headers.set("Cache-Control", "no-store");
    if (method == "GET") response.body = "ok";
  } else {
    response.status = 405;
    response.headers.set("Allow", "GET, HEAD");
  }
  exchange->respond(std::move(response));
}

std::vector<std::uint16_t> HttpApp::listen() {
  ports_.clear();
  for (const auto& listener : config_.listeners) {
    const std::uint16_t port = server_->listen(listener_spec(listener));
    ports_.push_back(port);
    spdlog::info("listening on {}:{}{}", listener.address, port, listener.tls ? " (TLS)" : "");
  }
  if (authserver_ && !config_.listeners.empty()) {
    // RFC 8414 §2: the issuer is the URL clients use; by default the first listener's public URL,
    // else its bound address and port (known only now when the port was 0).
    const auto& first = config_.listeners.front();
    std::string issuer = config_.authorization_server.issuer;
    if (issuer.empty()) issuer = !first.public_url.empty() ? first.public_url : route_url(first, ports_.front(), "");
    authserver_->set_issuer(issuer);
    // Tokens are issued for this server's routes (RFC 8707), as the issuer's origin names them and
    // as each listener's URL does, plus any configured extra resource.
    std::vector<std::string> resources = config_.authorization_server.resources;
    const std::string origin = authserver::uri_origin(issuer);
    for (const auto& route : config_.routes) resources.push_back(origin + route.path);
    for (const auto& url : route_urls()) resources.push_back(url);
    authserver_->set_resources(std::move(resources));
  }
  return ports_;
}

std::vector<std::string> HttpApp::route_urls() const {
  std::vector<std::string> urls;
  for (std::size_t i = 0; i < config_.listeners.size() && i < ports_.size(); ++i) {
    for (const auto& route : config_.routes) urls.push_back(route_url(config_.listeners[i], ports_[i], route.path));
  }
  return urls;
}

void HttpApp::start() { server_->start(); }

void HttpApp::wait() { server_->wait(); }

void HttpApp::shutdown_gracefully() {
  for (const auto& endpoint : endpoints_) endpoint->shutdown();
  server_->stop_gracefully();
}

std::string route_url(const config::ListenerConfig& listener, std::uint16_t port, const std::string& path) {
  std::string host = listener.address;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return std::string(listener.tls ? "https" : "http") + "://" + host + ":" + std::to_string(port) + path;
}

}  // namespace bastion::app
