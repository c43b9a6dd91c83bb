// `bastion serve --print-config`: the effective configuration, with secrets kept out
// (DESIGN.md §5: secrets are never logged, and the config dump redacts them).
#include <yaml-cpp/yaml.h>

#include <charconv>

#include "config/config.hpp"
#include "config/detail.hpp"

namespace bastion::config {

namespace {

constexpr const char* kRedacted = "<redacted>";

class Dumper {
 public:
  explicit Dumper(const Config& config) : config_(config) {}

  std::string run() {
    const Config& c = config_;
    out_ << YAML::BeginMap;

    out_ << YAML::Key << "server" << YAML::Value;
    server("server", c.server);

    out_ << YAML::Key << "logging" << YAML::Value << YAML::BeginMap;
    out_ << YAML::Key << "level" << YAML::Value << std::string(to_string(c.logging.level));
    out_ << YAML::Key << "format" << YAML::Value << std::string(to_string(c.logging.format));
    out_ << YAML::Key << "components" << YAML::Value;
    if (c.logging.components.empty()) out_ << YAML::Flow;
    out_ << YAML::BeginMap;
    for (const auto& [name, level] : c.logging.components) out_ << YAML::Key << name << YAML::Value << std::string(to_string(level));
    out_ << YAML::EndMap;
    out_ << YAML::EndMap;

    out_ << YAML::Key << "audit" << YAML::Value << YAML::BeginMap;
    out_ << YAML::Key << "enabled" << YAML::Value << c.audit.enabled;
    out_ << YAML::Key << "sink" << YAML::Value << (c.audit.sink == AuditConfig::Sink::file ? "file" : "stdout");
    if (!c.audit.path.empty()) {
      out_ << YAML::Key << "path" << YAML::Value;
      field("audit.path", c.audit.path);
    }
    out_ << YAML::EndMap;

    out_ << YAML::Key << "metrics" << YAML::Value << YAML::BeginMap;
    out_ << YAML::Key << "enabled" << YAML::Value << c.metrics.enabled;
    out_ << YAML::EndMap;

    out_ << YAML::Key << "admin" << YAML::Value << YAML::BeginMap;
    out_ << YAML::Key << "enabled" << YAML::Value << c.admin.enabled;
    out_ << YAML::Key << "address" << YAML::Value;
    text(c.admin.address);
    number("port", c.admin.port);
    out_ << YAML::Key << "allow_insecure" << YAML::Value << c.admin.allow_insecure;
    out_ << YAML::EndMap;

    out_ << YAML::Key << "tracing" << YAML::Value << YAML::BeginMap;
    out_ << YAML::Key << "enabled" << YAML::Value << c.tracing.enabled;
    out_ << YAML::Key << "otlp_endpoint" << YAML::Value;
    field("tracing.otlp_endpoint", c.tracing.otlp_endpoint);
    out_ << YAML::Key << "sample_ratio" << YAML::Value << c.tracing.sample_ratio;
    number("max_batch_size", c.tracing.max_batch_size);
    number("max_queue_size", c.tracing.max_queue_size);
    number("export_timeout_ms", c.tracing.export_timeout.count());
    number("schedule_delay_ms", c.tracing.schedule_delay.count());
    out_ << YAML::Key << "service_name" << YAML::Value;
    text(c.tracing.service_name);
    out_ << YAML::Key << "headers" << YAML::Value;
    if (c.tracing.headers.empty()) out_ << YAML::Flow;
    out_ << YAML::BeginMap;
    for (const auto& [name, value] : c.tracing.headers) {
      // Header values are credentials: the reference as written, never the value.
      const auto it = c.references.find("tracing.headers." + name);
      out_ << YAML::Key << name << YAML::Value;
      if (it != c.references.end()) text(it->second);
      else out_ << kRedacted;
    }
    out_ << YAML::EndMap;
    out_ << YAML::EndMap;

    out_ << YAML::Key << "listeners" << YAML::Value << YAML::BeginSeq;
    for (std::size_t i = 0; i < c.listeners.size(); ++i) listener("listeners[" + std::to_string(i) + "]", c.listeners[i]);
    out_ << YAML::EndSeq;

    out_ << YAML::Key << "limits" << YAML::Value << YAML::BeginMap;
    number("max_body_bytes", c.limits.max_body_bytes);
    number("max_header_bytes", c.limits.max_header_bytes);
    number("read_timeout_ms", c.limits.read_timeout.count());
    number("idle_timeout_ms", c.limits.idle_timeout.count());
    number("write_timeout_ms", c.limits.write_timeout.count());
    number("max_connections", c.limits.max_connections);
    number("max_write_queue_bytes", c.limits.max_write_queue_bytes);
    number("shutdown_grace_ms", c.limits.shutdown_grace.count());
    number("lingering_close_bytes", c.limits.lingering_close_bytes.value_or(4 * c.limits.max_body_bytes));
    number("lingering_close_timeout_ms", c.limits.lingering_close_timeout.count());
    number("threads", c.limits.threads);
    out_ << YAML::EndMap;

    out_ << YAML::Key << "security" << YAML::Value << YAML::BeginMap;
    string_list("security.allowed_hosts", "allowed_hosts", c.security.allowed_hosts);
    string_list("security.allowed_origins", "allowed_origins", c.security.allowed_origins);
    out_ << YAML::Key << "allow_loopback_names" << YAML::Value << c.security.allow_loopback_names;
    string_list("security.trusted_proxies", "trusted_proxies", c.security.trusted_proxies);
    out_ << YAML::Key << "request_state_keys" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (std::size_t i = 0; i < c.security.request_state_keys.size(); ++i) {
      // Always a reference when loaded from a file; a key set in code is never printed.
      const auto it = c.references.find("security.request_state_keys[" + std::to_string(i) + "]");
      if (it != c.references.end()) text(it->second);
      else out_ << kRedacted;
    }
    out_ << YAML::EndSeq;
    if (!c.security.argument_digest_key.empty()) secret_field("security", "argument_digest_key");
    out_ << YAML::EndMap;

    out_ << YAML::Key << "sessions" << YAML::Value << YAML::BeginMap;
    number("idle_timeout_s", c.sessions.idle_timeout.count());
    number("max_sessions", c.sessions.max_sessions);
    number("max_sessions_per_client", c.sessions.max_sessions_per_client);
    out_ << YAML::EndMap;

    out_ << YAML::Key << "auth" << YAML::Value << YAML::BeginMap;
    out_ << YAML::Key << "issuers" << YAML::Value << YAML::BeginSeq;
    for (std::size_t i = 0; i < c.auth.issuers.size(); ++i) issuer("auth.issuers[" + std::to_string(i) + "]", c.auth.issuers[i]);
    out_ << YAML::EndSeq;
    number("max_token_bytes", c.auth.max_token_bytes);
    number("token_cache_entries", c.auth.token_cache_entries);
    number("token_cache_max_age_s", c.auth.token_cache_max_age.count());
    out_ << YAML::EndMap;

    out_ << YAML::Key << "routes" << YAML::Value << YAML::BeginSeq;
    for (std::size_t i = 0; i < c.routes.size(); ++i) route("routes[" + std::to_string(i) + "]", c.routes[i]);
    out_ << YAML::EndSeq;

    authorization_server(c.authorization_server);

    out_ << YAML::EndMap;
    return std::string("# Effective configuration (from ") + c.source + "); secrets are shown as references or " +
           kRedacted + ".\n" + out_.c_str() + "\n";
  }

 private:
  template <class T>
  void number(const char* key, T value) {
    out_ << YAML::Key << key << YAML::Value << value;
  }

  // A string as it would be read back: quoted when plain YAML would read it as something else.
  void text(const std::string& value) {
    if (!detail::plain_scalar_value(value).is_string()) out_ << YAML::DoubleQuoted;
    out_ << value;
  }

  // A string field: the reference as written when it came from one.
  void field(const std::string& path, const std::string& value) {
    if (auto it = config_.references.find(path); it != config_.references.end()) {
      text(it->second);
    } else {
      text(value);
    }
  }

  void keyed_field(const std::string& parent, const char* key, const std::string& value) {
    out_ << YAML::Key << key << YAML::Value;
    field(parent + "." + key, value);
  }

  // A secret: the reference it was loaded from (always one when it came from a file); a secret
  // set in code is never printed.
  void secret_field(const std::string& parent, const char* key) {
    out_ << YAML::Key << key << YAML::Value;
    if (auto it = config_.references.find(parent + "." + key); it != config_.references.end()) text(it->second);
    else out_ << kRedacted;
  }

  void string_list(const std::string& path, const char* key, const std::vector<std::string>& values) {
    out_ << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (std::size_t i = 0; i < values.size(); ++i) field(path + "[" + std::to_string(i) + "]", values[i]);
    out_ << YAML::EndSeq;
  }

  void server(const std::string& path, const ServerConfig& s) {
    out_ << YAML::BeginMap;
    keyed_field(path, "name", s.name);
    keyed_field(path, "title", s.title);
    keyed_field(path, "instructions", s.instructions);
    out_ << YAML::EndMap;
  }

  void listener(const std::string& path, const ListenerConfig& l) {
    out_ << YAML::BeginMap;
    keyed_field(path, "address", l.address);
    number("port", l.port);
    if (l.tls) {
      out_ << YAML::Key << "tls" << YAML::Value << YAML::BeginMap;
      keyed_field(path + ".tls", "certificate", l.tls->certificate_file);
      keyed_field(path + ".tls", "private_key", l.tls->private_key_file);
      out_ << YAML::EndMap;
    }
    out_ << YAML::Key << "allow_insecure" << YAML::Value << l.allow_insecure;
    if (!l.public_url.empty()) keyed_field(path, "public_url", l.public_url);
    out_ << YAML::EndMap;
  }

  void issuer(const std::string& path, const IssuerConfig& is) {
    out_ << YAML::BeginMap;
    keyed_field(path, "name", is.name);
    keyed_field(path, "issuer", is.issuer);
    if (!is.jwks_uri.empty()) keyed_field(path, "jwks_uri", is.jwks_uri);
    out_ << YAML::Key << "discovery" << YAML::Value << is.discovery;
    string_list(path + ".algorithms", "algorithms", is.algorithms);
    string_list(path + ".audiences", "audiences", is.audiences);
    keyed_field(path, "profile", is.profile);
    out_ << YAML::Key << "allow_http_loopback" << YAML::Value << is.allow_http_loopback;
    if (!is.ca_file.empty()) keyed_field(path, "ca_file", is.ca_file);
    number("refresh_interval_s", is.refresh_interval.count());
    number("unknown_kid_refetch_interval_s", is.unknown_kid_refetch_interval.count());
    number("max_staleness_s", is.max_staleness.count());
    number("clock_skew_s", is.clock_skew.count());
    number("fetch_timeout_ms", is.fetch_timeout.count());
    out_ << YAML::Key << "require_at_jwt" << YAML::Value << is.require_at_jwt;
    if (is.introspection) {
      const std::string ip = path + ".introspection";
      out_ << YAML::Key << "introspection" << YAML::Value << YAML::BeginMap;
      if (!is.introspection->endpoint.empty()) keyed_field(ip, "endpoint", is.introspection->endpoint);
      keyed_field(ip, "client_id", is.introspection->client_id);
      secret_field(ip, "client_secret");
      number("max_cache_s", is.introspection->max_cache.count());
      out_ << YAML::EndMap;
    }
    out_ << YAML::EndMap;
  }

  void scope_rules(const std::string& path, const char* key, const std::vector<ScopeRuleConfig>& rules) {
    out_ << YAML::Key << key << YAML::Value;
    if (rules.empty()) out_ << YAML::Flow;
    out_ << YAML::BeginMap;
    for (const auto& r : rules) string_list(path + "." + r.pattern, r.pattern.c_str(), r.scopes);
    out_ << YAML::EndMap;
  }

  void route_auth(const std::string& path, const RouteAuthConfig& a) {
    out_ << YAML::Key << "auth" << YAML::Value << YAML::BeginMap;
    string_list(path + ".issuers", "issuers", a.issuers);
    string_list(path + ".audiences", "audiences", a.audiences);
    string_list(path + ".scopes", "scopes", a.scopes);
    scope_rules(path + ".method_scopes", "method_scopes", a.method_scopes);
    scope_rules(path + ".tool_scopes", "tool_scopes", a.tool_scopes);
    scope_rules(path + ".prompt_scopes", "prompt_scopes", a.prompt_scopes);
    scope_rules(path + ".resource_scopes", "resource_scopes", a.resource_scopes);
    out_ << YAML::Key << "filter_lists" << YAML::Value << a.filter_lists;
    keyed_field(path, "resource_name", a.resource_name);
    keyed_field(path, "resource_documentation", a.resource_documentation);
    out_ << YAML::Key << "primary" << YAML::Value << a.primary;
    out_ << YAML::EndMap;
  }

  void route(const std::string& path, const RouteConfig& r) {
    out_ << YAML::BeginMap;
    keyed_field(path, "path", r.path);
    // The route's own server block only when it differs from the top-level one.
    const ServerConfig& top = config_.server;
    if (r.server.name != top.name || r.server.title != top.title || r.server.instructions != top.instructions) {
      out_ << YAML::Key << "server" << YAML::Value;
      server(path + ".server", r.server);
    }
    string_list(path + ".modules", "modules", r.modules);
    out_ << YAML::Key << "log_tool_arguments" << YAML::Value << r.log_tool_arguments;
    out_ << YAML::Key << "module_settings" << YAML::Value;
    if (r.module_settings.empty()) out_ << YAML::Flow;
    out_ << YAML::BeginMap;
    for (const auto& [name, settings] : r.module_settings) {
      out_ << YAML::Key << name << YAML::Value;
      json_value(path + ".module_settings." + name, settings, false);
    }
    out_ << YAML::EndMap;
    if (r.auth) route_auth(path + ".auth", *r.auth);
    out_ << YAML::EndMap;
  }

  void authorization_server(const AuthServerConfig& as) {
    const std::string p = "authorization_server";
    out_ << YAML::Key << p << YAML::Value << YAML::BeginMap;
    out_ << YAML::Key << "enabled" << YAML::Value << as.enabled;
    if (!as.issuer.empty()) keyed_field(p, "issuer", as.issuer);
    keyed_field(p, "data_dir", as.data_dir);
    keyed_field(p, "signing_algorithm", as.signing_algorithm);
    number("access_token_ttl_s", as.access_token_ttl.count());
    number("code_ttl_s", as.code_ttl.count());
    number("refresh_token_ttl_s", as.refresh_token_ttl.count());
    number("key_rotation_s", as.key_rotation.count());
    string_list(p + ".scopes", "scopes", as.scopes);
    string_list(p + ".resources", "resources", as.resources);
    out_ << YAML::Key << "users" << YAML::Value;
    if (as.users.empty()) out_ << YAML::Flow;
    out_ << YAML::BeginSeq;
    for (std::size_t i = 0; i < as.users.size(); ++i) {
      const std::string up = p + ".users[" + std::to_string(i) + "]";
      out_ << YAML::BeginMap;
      keyed_field(up, "username", as.users[i].username);
      // A password hash is not the password, but it allows offline guessing: keep it out of
      // dumps unless it came from a reference.
      out_ << YAML::Key << "password_hash" << YAML::Value;
      if (auto it = config_.references.find(up + ".password_hash"); it != config_.references.end()) text(it->second);
      else out_ << kRedacted;
      out_ << YAML::EndMap;
    }
    out_ << YAML::EndSeq;
    out_ << YAML::Key << "clients" << YAML::Value;
    if (as.clients.empty()) out_ << YAML::Flow;
    out_ << YAML::BeginSeq;
    for (std::size_t i = 0; i < as.clients.size(); ++i) {
      const auto& c = as.clients[i];
      const std::string cp = p + ".clients[" + std::to_string(i) + "]";
      out_ << YAML::BeginMap;
      keyed_field(cp, "client_id", c.client_id);
      if (!c.client_name.empty()) keyed_field(cp, "client_name", c.client_name);
      string_list(cp + ".redirect_uris", "redirect_uris", c.redirect_uris);
      keyed_field(cp, "token_endpoint_auth_method", c.token_endpoint_auth_method);
      if (!c.client_secret.empty()) secret_field(cp, "client_secret");
      if (!c.public_key.empty()) keyed_field(cp, "public_key", c.public_key);
      string_list(cp + ".grant_types", "grant_types", c.grant_types);
      string_list(cp + ".scopes", "scopes", c.scopes);
      out_ << YAML::EndMap;
    }
    out_ << YAML::EndSeq;
    out_ << YAML::Key << "dcr" << YAML::Value << YAML::BeginMap;
    out_ << YAML::Key << "enabled" << YAML::Value << as.dcr.enabled;
    number("max_clients", as.dcr.max_clients);
    number("per_minute", as.dcr.per_minute);
    number("per_minute_per_address", as.dcr.per_minute_per_address);
    out_ << YAML::EndMap;
    out_ << YAML::Key << "cimd" << YAML::Value << YAML::BeginMap;
    out_ << YAML::Key << "enabled" << YAML::Value << as.cimd.enabled;
    out_ << YAML::Key << "allow_loopback" << YAML::Value << as.cimd.allow_loopback;
    number("max_document_bytes", as.cimd.max_document_bytes);
    number("timeout_ms", as.cimd.timeout.count());
    number("cache_ttl_s", as.cimd.cache_ttl.count());
    if (!as.cimd.ca_file.empty()) out_ << YAML::Key << "ca_file" << YAML::Value << as.cimd.ca_file;
    out_ << YAML::EndMap;
    out_ << YAML::EndMap;
  }

  void json_value(const std::string& path, const json::value& value, bool secret) {
    if (auto it = config_.references.find(path); it != config_.references.end()) {
      text(it->second);
      return;
    }
    switch (value.kind()) {
      case json::kind::object:
        out_ << YAML::BeginMap;
        for (const auto& [key, child] : value.get_object()) {
          const std::string name(key);
          out_ << YAML::Key << name << YAML::Value;
          json_value(path + "." + name, child, secret || detail::is_secret_key(name));
        }
        out_ << YAML::EndMap;
        return;
      case json::kind::array: {
        out_ << YAML::BeginSeq;
        std::size_t i = 0;
        for (const auto& child : value.get_array()) json_value(path + "[" + std::to_string(i++) + "]", child, secret);
        out_ << YAML::EndSeq;
        return;
      }
      default: break;
    }
    if (secret) {
      out_ << kRedacted;
      return;
    }
    switch (value.kind()) {
      case json::kind::string: text(std::string(value.get_string())); break;
      case json::kind::bool_: out_ << value.get_bool(); break;
      case json::kind::int64: out_ << value.get_int64(); break;
      case json::kind::uint64: out_ << value.get_uint64(); break;
      case json::kind::double_: {
        char buffer[64];
        auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value.get_double());
        std::string number(buffer, end);
        // Keep it a float when read back ("2" would come back as an integer).
        if (number.find_first_of(".eE") == std::string::npos && number.find_first_of("0123456789") != std::string::npos) {
          number += ".0";
        }
        out_ << number;
        break;
      }
      case json::kind::null: out_ << YAML::Null; break;
      default: break;
    }
  }

  const Config& config_;
  YAML::Emitter out_;
};

}  // namespace

std::string dump_redacted(const Config& config) { return Dumper(config).run(); }

}  // namespace bastion::config
