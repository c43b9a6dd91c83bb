// YAML -> Config. This file checks shape and types (unknown keys, wrong types, duplicate keys,
// secret references, files that must exist); validate.cpp checks meaning and cross-references.
// Both report every error they find, each with the position of the offending key or value.
#include "config/config.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>

#include "config/detail.hpp"

namespace bastion::config {

// Implemented in validate.cpp: validate() that stays quiet about paths the parser already
// reported (one mistake, one message).
std::vector<ConfigError> validate_impl(const Config& config,
                                       const std::optional<std::vector<std::string>>& known_modules,
                                       const std::set<std::string>& failed_paths);

std::string Location::to_string() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string ConfigError::to_string() const { return where.to_string() + ": " + message; }

std::string format_errors(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) {
    out += e.to_string();
    out += '\n';
  }
  return out;
}

std::string_view to_string(LogFormat format) {
  switch (format) {
    case LogFormat::json: return "json";
    case LogFormat::text: return "text";
    case LogFormat::automatic: return "auto";
  }
  return "auto";
}

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::trace: return "trace";
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
    case LogLevel::critical: return "critical";
    case LogLevel::off: return "off";
  }
  return "info";
}

Location Config::location_of(const std::string& path) const {
  for (std::string p = path;; p = detail::parent_path(p)) {
    if (auto it = locations.find(p); it != locations.end()) return it->second;
    if (p.empty()) break;
  }
  return Location{source, 0, 0};
}

namespace {

constexpr std::size_t kMaxConfigFileBytes = 1024 * 1024;

// A value in the document: its node, where to point at when it is wrong, and its key path.
struct Item {
  YAML::Node node;
  YAML::Mark mark;
  std::string path;
};

struct Entry {
  std::string key;
  Item value;
};

// A route's own `server` block: only what it sets overrides the top-level block.
struct ServerOverride {
  std::optional<std::string> name, title, instructions;
};

std::string join_path(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

std::string index_path(const std::string& parent, std::size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

bool is_quoted(const YAML::Node& node) {
  // yaml-cpp gives "!" to quoted and block scalars, "?" to plain ones.
  return node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str";
}

std::string shorten(std::string text) {
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return "nothing (null)";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Scalar:
      return is_quoted(node) ? "the string \"" + shorten(node.Scalar()) + "\"" : "'" + shorten(node.Scalar()) + "'";
    case YAML::NodeType::Undefined: break;
  }
  return "nothing";
}

class Parser {
 public:
  Parser(Config& config, const LoadOptions& options, std::string base_directory)
      : config_(config), references_{std::move(base_directory), options.getenv} {}

  std::vector<ConfigError> errors;
  std::set<std::string> failed_paths;

  void fail_at(const YAML::Mark& mark, const std::string& path, const std::string& message,
               const std::string& failed_path) {
    Location where{config_.source, 0, 0};
    if (!mark.is_null()) where = Location{config_.source, mark.line + 1, mark.column + 1};
    errors.push_back(ConfigError{where, path.empty() ? message : path + ": " + message});
    failed_paths.insert(failed_path);
  }
  void fail(const Item& item, const std::string& message) { fail_at(item.mark, item.path, message, item.path); }

  void parse_document(const YAML::Node& root) {
    Item item{root, root.Mark(), ""};
    ServerOverride top;
    bool have_listeners = false, have_routes = false;
    std::vector<ServerOverride> route_servers;
    const auto entries = map_entries(item, {"server", "logging", "audit", "metrics", "admin", "tracing", "listeners", "limits",
                                            "security", "sessions", "auth", "routes", "authorization_server"});
    for (const auto& e : entries) {
      if (e.key == "server") {
        top = parse_server(e.value);
      } else if (e.key == "logging") {
        parse_logging(e.value);
      } else if (e.key == "audit") {
        parse_audit(e.value);
      } else if (e.key == "metrics") {
        parse_metrics(e.value);
      } else if (e.key == "admin") {
        parse_admin(e.value);
      } else if (e.key == "tracing") {
        parse_tracing(e.value);
      } else if (e.key == "listeners") {
        have_listeners = !e.value.node.IsNull();
        parse_listeners(e.value);
      } else if (e.key == "limits") {
        parse_limits(e.value);
      } else if (e.key == "security") {
        parse_security(e.value);
      } else if (e.key == "sessions") {
        parse_sessions(e.value);
      } else if (e.key == "auth") {
        parse_auth(e.value);
      } else if (e.key == "routes") {
        have_routes = !e.value.node.IsNull();
        route_servers = parse_routes(e.value);
      } else if (e.key == "authorization_server") {
        parse_authorization_server(e.value);
      }
    }
    const Config defaults = default_config();
    if (!have_listeners) config_.listeners = defaults.listeners;
    if (!have_routes) {
      config_.routes = defaults.routes;
      route_servers.assign(config_.routes.size(), ServerOverride{});
      // The default route is protected by the embedded authorization server; a file that turns
      // that server off (by leaving its block out) and names no issuer gets the demo route
      // without authentication, as it asked, and the start-up log says so.
      if (!config_.authorization_server.enabled && config_.auth.issuers.empty())
        for (auto& route : config_.routes) route.auth.reset();
    }
    if (top.name) config_.server.name = *top.name;
    if (top.title) config_.server.title = *top.title;
    if (top.instructions) config_.server.instructions = *top.instructions;
    for (std::size_t i = 0; i < config_.routes.size() && i < route_servers.size(); ++i) {
      merge_server(i, route_servers[i]);
    }
  }

 private:
  // A route's `server` block over the top-level one. Inherited values keep their reference text
  // (for the redacted dump) and their location (for validate()).
  void merge_server(std::size_t index, const ServerOverride& own) {
    auto& server = config_.routes[index].server;
    const std::string prefix = index_path("routes", index) + ".server.";
    auto inherit = [&](const std::optional<std::string>& mine, const std::string& top, std::string& out,
                       std::string_view field) {
      if (mine) {
        out = *mine;
        return;
      }
      out = top;
      const std::string from = "server." + std::string(field);
      const std::string to = prefix + std::string(field);
      if (auto it = config_.references.find(from); it != config_.references.end()) config_.references[to] = it->second;
      if (auto it = config_.locations.find(from); it != config_.locations.end()) config_.locations[to] = it->second;
      if (failed_paths.contains(from)) failed_paths.insert(to);
    };
    inherit(own.name, config_.server.name, server.name, "name");
    inherit(own.title, config_.server.title, server.title, "title");
    inherit(own.instructions, config_.server.instructions, server.instructions, "instructions");
  }

  void remember(const Item& item) {
    if (!item.mark.is_null()) {
      config_.locations[item.path] = Location{config_.source, item.mark.line + 1, item.mark.column + 1};
    }
  }

  bool check_tag(const Item& item) {
    const std::string& tag = item.node.Tag();
    if (tag.empty() || tag == "?" || tag == "!" || tag.starts_with("tag:yaml.org,2002:")) return true;
    fail(item, "YAML tag '" + tag + "' is not supported");
    return false;
  }

  // The entries of a map, with unknown and duplicate keys reported. A null node (an empty
  // section such as `security:`) has no entries.
  std::vector<Entry> map_entries(const Item& item, std::initializer_list<std::string_view> allowed) {
    std::vector<Entry> out;
    if (!item.node.IsDefined() || item.node.IsNull()) return out;
    if (!check_tag(item)) return out;
    if (!item.node.IsMap()) {
      fail(item, "expected a map (key: value), got " + describe(item.node));
      return out;
    }
    std::map<std::string, int> seen;  // key -> line
    for (auto it = item.node.begin(); it != item.node.end(); ++it) {
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      const YAML::Mark key_mark = key.Mark();
      if (!key.IsScalar()) {
        fail_at(key_mark, item.path, "keys must be plain names, got " + describe(key), item.path);
        continue;
      }
      const std::string name = key.Scalar();
      const std::string path = join_path(item.path, name);
      if (auto [pos, inserted] = seen.emplace(name, key_mark.line + 1); !inserted) {
        fail_at(key_mark, item.path, "duplicate key '" + name + "' (first given on line " + std::to_string(pos->second) + ")",
                path);
        continue;
      }
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        std::string expected;
        for (auto a : allowed) expected += (expected.empty() ? "" : ", ") + std::string(a);
        fail_at(key_mark, item.path,
                "unknown key '" + name + "'" + (item.path.empty() ? "" : " in " + item.path) +
                    " (expected one of: " + expected + ")",
                path);
        continue;
      }
      // An empty value has no position of its own (yaml-cpp points at the next token): point at
      // its key instead.
      Entry entry{name, Item{value, value.IsNull() ? key_mark : value.Mark(), path}};
      remember(entry.value);
      out.push_back(std::move(entry));
    }
    return out;
  }

  std::vector<Item> list_items(const Item& item) {
    std::vector<Item> out;
    if (!item.node.IsDefined() || item.node.IsNull()) return out;
    if (!check_tag(item)) return out;
    if (!item.node.IsSequence()) {
      fail(item, "expected a list, got " + describe(item.node));
      return out;
    }
    std::size_t index = 0;
    for (const YAML::Node& element : item.node) {
      Item child{element, element.IsNull() ? item.mark : element.Mark(), index_path(item.path, index++)};
      remember(child);
      out.push_back(std::move(child));
    }
    return out;
  }

  // Resolves ${env:...}/${file:...} and remembers the text as written for the redacted dump.
  std::optional<std::string> resolve(const Item& item, const std::string& text) {
    if (!has_reference(text) && text.find("$${") == std::string::npos) return text;
    auto resolved = resolve_references(text, references_);
    if (!resolved) {
      fail(item, resolved.error());
      return std::nullopt;
    }
    if (has_reference(text)) config_.references[item.path] = text;
    return *resolved;
  }

  std::optional<std::string> string_value(const Item& item) {
    if (!check_tag(item)) return std::nullopt;
    if (item.node.IsNull()) {
      fail(item, "expected a string, got nothing (write \"\" for an empty string)");
      return std::nullopt;
    }
    if (!item.node.IsScalar()) {
      fail(item, "expected a string, got " + describe(item.node));
      return std::nullopt;
    }
    return resolve(item, item.node.Scalar());
  }

  std::optional<std::uint64_t> uint_value(const Item& item, std::uint64_t max) {
    if (!check_tag(item)) return std::nullopt;
    if (!item.node.IsScalar() || item.node.IsNull()) {
      fail(item, "expected a whole number, got " + describe(item.node));
      return std::nullopt;
    }
    const std::string& text = item.node.Scalar();
    if (is_quoted(item.node)) {
      fail(item, "expected a whole number, got " + describe(item.node) + " (remove the quotes)");
      return std::nullopt;
    }
    std::string_view digits = text;
    if (digits.starts_with('+')) digits.remove_prefix(1);
    const bool numeric = !digits.empty() && std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!numeric) {
      const bool negative = text.starts_with('-') && text.size() > 1 &&
                            std::all_of(text.begin() + 1, text.end(), [](char c) { return c >= '0' && c <= '9'; });
      fail(item, negative ? text + " is negative; expected a whole number from 0 to " + std::to_string(max)
                          : "expected a whole number, got " + describe(item.node));
      return std::nullopt;
    }
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size() || value > max) {
      fail(item, text + " is too large (at most " + std::to_string(max) + ")");
      return std::nullopt;
    }
    return value;
  }

  std::optional<bool> bool_value(const Item& item) {
    if (!check_tag(item)) return std::nullopt;
    if (item.node.IsScalar() && !is_quoted(item.node)) {
      const auto v = detail::plain_scalar_value(item.node.Scalar());
      if (v.is_bool()) return v.get_bool();
    }
    fail(item, "expected true or false, got " + describe(item.node));
    return std::nullopt;
  }

  std::vector<std::string> string_list(const Item& item) {
    std::vector<std::string> out;
    for (const Item& element : list_items(item)) {
      if (auto s = string_value(element)) out.push_back(std::move(*s));
    }
    return out;
  }

  // Module settings: YAML -> JSON. Plain scalars follow the YAML 1.2 core schema (null, true,
  // false, decimal numbers); quoted scalars are strings; strings may hold secret references.
  std::optional<json::value> json_value(const Item& item) {
    if (!check_tag(item)) return std::nullopt;
    const YAML::Node& node = item.node;
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null: return json::value(nullptr);
      case YAML::NodeType::Scalar: {
        json::value plain = is_quoted(node) ? json::value(json::string(node.Scalar()))
                                            : detail::plain_scalar_value(node.Scalar());
        if (!plain.is_string()) return plain;
        auto resolved = resolve(item, node.Scalar());
        if (!resolved) return std::nullopt;
        return json::value(json::string(*resolved));
      }
      case YAML::NodeType::Sequence: {
        json::array array;
        bool ok = true;
        for (const Item& element : list_items(item)) {
          auto v = json_value(element);
          if (!v) ok = false;
          else array.push_back(std::move(*v));
        }
        if (!ok) return std::nullopt;
        return json::value(std::move(array));
      }
      case YAML::NodeType::Map: {
        json::object object;
        bool ok = true;
        std::map<std::string, int> seen;
        for (auto it = node.begin(); it != node.end(); ++it) {
          const YAML::Node key = it->first;
          const YAML::Node value = it->second;
          if (!key.IsScalar()) {
            fail_at(key.Mark(), item.path, "keys must be plain names, got " + describe(key), item.path);
            ok = false;
            continue;
          }
          const std::string path = join_path(item.path, key.Scalar());
          if (auto [pos, inserted] = seen.emplace(key.Scalar(), key.Mark().line + 1); !inserted) {
            fail_at(key.Mark(), item.path,
                    "duplicate key '" + key.Scalar() + "' (first given on line " + std::to_string(pos->second) + ")", path);
            ok = false;
            continue;
          }
          Item child{value, value.IsNull() ? key.Mark() : value.Mark(), path};
          remember(child);
          auto v = json_value(child);
          if (!v) ok = false;
          else object[key.Scalar()] = std::move(*v);
        }
        if (!ok) return std::nullopt;
        return json::value(std::move(object));
      }
    }
    return std::nullopt;
  }

  // Relative file paths are relative to the config file, not to the working directory, so a
  // config and its certificates can move together.
  std::string absolute_file(const std::string& path) const {
    std::filesystem::path p(path);
    if (p.is_relative() && !references_.base_directory.empty()) p = std::filesystem::path(references_.base_directory) / p;
    return p.lexically_normal().string();
  }

  void require_readable_file(const Item& item, const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      fail(item, "file '" + path + "' does not exist or is not a regular file");
      return;
    }
    std::ifstream probe(path, std::ios::binary);
    if (!probe) fail(item, "file '" + path + "' cannot be read");
  }

  ServerOverride parse_server(const Item& item) {
    ServerOverride out;
    for (const auto& e : map_entries(item, {"name", "title", "instructions"})) {
      auto value = string_value(e.value);
      if (!value) continue;
      if (e.key == "name") out.name = std::move(value);
      else if (e.key == "title") out.title = std::move(value);
      else out.instructions = std::move(value);
    }
    return out;
  }

  std::optional<LogLevel> log_level(const Item& item) {
    auto text = string_value(item);
    if (!text) return std::nullopt;
    for (LogLevel level : {LogLevel::trace, LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error,
                           LogLevel::critical, LogLevel::off}) {
      if (*text == to_string(level)) return level;
    }
    fail(item, "unknown log level '" + *text + "' (expected trace, debug, info, warn, error, critical or off)");
    return std::nullopt;
  }

  void parse_logging(const Item& item) {
    for (const auto& e : map_entries(item, {"level", "format", "components"})) {
      if (e.key == "level") {
        if (auto level = log_level(e.value)) config_.logging.level = *level;
      } else if (e.key == "format") {
        auto text = string_value(e.value);
        if (!text) continue;
        if (*text == "json") config_.logging.format = LogFormat::json;
        else if (*text == "text") config_.logging.format = LogFormat::text;
        else if (*text == "auto") config_.logging.format = LogFormat::automatic;
        else fail(e.value, "unknown log format '" + *text + "' (expected json, text or auto)");
      } else {
        for (const auto& c : map_entries(e.value, {"bastion", "request", "http", "transport", "mcp", "telemetry", "auth",
                                                   "authserver", "config"})) {
          if (auto level = log_level(c.value)) config_.logging.components[c.key] = *level;
        }
      }
    }
  }

  void parse_audit(const Item& item) {
    for (const auto& e : map_entries(item, {"enabled", "sink", "path"})) {
      if (e.key == "enabled") {
        if (auto v = bool_value(e.value)) config_.audit.enabled = *v;
      } else if (e.key == "sink") {
        auto text = string_value(e.value);
        if (!text) continue;
        if (*text == "stdout") config_.audit.sink = AuditConfig::Sink::stdout_stream;
        else if (*text == "file") config_.audit.sink = AuditConfig::Sink::file;
        else fail(e.value, "unknown audit sink '" + *text + "' (expected stdout or file)");
      } else if (auto v = string_value(e.value)) {
        config_.audit.path = absolute_file(*v);
      }
    }
  }

  void parse_metrics(const Item& item) {
    for (const auto& e : map_entries(item, {"enabled"})) {
      if (auto v = bool_value(e.value)) config_.metrics.enabled = *v;
    }
  }

  void parse_admin(const Item& item) {
    for (const auto& e : map_entries(item, {"enabled", "address", "port", "allow_insecure"})) {
      if (e.key == "enabled") {
        if (auto v = bool_value(e.value)) config_.admin.enabled = *v;
      } else if (e.key == "address") {
        if (auto v = string_value(e.value)) config_.admin.address = *v;
      } else if (e.key == "port") {
        if (auto v = uint_value(e.value, 65535)) config_.admin.port = static_cast<std::uint16_t>(*v);
      } else if (auto v = bool_value(e.value)) {
        config_.admin.allow_insecure = *v;
      }
    }
  }

  std::optional<double> ratio_value(const Item& item) {
    if (!check_tag(item)) return std::nullopt;
    if (item.node.IsScalar() && !is_quoted(item.node)) {
      const auto v = detail::plain_scalar_value(item.node.Scalar());
      if (v.is_number()) {
        const double d = v.to_number<double>();
        if (d >= 0.0 && d <= 1.0) return d;
        fail(item, item.node.Scalar() + " is out of range (0 to 1)");
        return std::nullopt;
      }
    }
    fail(item, "expected a number from 0 to 1, got " + describe(item.node));
    return std::nullopt;
  }

  void parse_tracing(const Item& item) {
    auto& t = config_.tracing;
    for (const auto& e : map_entries(item, {"enabled", "otlp_endpoint", "sample_ratio", "max_batch_size",
                                            "max_queue_size", "export_timeout_ms", "schedule_delay_ms", "service_name",
                                            "headers"})) {
      if (e.key == "enabled") {
        if (auto v = bool_value(e.value)) t.enabled = *v;
      } else if (e.key == "otlp_endpoint") {
        if (auto v = string_value(e.value)) t.otlp_endpoint = *v;
      } else if (e.key == "sample_ratio") {
        if (auto v = ratio_value(e.value)) t.sample_ratio = *v;
      } else if (e.key == "max_batch_size" || e.key == "max_queue_size") {
        if (auto v = uint_value(e.value, 1'000'000)) (e.key == "max_batch_size" ? t.max_batch_size : t.max_queue_size) = *v;
      } else if (e.key == "export_timeout_ms" || e.key == "schedule_delay_ms") {
        if (auto v = uint_value(e.value, 600'000))
          (e.key == "export_timeout_ms" ? t.export_timeout : t.schedule_delay) =
              std::chrono::milliseconds(static_cast<std::int64_t>(*v));
      } else if (e.key == "service_name") {
        if (auto v = string_value(e.value)) t.service_name = *v;
      } else {
        parse_tracing_headers(e.value);
      }
    }
  }

  // Collector headers carry credentials: each value must be a secret reference.
  void parse_tracing_headers(const Item& item) {
    if (!item.node.IsNull() && !item.node.IsMap()) {
      fail(item, "expected a map of header name -> value, got " + describe(item.node));
      return;
    }
    if (item.node.IsNull()) return;
    for (auto it = item.node.begin(); it != item.node.end(); ++it) {
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      if (!key.IsScalar()) {
        fail_at(key.Mark(), item.path, "keys must be plain names, got " + describe(key), item.path);
        continue;
      }
      Item child{value, value.IsNull() ? key.Mark() : value.Mark(), join_path(item.path, key.Scalar())};
      remember(child);
      if (!is_secret_reference(child)) continue;
      if (auto v = string_value(child)) config_.tracing.headers[key.Scalar()] = *v;
    }
  }

  void parse_listeners(const Item& item) {
    config_.listeners.clear();
    for (const Item& element : list_items(item)) {
      ListenerConfig listener;
      bool have_port = false;
      for (const auto& e : map_entries(element, {"address", "port", "tls", "allow_insecure", "public_url"})) {
        if (e.key == "address") {
          if (auto v = string_value(e.value)) listener.address = *v;
        } else if (e.key == "port") {
          have_port = true;
          if (auto v = uint_value(e.value, 65535)) listener.port = static_cast<std::uint16_t>(*v);
        } else if (e.key == "tls") {
          listener.tls = parse_tls(e.value);
        } else if (e.key == "allow_insecure") {
          if (auto v = bool_value(e.value)) listener.allow_insecure = *v;
        } else if (e.key == "public_url") {
          if (auto v = string_value(e.value)) listener.public_url = *v;
        }
      }
      if (!have_port && (element.node.IsMap() || element.node.IsNull())) {
        fail_at(element.mark, element.path, "missing required key 'port' (use 0 for any free port)",
                element.path + ".port");
      }
      config_.listeners.push_back(std::move(listener));
    }
  }

  std::optional<TlsConfig> parse_tls(const Item& item) {
    TlsConfig tls;
    bool have_certificate = false, have_key = false;
    for (const auto& e : map_entries(item, {"certificate", "private_key"})) {
      auto v = string_value(e.value);
      if (!v) continue;
      if (v->empty()) {
        fail(e.value, "must name a PEM file");
        continue;
      }
      const std::string file = absolute_file(*v);
      require_readable_file(e.value, file);
      (e.key == "certificate" ? tls.certificate_file : tls.private_key_file) = file;
      (e.key == "certificate" ? have_certificate : have_key) = true;
    }
    if (item.node.IsMap()) {
      if (!have_certificate && !failed_paths.contains(item.path + ".certificate")) {
        fail_at(item.mark, item.path, "missing required key 'certificate'", item.path + ".certificate");
      }
      if (!have_key && !failed_paths.contains(item.path + ".private_key")) {
        fail_at(item.mark, item.path, "missing required key 'private_key'", item.path + ".private_key");
      }
    }
    if (item.node.IsNull()) return std::nullopt;  // `tls:` left empty means no TLS
    return tls;
  }

  void parse_limits(const Item& item) {
    auto& limits = config_.limits;
    constexpr std::uint64_t kMaxMs = static_cast<std::uint64_t>(INT32_MAX);
    for (const auto& e : map_entries(item, {"max_body_bytes", "max_header_bytes", "read_timeout_ms", "idle_timeout_ms",
                                            "write_timeout_ms", "max_connections", "max_write_queue_bytes",
                                            "shutdown_grace_ms", "lingering_close_bytes",
                                            "lingering_close_timeout_ms", "threads"})) {
      if (e.key.ends_with("_ms")) {
        auto v = uint_value(e.value, kMaxMs);
        if (!v) continue;
        const std::chrono::milliseconds ms(static_cast<std::int64_t>(*v));
        if (e.key == "read_timeout_ms") limits.read_timeout = ms;
        else if (e.key == "idle_timeout_ms") limits.idle_timeout = ms;
        else if (e.key == "write_timeout_ms") limits.write_timeout = ms;
        else if (e.key == "lingering_close_timeout_ms") limits.lingering_close_timeout = ms;
        else limits.shutdown_grace = ms;
        continue;
      }
      auto v = uint_value(e.value, SIZE_MAX);
      if (!v) continue;
      if (e.key == "max_body_bytes") limits.max_body_bytes = *v;
      else if (e.key == "max_header_bytes") limits.max_header_bytes = *v;
      else if (e.key == "max_connections") limits.max_connections = *v;
      else if (e.key == "max_write_queue_bytes") limits.max_write_queue_bytes = *v;
      else if (e.key == "lingering_close_bytes") limits.lingering_close_bytes = *v;
      else limits.threads = *v;
    }
  }

  void parse_security(const Item& item) {
    auto& security = config_.security;
    for (const auto& e : map_entries(item, {"allowed_hosts", "allowed_origins", "allow_loopback_names", "trusted_proxies",
                                            "request_state_keys", "argument_digest_key"})) {
      if (e.key == "allowed_hosts") security.allowed_hosts = string_list(e.value);
      else if (e.key == "allowed_origins") security.allowed_origins = string_list(e.value);
      else if (e.key == "trusted_proxies") security.trusted_proxies = string_list(e.value);
      else if (e.key == "request_state_keys") parse_secret_list(e.value, security.request_state_keys);
      else if (e.key == "argument_digest_key") parse_secret(e.value, security.argument_digest_key);
      else if (auto v = bool_value(e.value)) security.allow_loopback_names = *v;
    }
  }

  // A secret must be a reference (DESIGN.md §5), so that it never sits in a file that gets
  // copied, committed or printed. False (and a reported error) for a literal.
  bool is_secret_reference(const Item& item) {
    if (!item.node.IsScalar() || has_reference(item.node.Scalar())) return true;
    fail(item, "a secret: write it as a reference (${env:NAME} or ${file:/path}), not as a literal");
    return false;
  }

  void parse_secret(const Item& item, std::string& out) {
    if (!is_secret_reference(item)) return;
    if (auto s = string_value(item)) out = std::move(*s);
  }

  // A list of secrets: each a reference.
  void parse_secret_list(const Item& item, std::vector<std::string>& out) {
    out.clear();
    for (const Item& element : list_items(item)) {
      if (!is_secret_reference(element)) continue;
      if (auto s = string_value(element)) out.push_back(std::move(*s));
    }
  }

  void parse_sessions(const Item& item) {
    auto& sessions = config_.sessions;
    for (const auto& e : map_entries(item, {"idle_timeout_s", "max_sessions", "max_sessions_per_client"})) {
      if (e.key == "idle_timeout_s") {
        if (auto v = uint_value(e.value, static_cast<std::uint64_t>(INT32_MAX))) {
          sessions.idle_timeout = std::chrono::seconds(static_cast<std::int64_t>(*v));
        }
        continue;
      }
      auto v = uint_value(e.value, SIZE_MAX);
      if (!v) continue;
      (e.key == "max_sessions" ? sessions.max_sessions : sessions.max_sessions_per_client) = *v;
    }
  }

  std::vector<ServerOverride> parse_routes(const Item& item) {
    config_.routes.clear();
    std::vector<ServerOverride> overrides;
    for (const Item& element : list_items(item)) {
      RouteConfig route;
      ServerOverride own;
      bool have_path = false, have_modules = false;
      for (const auto& e : map_entries(element, {"path", "server", "modules", "module_settings", "auth", "log_tool_arguments"})) {
        if (e.key == "path") {
          have_path = true;
          if (auto v = string_value(e.value)) route.path = *v;
        } else if (e.key == "server") {
          own = parse_server(e.value);
        } else if (e.key == "modules") {
          have_modules = true;
          route.modules = string_list(e.value);
        } else if (e.key == "module_settings") {
          parse_module_settings(e.value, route);
        } else if (e.key == "auth") {
          route.auth = parse_route_auth(e.value);
        } else if (e.key == "log_tool_arguments") {
          if (auto v = bool_value(e.value)) route.log_tool_arguments = *v;
        }
      }
      if (element.node.IsMap() || element.node.IsNull()) {
        if (!have_path) fail_at(element.mark, element.path, "missing required key 'path'", element.path + ".path");
        if (!have_modules) {
          fail_at(element.mark, element.path, "missing required key 'modules'", element.path + ".modules");
        }
      }
      config_.routes.push_back(std::move(route));
      overrides.push_back(std::move(own));
    }
    return overrides;
  }

  std::optional<std::chrono::seconds> seconds_value(const Item& item) {
    auto v = uint_value(item, static_cast<std::uint64_t>(INT32_MAX));
    if (!v) return std::nullopt;
    return std::chrono::seconds(static_cast<std::int64_t>(*v));
  }

  void parse_auth(const Item& item) {
    auto& auth = config_.auth;
    for (const auto& e : map_entries(item, {"issuers", "max_token_bytes", "token_cache_entries", "token_cache_max_age_s"})) {
      if (e.key == "issuers") {
        auth.issuers.clear();
        for (const Item& element : list_items(e.value)) auth.issuers.push_back(parse_issuer(element));
      } else if (e.key == "max_token_bytes") {
        if (auto v = uint_value(e.value, 1024 * 1024)) auth.max_token_bytes = *v;
      } else if (e.key == "token_cache_entries") {
        if (auto v = uint_value(e.value, 10'000'000)) auth.token_cache_entries = *v;
      } else if (auto v = seconds_value(e.value)) {
        auth.token_cache_max_age = *v;
      }
    }
  }

  IssuerConfig parse_issuer(const Item& item) {
    IssuerConfig out;
    bool have_name = false, have_issuer = false;
    for (const auto& e : map_entries(item, {"name", "issuer", "jwks_uri", "discovery", "algorithms", "audiences", "profile",
                                            "allow_http_loopback", "ca_file", "refresh_interval_s",
                                            "unknown_kid_refetch_interval_s", "max_staleness_s", "clock_skew_s",
                                            "fetch_timeout_ms", "require_at_jwt", "introspection"})) {
      const std::string& k = e.key;
      if (k == "name") {
        have_name = true;
        if (auto v = string_value(e.value)) out.name = *v;
      } else if (k == "issuer") {
        have_issuer = true;
        if (auto v = string_value(e.value)) out.issuer = *v;
      } else if (k == "jwks_uri") {
        if (auto v = string_value(e.value)) out.jwks_uri = *v;
      } else if (k == "profile") {
        if (auto v = string_value(e.value)) out.profile = *v;
      } else if (k == "ca_file") {
        if (auto v = string_value(e.value)) {
          out.ca_file = absolute_file(*v);
          require_readable_file(e.value, out.ca_file);
        }
      } else if (k == "algorithms") {
        out.algorithms = string_list(e.value);
      } else if (k == "audiences") {
        out.audiences = string_list(e.value);
      } else if (k == "discovery" || k == "allow_http_loopback" || k == "require_at_jwt") {
        if (auto v = bool_value(e.value)) (k == "discovery" ? out.discovery : k == "require_at_jwt" ? out.require_at_jwt : out.allow_http_loopback) = *v;
      } else if (k == "fetch_timeout_ms") {
        if (auto v = uint_value(e.value, 600'000)) out.fetch_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(*v));
      } else if (k == "introspection") {
        out.introspection = parse_introspection(e.value);
      } else if (auto v = seconds_value(e.value)) {
        if (k == "refresh_interval_s") out.refresh_interval = *v;
        else if (k == "unknown_kid_refetch_interval_s") out.unknown_kid_refetch_interval = *v;
        else if (k == "max_staleness_s") out.max_staleness = *v;
        else out.clock_skew = *v;
      }
    }
    if (item.node.IsMap() || item.node.IsNull()) {
      if (!have_name) fail_at(item.mark, item.path, "missing required key 'name'", item.path + ".name");
      if (!have_issuer) fail_at(item.mark, item.path, "missing required key 'issuer'", item.path + ".issuer");
    }
    return out;
  }

  std::optional<IntrospectionConfig> parse_introspection(const Item& item) {
    if (item.node.IsNull()) return std::nullopt;
    IntrospectionConfig out;
    for (const auto& e : map_entries(item, {"endpoint", "client_id", "client_secret", "max_cache_s"})) {
      if (e.key == "max_cache_s") {
        if (auto v = seconds_value(e.value)) out.max_cache = *v;
      } else if (e.key == "client_secret") {
        parse_secret(e.value, out.client_secret);
      } else if (auto v = string_value(e.value)) {
        (e.key == "endpoint" ? out.endpoint : out.client_id) = *v;
      }
    }
    return out;
  }

  std::vector<ScopeRuleConfig> scope_rules(const Item& item) {
    std::vector<ScopeRuleConfig> out;
    if (item.node.IsNull()) return out;
    if (!check_tag(item)) return out;
    if (!item.node.IsMap()) {
      fail(item, "expected a map of pattern -> list of scopes, got " + describe(item.node));
      return out;
    }
    std::set<std::string> seen;
    for (auto it = item.node.begin(); it != item.node.end(); ++it) {
      const YAML::Node key = it->first;
      if (!key.IsScalar()) {
        fail_at(key.Mark(), item.path, "keys must be plain names, got " + describe(key), item.path);
        continue;
      }
      const std::string path = join_path(item.path, key.Scalar());
      if (!seen.insert(key.Scalar()).second) {
        fail_at(key.Mark(), item.path, "duplicate key '" + key.Scalar() + "'", path);
        continue;
      }
      Item child{it->second, it->second.IsNull() ? key.Mark() : it->second.Mark(), path};
      remember(child);
      out.push_back(ScopeRuleConfig{key.Scalar(), string_list(child)});
    }
    return out;
  }

  std::optional<RouteAuthConfig> parse_route_auth(const Item& item) {
    RouteAuthConfig out;
    for (const auto& e : map_entries(item, {"issuers", "audiences", "scopes", "method_scopes", "tool_scopes", "prompt_scopes",
                                            "resource_scopes", "filter_lists", "resource_name", "resource_documentation",
                                            "primary"})) {
      const std::string& k = e.key;
      if (k == "issuers") out.issuers = string_list(e.value);
      else if (k == "audiences") out.audiences = string_list(e.value);
      else if (k == "scopes") out.scopes = string_list(e.value);
      else if (k == "method_scopes") out.method_scopes = scope_rules(e.value);
      else if (k == "tool_scopes") out.tool_scopes = scope_rules(e.value);
      else if (k == "prompt_scopes") out.prompt_scopes = scope_rules(e.value);
      else if (k == "resource_scopes") out.resource_scopes = scope_rules(e.value);
      else if (k == "filter_lists" || k == "primary") {
        if (auto v = bool_value(e.value)) (k == "primary" ? out.primary : out.filter_lists) = *v;
      } else if (auto v = string_value(e.value)) {
        (k == "resource_name" ? out.resource_name : out.resource_documentation) = *v;
      }
    }
    return out;
  }

  void parse_module_settings(const Item& item, RouteConfig& route) {
    if (!item.node.IsNull() && !item.node.IsMap()) {
      fail(item, "expected a map of module name -> settings, got " + describe(item.node));
      return;
    }
    auto value = json_value(item);
    if (!value || !value->is_object()) return;
    for (auto& [name, settings] : value->as_object()) {
      const std::string path = join_path(item.path, std::string(name));
      if (settings.is_null()) {
        route.module_settings[std::string(name)] = json::object{};
      } else if (settings.is_object()) {
        route.module_settings[std::string(name)] = std::move(settings.as_object());
      } else {
        const Location where = config_.location_of(path);
        errors.push_back(ConfigError{where, path + ": expected a map of settings for module '" + std::string(name) + "'"});
        failed_paths.insert(path);
      }
    }
  }


  // ---- authorization_server ----------------------------------------------------------------

  // Present means enabled unless it says `enabled: false`.
  void parse_authorization_server(const Item& item) {
    auto& as = config_.authorization_server;
    as.enabled = true;
    for (const auto& e : map_entries(item, {"enabled", "issuer", "data_dir", "signing_algorithm", "access_token_ttl_s",
                                            "code_ttl_s", "refresh_token_ttl_s", "key_rotation_s", "scopes", "resources",
                                            "users", "clients", "dcr", "cimd"})) {
      if (e.key == "enabled") {
        if (auto v = bool_value(e.value)) as.enabled = *v;
      } else if (e.key == "issuer") {
        if (auto v = string_value(e.value)) as.issuer = *v;
      } else if (e.key == "data_dir") {
        if (auto v = string_value(e.value)) as.data_dir = (*v == ":memory:" || v->empty()) ? *v : absolute_file(*v);
      } else if (e.key == "signing_algorithm") {
        if (auto v = string_value(e.value)) as.signing_algorithm = *v;
      } else if (e.key == "access_token_ttl_s") {
        if (auto v = seconds_value(e.value)) as.access_token_ttl = *v;
      } else if (e.key == "code_ttl_s") {
        if (auto v = seconds_value(e.value)) as.code_ttl = *v;
      } else if (e.key == "refresh_token_ttl_s") {
        if (auto v = seconds_value(e.value)) as.refresh_token_ttl = *v;
      } else if (e.key == "key_rotation_s") {
        if (auto v = seconds_value(e.value)) as.key_rotation = *v;
      } else if (e.key == "scopes") {
        as.scopes = string_list(e.value);
      } else if (e.key == "resources") {
        as.resources = string_list(e.value);
      } else if (e.key == "users") {
        as.users.clear();
        for (const Item& element : list_items(e.value)) as.users.push_back(parse_as_user(element));
      } else if (e.key == "clients") {
        as.clients.clear();
        for (const Item& element : list_items(e.value)) as.clients.push_back(parse_as_client(element));
      } else if (e.key == "dcr") {
        for (const auto& d : map_entries(e.value, {"enabled", "max_clients", "per_minute", "per_minute_per_address"})) {
          if (d.key == "enabled") {
            if (auto v = bool_value(d.value)) as.dcr.enabled = *v;
          } else if (auto v = uint_value(d.value, 10'000'000)) {
            if (d.key == "max_clients") as.dcr.max_clients = *v;
            else if (d.key == "per_minute") as.dcr.per_minute = *v;
            else as.dcr.per_minute_per_address = *v;
          }
        }
      } else if (e.key == "cimd") {
        for (const auto& c : map_entries(e.value, {"enabled", "allow_loopback", "max_document_bytes", "timeout_ms", "cache_ttl_s",
                                                   "ca_file"})) {
          if (c.key == "ca_file") {
            if (auto v = string_value(c.value)) {
              as.cimd.ca_file = absolute_file(*v);
              require_readable_file(c.value, as.cimd.ca_file);
            }
          } else if (c.key == "enabled" || c.key == "allow_loopback") {
            if (auto v = bool_value(c.value)) (c.key == "enabled" ? as.cimd.enabled : as.cimd.allow_loopback) = *v;
          } else if (c.key == "max_document_bytes") {
            if (auto v = uint_value(c.value, 1024 * 1024)) as.cimd.max_document_bytes = *v;
          } else if (c.key == "timeout_ms") {
            if (auto v = uint_value(c.value, 600'000)) as.cimd.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(*v));
          } else if (auto v = seconds_value(c.value)) {
            as.cimd.cache_ttl = *v;
          }
        }
      }
    }
  }

  AuthServerUserConfig parse_as_user(const Item& item) {
    AuthServerUserConfig user;
    bool have_name = false, have_hash = false;
    for (const auto& e : map_entries(item, {"username", "password_hash"})) {
      auto v = string_value(e.value);
      if (!v) continue;
      if (e.key == "username") {
        user.username = *v;
        have_name = true;
      } else {
        user.password_hash = *v;
        have_hash = true;
      }
    }
    if (item.node.IsMap()) {
      if (!have_name) fail_at(item.mark, item.path, "missing required key 'username'", item.path + ".username");
      if (!have_hash) fail_at(item.mark, item.path, "missing required key 'password_hash'", item.path + ".password_hash");
    }
    return user;
  }

  AuthServerClientConfig parse_as_client(const Item& item) {
    AuthServerClientConfig client;
    bool have_id = false;
    for (const auto& e : map_entries(item, {"client_id", "client_name", "redirect_uris", "token_endpoint_auth_method",
                                            "client_secret", "public_key", "grant_types", "scopes"})) {
      if (e.key == "client_id") {
        have_id = true;
        if (auto v = string_value(e.value)) client.client_id = *v;
      } else if (e.key == "client_name") {
        if (auto v = string_value(e.value)) client.client_name = *v;
      } else if (e.key == "redirect_uris") {
        client.redirect_uris = string_list(e.value);
      } else if (e.key == "token_endpoint_auth_method") {
        if (auto v = string_value(e.value)) client.token_endpoint_auth_method = *v;
      } else if (e.key == "client_secret") {
        parse_secret(e.value, client.client_secret);
      } else if (e.key == "public_key") {
        if (auto v = string_value(e.value)) client.public_key = *v;
      } else if (e.key == "grant_types") {
        client.grant_types = string_list(e.value);
      } else if (e.key == "scopes") {
        client.scopes = string_list(e.value);
      }
    }
    if (item.node.IsMap() && !have_id) fail_at(item.mark, item.path, "missing required key 'client_id'", item.path + ".client_id");
    return client;
  }

  Config& config_;
  ReferenceContext references_;
};

Location at(const std::string& file, const YAML::Mark& mark) {
  if (mark.is_null()) return Location{file, 0, 0};
  return Location{file, mark.line + 1, mark.column + 1};
}

// Records where a document's first event is.
class FirstMark final : public YAML::EventHandler {
 public:
  std::optional<YAML::Mark> mark;
  void OnDocumentStart(const YAML::Mark& m) override { first(m); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { first(m); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { first(m); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t, const std::string&) override { first(m); }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    first(m);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    first(m);
  }
  void OnMapEnd() override {}

 private:
  void first(const YAML::Mark& m) {
    if (!mark) mark = m;
  }
};

// Where a second document starts, if there is one. Also catches input yaml-cpp 0.7 reads as an
// empty document and then cannot get past (",a: 1"): YAML::Load() would quietly return null for
// it (and YAML::LoadAll() never returns: jbeder/yaml-cpp#1040, fixed upstream by #1319), so
// documents are counted by hand, at most two.
std::optional<YAML::Mark> second_document_mark(const std::string& yaml) {
  std::istringstream in(yaml);
  YAML::Parser parser(in);
  FirstMark first, second;
  if (!parser.HandleNextDocument(first)) return std::nullopt;
  if (!parser.HandleNextDocument(second)) return std::nullopt;
  return second.mark.value_or(YAML::Mark::null_mark());
}

void sort_by_position(std::vector<ConfigError>& errors) {
  std::stable_sort(errors.begin(), errors.end(), [](const ConfigError& a, const ConfigError& b) {
    // Errors without a position (whole-file problems) come last.
    const int la = a.where.line > 0 ? a.where.line : INT32_MAX;
    const int lb = b.where.line > 0 ? b.where.line : INT32_MAX;
    if (la != lb) return la < lb;
    return a.where.column < b.where.column;
  });
}

}  // namespace

LoadResult load_config_string(const std::string& yaml, const std::string& source_name, const LoadOptions& options) {
  Config config;
  config.source = source_name;
  config.listeners.clear();
  config.routes.clear();
  YAML::Node document;
  try {
    document = YAML::Load(yaml);
    if (auto mark = second_document_mark(yaml)) {
      return std::unexpected(std::vector<ConfigError>{
          {at(source_name, *mark), "unexpected content after the first YAML document (a config file holds one document)"}});
    }
  } catch (const YAML::Exception& e) {
    return std::unexpected(std::vector<ConfigError>{{at(source_name, e.mark), "YAML syntax error: " + e.msg}});
  }

  std::string base_directory;
  if (source_name.empty() || source_name.front() == '<') {
    base_directory = std::filesystem::current_path().string();
  } else {
    base_directory = std::filesystem::absolute(source_name).parent_path().string();
  }

  Parser parser(config, options, base_directory);
  try {
    parser.parse_document(document);
  } catch (const YAML::Exception& e) {
    // Not expected (the parser checks types before converting), but a config error must never
    // become a crash.
    parser.errors.push_back(ConfigError{at(source_name, e.mark), e.msg});
  }
  auto errors = std::move(parser.errors);
  auto semantic = validate_impl(config, options.known_modules, parser.failed_paths);
  errors.insert(errors.end(), semantic.begin(), semantic.end());
  if (!errors.empty()) {
    sort_by_position(errors);
    return std::unexpected(std::move(errors));
  }
  return config;
}

LoadResult load_config_file(const std::string& path, const LoadOptions& options) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return std::unexpected(std::vector<ConfigError>{
        {Location{path, 0, 0}, "cannot read config file: no such file (or not a regular file)"}});
  }
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > kMaxConfigFileBytes) {
    return std::unexpected(std::vector<ConfigError>{{Location{path, 0, 0}, "config file is larger than 1 MiB"}});
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(std::vector<ConfigError>{{Location{path, 0, 0}, "cannot read config file"}});
  std::ostringstream text;
  text << in.rdbuf();
  return load_config_string(text.str(), path, options);
}

Config default_config() {
  Config config;
  config.source = "<default>";
  config.listeners.push_back(ListenerConfig{});
  RouteConfig route;
  route.path = "/mcp";
  route.server = config.server;
  route.modules = {"demo"};
  // Secure by default: the demo route takes bearer tokens from the embedded authorization
  // server only, with the scope "mcp" (MCP authorization; RFC 9728 metadata is served for it).
  RouteAuthConfig auth;
  auth.issuers = {kEmbeddedIssuerName};
  auth.scopes = {"mcp"};
  auth.resource_name = "Bastion demo tools";
  route.auth = std::move(auth);
  config.routes.push_back(std::move(route));
  // The README's first command gives a secured server: the embedded authorization server is on,
  // with its state (users, clients, consents, refresh tokens, keys) in a per-user state folder
  // so that it survives restarts and does not depend on the working directory.
  config.authorization_server.enabled = true;
  config.authorization_server.data_dir = default_authserver_data_dir();
  return config;
}

std::string default_authserver_data_dir() {
  // XDG Base Directory: $XDG_STATE_HOME is for state that persists between restarts but is not
  // worth backing up as documents (default $HOME/.local/state).
  const char* state = std::getenv("XDG_STATE_HOME");
  if (state != nullptr && state[0] == '/') return std::string(state) + "/bastion";
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] == '/') return std::string(home) + "/.local/state/bastion";
  return (std::filesystem::current_path() / ".bastion-data").string();
}

}  // namespace bastion::config
