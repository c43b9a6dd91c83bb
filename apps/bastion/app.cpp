#include "app.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>
#include <thread>

#include "bastion/module.hpp"
#include "http/router.hpp"
#include "jsonrpc/error_codes.hpp"
#include "jsonrpc/message.hpp"

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

auth::IssuerSettings issuer_settings(const config::IssuerConfig& c) {
  auth::IssuerSettings s;
  s.name = c.name;
  s.issuer = c.issuer;
  s.jwks_uri = c.jwks_uri;
  s.discovery = c.discovery;
  s.algorithms.clear();
  for (const auto& a : c.algorithms)
    if (auto alg = auth::parse_alg(a)) s.algorithms.push_back(*alg);
  s.audiences = c.audiences;
  s.profile = auth::parse_profile(c.profile).value_or(auth::ClaimsProfile::generic);
  s.allow_http_loopback = c.allow_http_loopback;
  s.ca_file = c.ca_file;
  s.refresh_interval = c.refresh_interval;
  s.unknown_kid_refetch_interval = c.unknown_kid_refetch_interval;
  s.max_staleness = c.max_staleness;
  s.clock_skew = c.clock_skew;
  s.fetch_timeout = c.fetch_timeout;
  s.require_at_jwt = c.require_at_jwt;
  if (c.introspection)
    s.introspection = auth::IntrospectionSettings{c.introspection->endpoint, c.introspection->client_id,
                                                  c.introspection->client_secret, c.introspection->max_cache};
  return s;
}

auth::RouteAuthSettings route_auth_settings(const config::Config& config, const config::RouteAuthConfig& r) {
  auto rules = [](const std::vector<config::ScopeRuleConfig>& in) {
    std::vector<auth::ScopeRule> out;
    for (const auto& x : in) out.push_back(auth::ScopeRule{x.pattern, x.scopes});
    return out;
  };
  auth::RouteAuthSettings s;
  s.issuers = r.issuers;
  s.audiences = r.audiences;
  s.scopes.route_scopes = r.scopes;
  s.scopes.methods = rules(r.method_scopes);
  s.scopes.tools = rules(r.tool_scopes);
  s.scopes.prompts = rules(r.prompt_scopes);
  s.scopes.resources = rules(r.resource_scopes);
  s.filter_lists = r.filter_lists;
  s.resource_name = r.resource_name;
  s.resource_documentation = r.resource_documentation;
  s.token_cache_entries = config.auth.token_cache_entries;
  s.token_cache_max_age = config.auth.token_cache_max_age;
  return s;
}

namespace {

// The item a JSON-RPC request acts on, for tool/prompt/resource scope rules.
std::string_view item_name(const jsonrpc::Request& request) {
  const char* key = request.method == "resources/read" || request.method == "resources/subscribe" ? "uri" : "name";
  if (const auto* v = request.params.if_contains(key); v && v->is_string()) return v->get_string();
  return {};
}

// Step 5 hooks of a protected route, over its authenticator.
void add_authorization(transport::EndpointOptions& options, auth::RouteAuthenticator* authenticator) {
  options.authorize = [authenticator](const Principal* principal, const jsonrpc::Request& request)
      -> std::optional<http::Response> {
    // The body is a JSON-RPC error for the request, so clients that only read bodies learn why.
    return authenticator->authorize(principal, request.method, item_name(request), [&request] {
      return jsonrpc::serialize(jsonrpc::make_error(request.id, jsonrpc::kInvalidRequest, "Forbidden: insufficient scope"));
    });
  };
  if (authenticator->filters_lists()) {
    options.may_use = [authenticator](const Principal* principal, mcp::ListedKind kind, std::string_view name) {
      switch (kind) {
        case mcp::ListedKind::tool: return authenticator->may_use(principal, auth::ItemKind::tool, name);
        case mcp::ListedKind::prompt: return authenticator->may_use(principal, auth::ItemKind::prompt, name);
        case mcp::ListedKind::resource:
        case mcp::ListedKind::resource_template:
          return authenticator->may_use(principal, auth::ItemKind::resource, name);
      }
      return false;
    };
  }
}

std::vector<auth::IssuerSettings> all_issuers(const config::Config& config, const HttpAppHooks& hooks) {
  std::vector<auth::IssuerSettings> out;
  for (const auto& i : config.auth.issuers) out.push_back(issuer_settings(i));
  for (const auto& i : hooks.extra_issuers) out.push_back(i);
  return out;
}

auth::JoseLimits jose_limits(const config::Config& config) {
  auth::JoseLimits limits;
  limits.max_token_bytes = config.auth.max_token_bytes;
  return limits;
}

}  // namespace

void check_startup(const config::Config& config) {
  for (std::size_t i = 0; i < config.routes.size(); ++i) build_definition(config, i);
  try {
    auth::TokenVerifier verifier(all_issuers(config, {}), http::Fetcher{}, {}, jose_limits(config));
  } catch (const std::exception& e) {
    throw config_error(config, "auth", e.what());
  }
  try {
    http::Guard guard(guard_config(config.security));
  } catch (const std::exception& e) {
    throw config_error(config, "security", e.what());
  }
}

HttpApp::HttpApp(const config::Config& config, HttpAppHooks hooks) : config_(config) {
  auto issuers = all_issuers(config_, hooks);
  if (!issuers.empty()) {
    try {
      verifier_ = std::make_shared<auth::TokenVerifier>(
          std::move(issuers), hooks.fetcher ? hooks.fetcher : http::default_fetcher(), auth::TokenVerifier::Clock{},
          jose_limits(config_));
    } catch (const std::exception& e) {
      throw config_error(config_, "auth.issuers", e.what());
    }
  }
  if (verifier_ && std::any_of(config_.routes.begin(), config_.routes.end(), [](const auto& r) { return r.auth.has_value(); })) {
    // A few threads: they mostly wait on issuers (each call bounded by fetch_timeout_ms); the
    // queue bound turns a flood of tokens that need the network into 503s, not memory.
    auth_pool_ = std::make_unique<core::WorkerPool>(4, 1024);
  }
  for (std::size_t i = 0; i < config_.routes.size(); ++i) {
    const auto& route = config_.routes[i];
    std::unique_ptr<auth::RouteAuthenticator> authenticator;
    if (route.auth) {
      if (!verifier_) throw config_error(config_, "routes[" + std::to_string(i) + "].auth", "no issuer is configured");
      try {
        authenticator = std::make_unique<auth::RouteAuthenticator>(
            verifier_, route.path, route_auth_settings(config_, *route.auth), hooks.on_auth_event,
            auth::RouteAuthenticator::Clock{}, auth_pool_.get());
      } catch (const std::exception& e) {
        throw config_error(config_, "routes[" + std::to_string(i) + "].auth", e.what());
      }
    }
    authenticators_.push_back(std::move(authenticator));
  }
  for (std::size_t i = 0; i < config_.routes.size(); ++i) {
    auto definition = build_definition(config_, i);
    auto options = endpoint_options(config_, config_.routes[i]);
    if (authenticators_[i]) add_authorization(options, authenticators_[i].get());
    try {
      endpoints_.push_back(std::make_unique<transport::McpEndpoint>(definition, std::move(options)));
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
  // Health is answered before the guard: probes reach pods by IP with any Host, and "ok" tells
  // a rebinding attacker nothing.
  router.add_exact("/healthz", [this](std::shared_ptr<http::Exchange> exchange) { handle_health(exchange); });
  // Protected Resource Metadata (RFC 9728 §3) is answered before the guard, like health: it is
  // a public, static document that clients (browser-based ones too, cross-origin) must reach
  // before they hold anything, it carries no session or user data, and a DNS-rebinding page
  // reading it learns only what the server publishes anyway.
  const auth::RouteAuthenticator* primary = nullptr;
  std::size_t protected_routes = 0;
  for (std::size_t i = 0; i < authenticators_.size(); ++i) {
    const auth::RouteAuthenticator* a = authenticators_[i].get();
    if (!a) continue;
    ++protected_routes;
    if (config_.routes[i].auth->primary) primary = a;
    router.add_exact("/.well-known/oauth-protected-resource" + a->route_path(),
                     [a](std::shared_ptr<http::Exchange> exchange) { exchange->respond(a->metadata_response(exchange->request())); });
  }
  // The root document (MCP: clients try it after the path-suffixed one): the primary route's,
  // or the only protected route's when there is just one.
  if (!primary && protected_routes == 1)
    for (const auto& a : authenticators_)
      if (a) primary = a.get();
  if (primary)
    router.add_exact("/.well-known/oauth-protected-resource", [primary](std::shared_ptr<http::Exchange> exchange) {
      exchange->respond(primary->metadata_response(exchange->request()));
    });
  for (std::size_t i = 0; i < endpoints_.size(); ++i) {
    transport::McpEndpoint* target = endpoints_[i].get();
    auth::RouteAuthenticator* authenticator = authenticators_[i].get();
    const http::Guard* guard = guard_.get();
    // The prefix covers <path>/sse and <path>/messages too; the endpoint says what it serves.
    router.add_prefix(target->path(), [target, guard, authenticator](std::shared_ptr<http::Exchange> exchange) {
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
      if (!authenticator) return target->handle(std::move(exchange));
      // Pipeline step 2: the token is validated before any other processing, on every request,
      // inside a session too (MCP authorization, Token Handling; OAuth 2.1 §5.2). Usually
      // answered here; a token that needs the network continues on the auth pool.
      authenticator->authenticate(request, [target, exchange](auth::RouteAuthenticator::Outcome outcome) mutable {
        if (auto* answer = std::get_if<http::Response>(&outcome)) return exchange->respond(std::move(*answer));
        target->handle(std::move(exchange), std::get<std::shared_ptr<const Principal>>(std::move(outcome)));
      });
    });
  }
  server_ = std::make_unique<http::Server>(http_limits(config_.limits), router.as_handler(), io_threads(config_.limits));
}

HttpApp::~HttpApp() {
  // Pending verifications answer (503) while the server and endpoints they answer through exist.
  for (const auto& a : authenticators_)
    if (a) a->shutdown();
  if (auth_pool_) auth_pool_->stop();
  // The server first: no handler may run once the endpoints are gone.
  server_.reset();
  endpoints_.clear();
  if (verifier_) verifier_->stop();
}

std::vector<std::pair<std::string, auth::AuthStats>> HttpApp::auth_stats() const {
  std::vector<std::pair<std::string, auth::AuthStats>> out;
  for (const auto& a : authenticators_)
    if (a) out.emplace_back(a->route_path(), a->stats());
  return out;
}

std::vector<std::pair<std::string, auth::JwksStats>> HttpApp::jwks_stats() const {
  return verifier_ ? verifier_->jwks_stats() : std::vector<std::pair<std::string, auth::JwksStats>>{};
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
  if (verifier_ && !config_.listeners.empty() && !ports_.empty()) {
    // Self-hosted issuers (HttpAppHooks::extra_issuers) reach this process on its first listener.
    std::string origin = route_url(config_.listeners[0], ports_[0], "");
    verifier_->resolve_self(origin);
  }
  // The canonical resource URI of each protected route (RFC 8707, RFC 9728 `resource`): from
  // the first listener's public_url when set (right behind a proxy or ingress), else from the
  // address the first listener is bound to. Set before start(): no request is served yet.
  for (std::size_t i = 0; i < authenticators_.size(); ++i) {
    if (!authenticators_[i] || config_.listeners.empty() || ports_.empty()) continue;
    const auto& route = config_.routes[i];
    std::string base;
    for (const auto& l : config_.listeners)
      if (base.empty() && !l.public_url.empty()) base = l.public_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    const std::string url = base.empty() ? route_url(config_.listeners[0], ports_[0], route.path) : base + route.path;
    try {
      authenticators_[i]->set_resource(url);
    } catch (const std::exception& e) {
      throw config_error(config_, "listeners", e.what());
    }
    spdlog::info("route {} is protected: resource {}, metadata {}", route.path, authenticators_[i]->resource(),
                 authenticators_[i]->metadata_url());
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

void HttpApp::start() {
  // JWKS refreshers first, so keys are usually there before the first request needs them.
  if (verifier_) verifier_->start();
  server_->start();
}

void HttpApp::wait() { server_->wait(); }

void HttpApp::shutdown_gracefully() {
  for (const auto& a : authenticators_)
    if (a) a->shutdown();
  if (auth_pool_) auth_pool_->stop();
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
