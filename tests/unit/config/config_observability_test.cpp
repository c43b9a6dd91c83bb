// The observability keys: logging format and components, audit, metrics, admin, tracing and
// routes[].log_tool_arguments; their validation and their redacted dump.
#include <gtest/gtest.h>

#include "config/config.hpp"

namespace bastion::config {
namespace {

LoadOptions options() {
  LoadOptions o;
  o.known_modules = std::vector<std::string>{"demo"};
  o.getenv = [](const std::string& name) -> std::optional<std::string> {
    if (name == "OTLP_KEY") return std::string("key-value-never-printed");
    return std::nullopt;
  };
  return o;
}

constexpr const char* kRoute = "routes:\n  - path: /mcp\n    modules: [demo]\n";

std::vector<std::string> errors_of(const std::string& yaml) {
  auto result = load_config_string(yaml, "test.yaml", options());
  std::vector<std::string> out;
  if (!result)
    for (const auto& e : result.error()) out.push_back(e.to_string());
  return out;
}

TEST(ConfigObservability, DefaultsAreQuietAndLoopback) {
  const Config c = default_config();
  EXPECT_EQ(c.logging.format, LogFormat::automatic);
  EXPECT_FALSE(c.audit.enabled);
  EXPECT_TRUE(c.metrics.enabled);
  EXPECT_FALSE(c.admin.enabled);
  EXPECT_EQ(c.admin.address, "127.0.0.1");
  EXPECT_FALSE(c.tracing.enabled);
  EXPECT_EQ(c.tracing.sample_ratio, 1.0);
  EXPECT_FALSE(c.routes.at(0).log_tool_arguments);
}

TEST(ConfigObservability, EveryKeyIsRead) {
  auto result = load_config_string(std::string(R"(logging:
  level: debug
  format: json
  components: {request: warn, http: trace}
audit: {enabled: true, sink: file, path: logs/audit.jsonl}
metrics: {enabled: false}
admin: {enabled: true, address: 127.0.0.1, port: 9999}
tracing:
  enabled: true
  otlp_endpoint: https://collector.example/v1/traces
  sample_ratio: 0.1
  max_batch_size: 100
  max_queue_size: 1000
  export_timeout_ms: 250
  schedule_delay_ms: 50
  service_name: edge
  headers: {X-Api-Key: "${env:OTLP_KEY}"}
routes:
  - path: /mcp
    modules: [demo]
    log_tool_arguments: true
)"),
                                        "/etc/bastion/test.yaml", options());
  ASSERT_TRUE(result) << format_errors(result.error());
  const Config& c = *result;
  EXPECT_EQ(c.logging.format, LogFormat::json);
  EXPECT_EQ(c.logging.components.at("request"), LogLevel::warn);
  EXPECT_EQ(c.logging.components.at("http"), LogLevel::trace);
  EXPECT_TRUE(c.audit.enabled);
  EXPECT_EQ(c.audit.sink, AuditConfig::Sink::file);
  EXPECT_EQ(c.audit.path, "/etc/bastion/logs/audit.jsonl");  // relative to the config file
  EXPECT_FALSE(c.metrics.enabled);
  EXPECT_EQ(c.admin.port, 9999);
  EXPECT_EQ(c.tracing.sample_ratio, 0.1);
  EXPECT_EQ(c.tracing.max_batch_size, 100u);
  EXPECT_EQ(c.tracing.export_timeout.count(), 250);
  EXPECT_EQ(c.tracing.service_name, "edge");
  EXPECT_EQ(c.tracing.headers.at("X-Api-Key"), "key-value-never-printed");
  EXPECT_TRUE(c.routes.at(0).log_tool_arguments);

  // The dump shows the reference, never the value, and loads again.
  const std::string dump = dump_redacted(c);
  EXPECT_EQ(dump.find("key-value-never-printed"), std::string::npos) << dump;
  EXPECT_NE(dump.find("${env:OTLP_KEY}"), std::string::npos) << dump;
  auto again = load_config_string(dump, "dump.yaml", options());
  ASSERT_TRUE(again) << format_errors(again.error()) << dump;
  EXPECT_EQ(again->tracing.sample_ratio, 0.1);
  EXPECT_EQ(again->logging.components.size(), 2u);
}

TEST(ConfigObservability, RefusesWhatWouldBeUnsafeOrWrong) {
  auto one = [](const std::string& yaml) {
    auto e = errors_of(yaml + kRoute);
    EXPECT_EQ(e.size(), 1u) << ::testing::PrintToString(e);
    return e.empty() ? std::string() : e.front();
  };
  EXPECT_NE(one("tracing:\n  headers: {Authorization: Bearer-literal}\n").find("a secret: write it as a reference"),
            std::string::npos);
  EXPECT_NE(one("admin: {enabled: true, address: 0.0.0.0}\n").find("reachable from the network"), std::string::npos);
  EXPECT_TRUE(errors_of(std::string("admin: {enabled: true, address: 0.0.0.0, allow_insecure: true}\n") + kRoute).empty());
  EXPECT_NE(one("tracing: {sample_ratio: 1.5}\n").find("out of range (0 to 1)"), std::string::npos);
  EXPECT_NE(one("tracing: {sample_ratio: \"0.5\"}\n").find("expected a number from 0 to 1"), std::string::npos);
  EXPECT_NE(one("tracing: {enabled: true, otlp_endpoint: 'ftp://x/v1/traces'}\n").find("http:// or https://"),
            std::string::npos);
  EXPECT_NE(one("tracing: {max_batch_size: 100, max_queue_size: 10}\n").find("at least tracing.max_batch_size"),
            std::string::npos);
  EXPECT_NE(one("audit: {enabled: true, sink: file}\n").find("needs a path"), std::string::npos);
  EXPECT_NE(one("audit: {sink: syslog}\n").find("unknown audit sink"), std::string::npos);
  EXPECT_NE(one("logging: {format: pretty}\n").find("unknown log format"), std::string::npos);
  EXPECT_NE(one("logging: {components: {nope: info}}\n").find("unknown key 'nope'"), std::string::npos);
  EXPECT_NE(one("admin: {enabled: true, port: 8080}\n").find("already used by listeners[0]"), std::string::npos);
}

}  // namespace
}  // namespace bastion::config
