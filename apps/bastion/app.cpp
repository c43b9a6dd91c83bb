#include "app.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <stdexcept>
#include <thread>

#include "bastion/module.hpp"
#include "core/base64.hpp"
#include "http/client.hpp"
#include "http/router.hpp"
#include "jsonrpc/error_codes.hpp"
#include "jsonrpc/message.hpp"
#include "telemetry/process_metrics.hpp"

namespace bastion::app {

namespace {

// "file:line:col: path: message", the same shape as the loader's errors.
ConfigurationError config_error(const config::Config& config, const std::string& path, const std::string& message) {
  return ConfigurationError(config::ConfigError{config.location_of(path), path + ": " + message}.to_string());
}

// A refused authentication or authorization as an audit record (who, when known; why; never
// the token, which the event does not carry). Successes are not audited one by one: the tool
// calls they lead to are, and bastion_auth_outcomes_total counts them (register_app_metrics).
void record_auth_event(telemetry::Telemetry& telemetry, const auth::AuthEvent& event) {
  using Kind = auth::AuthEvent::Kind;
  const bool failed = event.kind == Kind::authentication_failed;
  if (!failed && event.kind != Kind::authorization_denied) return;
  telemetry::AuditEvent audit;
  audit.type = failed ? telemetry::audit_event::kAuthenticationFailure : telemetry::audit_event::kAuthorizationDenied;
  audit.outcome = failed ? "failure" : "denied";
  audit.reason = std::string(auth::to_string(event.reason));
  audit.route = std::string(event.route);
  if (event.principal) {
    audit.issuer = event.principal->issuer;
    audit.subject = event.principal->subject;
    audit.client_id = event.principal->client_id;
  }
  if (!event.method.empty()) audit.details["mcp_method"] = std::string(event.method);
  if (!event.name.empty()) audit.details["name"] = std::string(event.name);
  audit.details["http_status"] = event.status;
  telemetry.audit().record(audit);
}

// One event of the embedded authorization server as an audit record.
void record_authserver_event(telemetry::Telemetry& telemetry, const authserver::SecurityEvent& e) {
  using Kind = authserver::SecurityEventKind;
  telemetry::AuditEvent audit;
  switch (e.kind) {
    case Kind::consent_granted: audit.type = telemetry::audit_event::kConsentGranted; break;
    case Kind::client_registered: audit.type = telemetry::audit_event::kClientRegistered; break;
    case Kind::login_failed:
    case Kind::login_rate_limited: audit.type = telemetry::audit_event::kAuthenticationFailure; break;
    default: audit.type = std::string(authserver::to_string(e.kind)); break;
  }
  const bool refused = e.kind == Kind::login_failed || e.kind == Kind::login_rate_limited ||
                       e.kind == Kind::consent_denied || e.kind == Kind::client_registration_refused ||
                       e.kind == Kind::client_metadata_refused || e.kind == Kind::refresh_token_reuse_detected ||
                       e.kind == Kind::authorization_code_reuse_detected;
  audit.outcome = refused ? "failure" : "success";
  audit.reason = std::string(authserver::to_string(e.kind));
  audit.subject = e.subject;
  audit.client_id = e.client_id;
  audit.remote_address = e.remote_address;
  audit.route = "/oauth";
  if (!e.detail.empty()) audit.details["detail"] = e.detail;
  telemetry.audit().record(audit);
}

// The answer of a read-only endpoint (health, readiness, metrics): GET gets `body()`, HEAD the
// same headers without it, any other method 405 with Allow (RFC 9110 §15.5.6).
void respond_get_only(http::Exchange& exchange, int status, std::string content_type,
                      const std::function<std::string()>& body) {
  const auto& method = exchange.request().method;
  http::Response response;
  if (method != "GET" && method != "HEAD") {
    response.status = 405;
    response.headers.set("Allow", "GET, HEAD");
    return exchange.respond(std::move(response));
  }
  response.status = status;
  response.headers.set("Content-Type", std::move(content_type));
  response.headers.set("Cache-Control", "no-store");
  if (method == "GET") response.body = body();
  exchange.respond(std::move(response));
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

telemetry::TelemetryOptions telemetry_options(const config::Config& config) {
  telemetry::TelemetryOptions o;
  o.metrics = config.metrics.enabled;
  // The request line is logged at info by the "request" component: skip building it when
  // that component would drop it anyway.
  const auto request_level = config.logging.components.find("request");
  const config::LogLevel level =
      request_level != config.logging.components.end() ? request_level->second : config.logging.level;
  o.request_log = level <= config::LogLevel::info;
  o.tracing.enabled = config.tracing.enabled;
  o.tracing.sample_ratio = config.tracing.sample_ratio;
  o.tracing.otlp.endpoint = config.tracing.otlp_endpoint;
  for (const auto& [name, value] : config.tracing.headers) o.tracing.otlp.headers.emplace_back(name, value);
  o.tracing.otlp.max_batch_size = config.tracing.max_batch_size;
  o.tracing.otlp.max_queue_size = config.tracing.max_queue_size;
  o.tracing.otlp.export_timeout = config.tracing.export_timeout;
  o.tracing.otlp.schedule_delay = config.tracing.schedule_delay;
  o.tracing.otlp.service_name = config.tracing.service_name;
  o.audit.enabled = config.audit.enabled;
  o.audit.sink = config.audit.sink == config::AuditConfig::Sink::file ? telemetry::AuditOptions::Sink::file
                                                                      : telemetry::AuditOptions::Sink::stdout_stream;
  o.audit.path = config.audit.path;
  o.service_version = BASTION_VERSION;
  // validate() checked that it decodes to 32 bytes.
  if (!config.security.argument_digest_key.empty())
    o.argument_digest_key = core::base64_decode(config.security.argument_digest_key).value_or(std::string());
  return o;
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
  // The embedded authorization server, when a protected route may use it: trusted like any
  // external issuer, through its RFC 8414 metadata and JWKS over loopback HTTP. Its URL is
  // the one listen() gives the authorization server: configured, else the first listener's
  // public URL, else "{self}", the first listener's origin once bound (TokenVerifier::resolve_self).
  const bool used = std::any_of(config.routes.begin(), config.routes.end(), [](const config::RouteConfig& r) {
    return r.auth && (r.auth->issuers.empty() || std::find(r.auth->issuers.begin(), r.auth->issuers.end(),
                                                           config::kEmbeddedIssuerName) != r.auth->issuers.end());
  });
  if (config.authorization_server.enabled && used) {
    auth::IssuerSettings embedded;
    embedded.name = config::kEmbeddedIssuerName;
    embedded.issuer = config.authorization_server.issuer;
    if (embedded.issuer.empty() && !config.listeners.empty()) embedded.issuer = config.listeners.front().public_url;
    if (embedded.issuer.empty()) embedded.issuer = "{self}";
    embedded.discovery = true;
    embedded.algorithms = {auth::JwsAlg::ES256, auth::JwsAlg::EdDSA};
    embedded.allow_http_loopback = true;
    // It issues RFC 9068 access tokens only: anything else under its name is not one of ours.
    embedded.require_at_jwt = true;
    // Its keys rotate on its own schedule; a refresh every minute keeps a new key's tokens from
    // waiting on an unknown-kid refetch.
    embedded.refresh_interval = std::chrono::seconds(60);
    embedded.unknown_kid_refetch_interval = std::chrono::seconds(5);
    out.push_back(std::move(embedded));
  }
  return out;
}

auth::JoseLimits jose_limits(const config::Config& config) {
  auth::JoseLimits limits;
  limits.max_token_bytes = config.auth.max_token_bytes;
  return limits;
}

}  // namespace

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
  o.cimd.ca_file = as.cimd.ca_file;
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
  try {
    // The exporter sends every batch to one collector: one kept-alive connection, not a TCP (and
    // TLS) handshake per batch.
    telemetry_ = std::make_unique<telemetry::Telemetry>(telemetry_options(config_), http::keep_alive_fetcher());
  } catch (const std::exception& e) {
    throw config_error(config_, "audit", e.what());
  }
  // Authentication outcomes feed the metrics and the audit trail, then whoever else listens.
  hooks.on_auth_event = [telemetry = telemetry_.get(), forward = std::move(hooks.on_auth_event)](const auth::AuthEvent& event) {
    record_auth_event(*telemetry, event);
    if (forward) forward(event);
  };
  auto issuers = all_issuers(config_, hooks);
  if (!issuers.empty()) {
    try {
      verifier_ = std::make_shared<auth::TokenVerifier>(
          // Discovery, JWKS and introspection calls get client spans and carry traceparent to
          // the issuer (W3C Trace Context; docs/operations.md, Traces).
          std::move(issuers), telemetry_->traced_fetcher(hooks.fetcher ? hooks.fetcher : http::default_fetcher()),
          auth::TokenVerifier::Clock{}, jose_limits(config_));
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
    auto tag = std::make_unique<telemetry::RouteTag>();
    tag->route = config_.routes[i].path;
    tag->log_tool_arguments = config_.routes[i].log_tool_arguments;
    if (telemetry_) telemetry_->bind_route(*tag);
    route_tags_.push_back(std::move(tag));
    auto options = endpoint_options(config_, config_.routes[i]);
    options.telemetry = telemetry_.get();
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
  if (config_.authorization_server.enabled) {
    auto options = authserver_options(config_.authorization_server);
    // Its security events go to the audit trail as well as the log (identifiers only: events
    // never carry passwords, codes or tokens).
    options.on_event = [telemetry = telemetry_.get(), log = std::move(options.on_event)](const authserver::SecurityEvent& e) {
      if (log) log(e);
      record_authserver_event(*telemetry, e);
    };
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
    const telemetry::RouteTag* tag = route_tags_[i].get();
    telemetry::Telemetry* observer = telemetry_.get();
    // The prefix covers <path>/sse and <path>/messages too; the endpoint says what it serves.
    router.add_prefix(target->path(), [target, guard, authenticator, tag, observer](std::shared_ptr<http::Exchange> exchange) {
      // Where the request enters the pipeline: from here on it is counted, timed, traced and
      // logged once at its end (telemetry/telemetry.hpp).
      observer->observe(*exchange, *tag);
      const http::Request& request = exchange->request();
      if (!target->matches(request.path)) {
        exchange->respond(http::not_found_response());
        return;
      }
      // DNS-rebinding defence before anything else looks at the request (MCP transports,
      // Security Warning).
      if (auto refusal = observer->first_step(*exchange, "guard", [&] { return guard->check(request); })) {
        exchange->respond(std::move(*refusal));
        return;
      }
      if (!authenticator) return target->handle(std::move(exchange));
      // Pipeline step 2: the token is validated before any other processing, on every request,
      // inside a session too (MCP authorization, Token Handling; OAuth 2.1 §5.2). Usually
      // answered here; a token that needs the network continues on the auth pool.
      const bool traced = observer->tracer().enabled();
      const auto started = traced ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
      // A JWKS fetch or an introspection this token needs is traced inside this request, here
      // or on the auth pool.
      telemetry::OutboundParent outbound(traced ? exchange.get() : nullptr);
      authenticator->authenticate(request, [target, exchange, traced, started](auth::RouteAuthenticator::Outcome outcome) mutable {
        auto record = telemetry::record_of(*exchange);
        const auto* answer = std::get_if<http::Response>(&outcome);
        if (record && traced) record->add_step("authenticate", started, std::chrono::steady_clock::now(), answer ? "refused" : "");
        if (answer) return exchange->respond(std::move(*std::get_if<http::Response>(&outcome)));
        auto principal = std::get<std::shared_ptr<const Principal>>(std::move(outcome));
        if (record) record->set_principal(principal.get());
        target->handle(std::move(exchange), std::move(principal));
      });
    });
  }
  server_ = std::make_unique<http::Server>(http_limits(config_.limits), router.as_handler(), io_threads(config_.limits));

  if (config_.admin.enabled) {
    http::Router admin;
    admin.add_exact("/healthz", [this](std::shared_ptr<http::Exchange> exchange) { handle_health(exchange); });
    admin.add_exact("/readyz", [this](std::shared_ptr<http::Exchange> exchange) { handle_ready(exchange); });
    admin.add_exact("/metrics", [this](std::shared_ptr<http::Exchange> exchange) { handle_metrics(exchange); });
    // One I/O thread: a scrape every few seconds and probes need no more, and the admin port
    // must never compete with MCP traffic for threads.
    admin_server_ = std::make_unique<http::Server>(http_limits(config_.limits), admin.as_handler(), 1);
  }
  // Readiness (Kubernetes readinessProbe): the MCP listeners are bound and not draining. The
  // resource server adds "keys loaded", stores add "reachable" (telemetry::Readiness).
  telemetry_->readiness().add_check("listeners", [this] { return listening_.load(); });
  // Protected routes can verify tokens only with keys: ready once every JWKS issuer has a
  // usable (not stale) key set. Issuers that only introspect have none to wait for.
  if (verifier_)
    telemetry_->readiness().add_check("signing_keys", [this] {
      for (const auto& [issuer, stats] : jwks_stats())
        if (stats.keys == 0 || stats.stale) return false;
      return true;
    });
  register_app_metrics();

  telemetry::AuditEvent loaded;
  loaded.type = telemetry::audit_event::kConfigurationLoaded;
  loaded.outcome = "success";
  loaded.details["source"] = config_.source;
  loaded.details["routes"] = config_.routes.size();
  loaded.details["listeners"] = config_.listeners.size();
  // Which key the tool_call records' argument digests are under: digests match only under one.
  const bool digest_key_configured = !config_.security.argument_digest_key.empty();
  loaded.details["argument_digest_key_id"] = telemetry_->argument_digest_key_id();
  loaded.details["argument_digest_key"] = digest_key_configured ? "configured" : "random";
  telemetry_->audit().record(loaded);
  if (!digest_key_configured && (telemetry_->options().request_log || telemetry_->audit().enabled()))
    spdlog::info("tool arguments are digested under a random key of this process (id {}): set "
                 "security.argument_digest_key to match calls across instances and restarts",
                 telemetry_->argument_digest_key_id());
}

HttpApp::~HttpApp() {
  // Pending verifications answer (503) while the server and endpoints they answer through exist.
  for (const auto& a : authenticators_)
    if (a) a->shutdown();
  if (auth_pool_) auth_pool_->stop();
  // The servers first: no handler may run once the endpoints are gone, and no scrape may read
  // an endpoint that is gone.
  admin_server_.reset();
  server_.reset();
  endpoints_.clear();
  if (verifier_) verifier_->stop();
  authserver_.reset();
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

void HttpApp::register_app_metrics() {
  auto& m = telemetry_->metrics();
  telemetry::register_process_metrics(m);
  // Authentication outcomes per route, read from the authenticators' counters at scrape time:
  // nothing is recorded per request beyond the authenticator's own atomic increments.
  m.callback("bastion_auth_outcomes_total",
             "Bearer token checks by route and outcome (success, failure, denied) and reason.",
             telemetry::MetricType::counter, {"route", "outcome", "reason"}, [this](const telemetry::Emit& emit) {
               for (const auto& [route, stats] : auth_stats()) {
                 emit({route, "success", "ok"}, static_cast<double>(stats.authenticated));
                 if (stats.denied) emit({route, "denied", "insufficient_scope"}, static_cast<double>(stats.denied));
                 for (std::size_t r = 0; r < stats.failures.size(); ++r) {
                   if (stats.failures[r] == 0) continue;
                   const auto reason = static_cast<auth::AuthFailureReason>(r);
                   emit({route, "failure", std::string(auth::to_string(reason))}, static_cast<double>(stats.failures[r]));
                 }
               }
             });
  // JWKS state per issuer, read from the verifier's snapshot at scrape time.
  m.callback("bastion_jwks_fetches_total", "JWKS fetches by issuer and outcome.", telemetry::MetricType::counter,
             {"issuer", "outcome"}, [this](const telemetry::Emit& emit) {
               for (const auto& [issuer, stats] : jwks_stats()) {
                 emit({issuer, "ok"}, static_cast<double>(stats.fetches_ok));
                 emit({issuer, "failed"}, static_cast<double>(stats.fetches_failed));
                 emit({issuer, "unknown_kid_refetch"}, static_cast<double>(stats.unknown_kid_refetches));
                 emit({issuer, "throttled"}, static_cast<double>(stats.refetches_throttled));
               }
             });
  m.callback("bastion_jwks_key_age_seconds", "Age of the JWKS snapshot in use, by issuer (absent: none fetched yet).",
             telemetry::MetricType::gauge, {"issuer"}, [this](const telemetry::Emit& emit) {
               for (const auto& [issuer, stats] : jwks_stats())
                 if (stats.key_age) emit({issuer}, static_cast<double>(stats.key_age->count()));
             });
  m.callback("bastion_jwks_keys", "Keys in the JWKS snapshot in use, by issuer.", telemetry::MetricType::gauge,
             {"issuer"}, [this](const telemetry::Emit& emit) {
               for (const auto& [issuer, stats] : jwks_stats()) emit({issuer}, static_cast<double>(stats.keys));
             });
  m.callback("bastion_build_info", "Always 1; the version in a label.", telemetry::MetricType::gauge, {"version"},
             [](const telemetry::Emit& emit) { emit({BASTION_VERSION}, 1); });
  m.callback("bastion_mcp_sessions_active", "Open MCP sessions (2024-11-05 .. 2025-11-25), by route.",
             telemetry::MetricType::gauge, {"route"}, [this](const telemetry::Emit& emit) {
               for (const auto& e : endpoints_) emit({e->path()}, static_cast<double>(e->session_count()));
             });
  m.callback("bastion_mcp_subscriptions_active", "Open 2026-07-28 subscriptions/listen streams, by route.",
             telemetry::MetricType::gauge, {"route"}, [this](const telemetry::Emit& emit) {
               for (const auto& e : endpoints_) emit({e->path()}, static_cast<double>(e->subscription_count()));
             });
  m.callback("bastion_http_connections_active", "Open client connections on the MCP listeners.",
             telemetry::MetricType::gauge, {}, [this](const telemetry::Emit& emit) {
               if (server_) emit({}, static_cast<double>(server_->connection_count()));
             });
  m.callback("bastion_http_connections_refused_total", "Connections refused at limits.max_connections.",
             telemetry::MetricType::counter, {}, [this](const telemetry::Emit& emit) {
               if (server_) emit({}, static_cast<double>(server_->refused_connection_count()));
             });
  m.callback("bastion_http_limit_rejections_total",
             "Requests the HTTP layer refused before any handler: size limits (413, 431), read deadline (408), "
             "malformed (400), other.",
             telemetry::MetricType::counter, {"reason"}, [this](const telemetry::Emit& emit) {
               if (!server_) return;
               const auto c = server_->rejection_counts();
               emit({"payload_too_large"}, static_cast<double>(c.payload_too_large));
               emit({"header_fields_too_large"}, static_cast<double>(c.header_fields_too_large));
               emit({"request_timeout"}, static_cast<double>(c.request_timeout));
               emit({"bad_request"}, static_cast<double>(c.bad_request));
               emit({"other"}, static_cast<double>(c.other));
             });
}

void HttpApp::handle_metrics(const std::shared_ptr<http::Exchange>& exchange) const {
  respond_get_only(*exchange, 200, std::string(telemetry::kExpositionContentType),
                   [this] { return telemetry_->metrics().expose(); });
}

void HttpApp::handle_ready(const std::shared_ptr<http::Exchange>& exchange) const {
  const auto report = telemetry_->readiness().evaluate();
  respond_get_only(*exchange, report.ready ? 200 : 503, "text/plain; charset=utf-8", [&report] {
    // One line per check, as Kubernetes' own /readyz?verbose does.
    std::string body;
    for (const auto& [name, ok] : report.checks) body += std::string(ok ? "[+]" : "[-]") + name + (ok ? " ok\n" : " failed\n");
    body += report.ready ? "ready\n" : "not ready\n";
    return body;
  });
}

std::optional<AdminCredentials> HttpApp::take_admin_credentials() {
  auto out = std::move(admin_);
  admin_.reset();
  return out;
}

void HttpApp::handle_health(const std::shared_ptr<http::Exchange>& exchange) const {
  respond_get_only(*exchange, 200, "text/plain; charset=utf-8", [] { return std::string("ok"); });
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
  for (std::size_t i = 0; i < config_.routes.size() && i < authenticators_.size(); ++i)
    if (!authenticators_[i])
      spdlog::warn("route {} has no authentication: whoever reaches it may call its tools", config_.routes[i].path);
  if (admin_server_) {
    http::ListenerSpec spec;
    spec.address = config_.admin.address;
    spec.port = config_.admin.port;
    spec.allow_plain_http_on_non_loopback = config_.admin.allow_insecure;
    admin_port_ = admin_server_->listen(spec);
    spdlog::info("admin listener (/metrics, /healthz, /readyz) on {}:{}", config_.admin.address, *admin_port_);
  }
  listening_ = true;
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
  if (admin_server_) admin_server_->start();
}

void HttpApp::wait() {
  server_->wait();
  // The admin listener answers probes until the MCP server has drained, then stops too.
  if (admin_server_) {
    admin_server_->stop();
    admin_server_->wait();
  }
}

void HttpApp::shutdown_gracefully() {
  // Not ready any more: a load balancer stops sending new requests while we drain.
  listening_ = false;
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
