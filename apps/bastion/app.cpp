#include "app.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>
#include <thread>

#include "bastion/module.hpp"
#include "http/client.hpp"
#include "http/router.hpp"
#include "telemetry/process_metrics.hpp"

namespace bastion::app {

namespace {

// "file:line:col: path: message", the same shape as the loader's errors.
ConfigurationError config_error(const config::Config& config, const std::string& path, const std::string& message) {
  return ConfigurationError(config::ConfigError{config.location_of(path), path + ": " + message}.to_string());
}

// What the OTLP exporter (and later JWKS, introspection) sends with: the outbound client.
http::Fetcher outbound_fetcher() { return http::default_fetcher(); }

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

void check_startup(const config::Config& config) {
  for (std::size_t i = 0; i < config.routes.size(); ++i) build_definition(config, i);
  try {
    http::Guard guard(guard_config(config.security));
  } catch (const std::exception& e) {
    throw config_error(config, "security", e.what());
  }
}

HttpApp::HttpApp(const config::Config& config) : config_(config) {
  try {
    telemetry_ = std::make_unique<telemetry::Telemetry>(telemetry_options(config_), outbound_fetcher());
  } catch (const std::exception& e) {
    throw config_error(config_, "audit", e.what());
  }
  for (std::size_t i = 0; i < config_.routes.size(); ++i) {
    auto definition = build_definition(config_, i);
    auto tag = std::make_unique<telemetry::RouteTag>();
    tag->route = config_.routes[i].path;
    tag->log_tool_arguments = config_.routes[i].log_tool_arguments;
    tag->known_tool = [definition](std::string_view name) { return definition->find_tool(std::string(name)) != nullptr; };
    route_tags_.push_back(std::move(tag));
    try {
      auto options = endpoint_options(config_, config_.routes[i]);
      options.telemetry = telemetry_.get();
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
  for (std::size_t i = 0; i < endpoints_.size(); ++i) {
    transport::McpEndpoint* target = endpoints_[i].get();
    const http::Guard* guard = guard_.get();
    const telemetry::RouteTag* tag = route_tags_[i].get();
    telemetry::Telemetry* observer = telemetry_.get();
    // The prefix covers <path>/sse and <path>/messages too; the endpoint says what it serves.
    router.add_prefix(target->path(), [target, guard, tag, observer](std::shared_ptr<http::Exchange> exchange) {
      // Where the request enters the pipeline: from here on it is counted, timed, traced and
      // logged once at its end (telemetry/telemetry.hpp).
      exchange = observer->observe(std::move(exchange), *tag);
      const http::Request& request = exchange->request();
      if (!target->matches(request.path)) {
        exchange->respond(http::not_found_response());
        return;
      }
      // DNS-rebinding defence before anything else looks at the request (MCP transports,
      // Security Warning).
      if (auto refusal = observer->step(*exchange, "guard", [&] { return guard->check(request); })) {
        exchange->respond(std::move(*refusal));
        return;
      }
      target->handle(std::move(exchange));
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
  register_app_metrics();

  telemetry::AuditEvent loaded;
  loaded.type = telemetry::audit_event::kConfigurationLoaded;
  loaded.outcome = "success";
  loaded.details["source"] = config_.source;
  loaded.details["routes"] = config_.routes.size();
  loaded.details["listeners"] = config_.listeners.size();
  telemetry_->audit().record(loaded);
}

HttpApp::~HttpApp() {
  // The servers first: no handler may run once the endpoints are gone, and no scrape may read
  // an endpoint that is gone.
  admin_server_.reset();
  server_.reset();
  endpoints_.clear();
}

void HttpApp::register_app_metrics() {
  auto& m = telemetry_->metrics();
  telemetry::register_process_metrics(m);
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
  const auto& method = exchange->request().method;
  http::Response response;
  if (method != "GET" && method != "HEAD") {
    response.status = 405;
    response.headers.set("Allow", "GET, HEAD");
    return exchange->respond(std::move(response));
  }
  response.headers.set("Content-Type", std::string(telemetry::kExpositionContentType));
  response.headers.set("Cache-Control", "no-store");
  if (method == "GET") response.body = telemetry_->metrics().expose();
  exchange->respond(std::move(response));
}

void HttpApp::handle_ready(const std::shared_ptr<http::Exchange>& exchange) const {
  const auto& method = exchange->request().method;
  http::Response response;
  if (method != "GET" && method != "HEAD") {
    response.status = 405;
    response.headers.set("Allow", "GET, HEAD");
    return exchange->respond(std::move(response));
  }
  const auto report = telemetry_->readiness().evaluate();
  response.status = report.ready ? 200 : 503;
  response.headers.set("Content-Type", "text/plain; charset=utf-8");
  response.headers.set("Cache-Control", "no-store");
  // One line per check, as Kubernetes' own /readyz?verbose does.
  std::string body;
  for (const auto& [name, ok] : report.checks) body += std::string(ok ? "[+]" : "[-]") + name + (ok ? " ok\n" : " failed\n");
  body += report.ready ? "ready\n" : "not ready\n";
  if (method == "GET") response.body = std::move(body);
  exchange->respond(std::move(response));
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
