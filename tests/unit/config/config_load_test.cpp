// Loading: a good config, defaults, and every kind of error with its exact position.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "config/config.hpp"

namespace bastion::config {
namespace {

const std::vector<std::string> kModules = {"demo", "conformance"};

LoadOptions options() {
  LoadOptions o;
  o.known_modules = kModules;
  o.getenv = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  return o;
}

Config load_ok(const std::string& yaml) {
  auto result = load_config_string(yaml, "test.yaml", options());
  EXPECT_TRUE(result.has_value()) << (result ? "" : format_errors(result.error()));
  return result ? *result : Config{};
}

std::vector<std::string> load_errors(const std::string& yaml, const LoadOptions& o = options()) {
  auto result = load_config_string(yaml, "test.yaml", o);
  EXPECT_FALSE(result.has_value()) << "expected errors";
  std::vector<std::string> out;
  if (!result) {
    for (const auto& e : result.error()) out.push_back(e.to_string());
  }
  return out;
}

// The single error of a config, as text.
std::string load_error(const std::string& yaml) {
  auto errors = load_errors(yaml);
  EXPECT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  return errors.empty() ? std::string() : errors.front();
}

TEST(ConfigLoad, GoodConfigFillsEveryField) {
  const Config c = load_ok(R"(server:
  name: my-bastion
  title: My Bastion
  instructions: "Use the tools."
logging:
  level: debug
listeners:
  - address: 127.0.0.1
    port: 0
  - address: "::1"
    port: 9443
    public_url: https://mcp.example.com
limits:
  max_body_bytes: 1048576
  max_header_bytes: 8192
  read_timeout_ms: 5000
  idle_timeout_ms: 10000
  write_timeout_ms: 7000
  max_connections: 100
  max_write_queue_bytes: 65536
  shutdown_grace_ms: 0
  lingering_close_bytes: 2097152
  lingering_close_timeout_ms: 250
  threads: 2
security:
  allowed_hosts: [mcp.example.com, "mcp.example.com:8443", "[::1]:8080"]
  allowed_origins: [https://app.example.com, "http://localhost:6274", "null"]
  allow_loopback_names: false
  trusted_proxies: [10.0.0.0/8, 192.168.1.1]
sessions:
  idle_timeout_s: 600
  max_sessions: 50
  max_sessions_per_client: 5
routes:
  - path: /mcp
    modules: [demo]
    module_settings:
      demo: {root: /srv/files, depth: 3, ratio: 0.5, follow: false, tags: [a, "1"], none: ~}
  - path: /conformance/mcp
    server: {name: fixtures, instructions: ""}
    modules: [conformance, demo]
)");
  EXPECT_EQ(c.source, "test.yaml");
  EXPECT_EQ(c.server.name, "my-bastion");
  EXPECT_EQ(c.server.title, "My Bastion");
  EXPECT_EQ(c.server.instructions, "Use the tools.");
  EXPECT_EQ(c.logging.level, LogLevel::debug);
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].address, "127.0.0.1");
  EXPECT_EQ(c.listeners[0].port, 0);
  EXPECT_FALSE(c.listeners[0].tls);
  EXPECT_FALSE(c.listeners[0].allow_insecure);
  EXPECT_EQ(c.listeners[1].address, "::1");
  EXPECT_EQ(c.listeners[1].port, 9443);
  EXPECT_EQ(c.listeners[1].public_url, "https://mcp.example.com");
  EXPECT_EQ(c.limits.max_body_bytes, 1048576u);
  EXPECT_EQ(c.limits.max_header_bytes, 8192u);
  EXPECT_EQ(c.limits.read_timeout, std::chrono::milliseconds(5000));
  EXPECT_EQ(c.limits.idle_timeout, std::chrono::milliseconds(10000));
  EXPECT_EQ(c.limits.write_timeout, std::chrono::milliseconds(7000));
  EXPECT_EQ(c.limits.max_connections, 100u);
  EXPECT_EQ(c.limits.max_write_queue_bytes, 65536u);
  EXPECT_EQ(c.limits.shutdown_grace, std::chrono::milliseconds(0));
  EXPECT_EQ(c.limits.lingering_close_bytes, std::optional<std::size_t>(2097152));
  EXPECT_EQ(c.limits.lingering_close_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(c.limits.threads, 2u);
  EXPECT_EQ(c.security.allowed_hosts,
            (std::vector<std::string>{"mcp.example.com", "mcp.example.com:8443", "[::1]:8080"}));
  EXPECT_EQ(c.security.allowed_origins,
            (std::vector<std::string>{"https://app.example.com", "http://localhost:6274", "null"}));
  EXPECT_FALSE(c.security.allow_loopback_names);
  EXPECT_EQ(c.security.trusted_proxies, (std::vector<std::string>{"10.0.0.0/8", "192.168.1.1"}));
  EXPECT_EQ(c.sessions.idle_timeout, std::chrono::seconds(600));
  EXPECT_EQ(c.sessions.max_sessions, 50u);
  EXPECT_EQ(c.sessions.max_sessions_per_client, 5u);
  ASSERT_EQ(c.routes.size(), 2u);
  EXPECT_EQ(c.routes[0].path, "/mcp");
  EXPECT_EQ(c.routes[0].modules, std::vector<std::string>{"demo"});
  // A route without its own server block inherits the top-level one.
  EXPECT_EQ(c.routes[0].server.name, "my-bastion");
  EXPECT_EQ(c.routes[0].server.instructions, "Use the tools.");
  const json::object& demo = c.routes[0].module_settings.at("demo");
  EXPECT_EQ(json::serialize(demo),
            R"({"root":"/srv/files","depth":3,"ratio":5E-1,"follow":false,"tags":["a","1"],"none":null})");
  // A route's server block overrides field by field.
  EXPECT_EQ(c.routes[1].server.name, "fixtures");
  EXPECT_EQ(c.routes[1].server.title, "My Bastion");
  EXPECT_EQ(c.routes[1].server.instructions, "");
  EXPECT_EQ(c.routes[1].modules, (std::vector<std::string>{"conformance", "demo"}));
  EXPECT_TRUE(c.routes[1].module_settings.empty());
}

TEST(ConfigLoad, EmptyFileIsTheDefault) {
  for (const char* text : {"", "# only a comment\n", "---\n"}) {
    const Config c = load_ok(text);
    ASSERT_EQ(c.listeners.size(), 1u);
    EXPECT_EQ(c.listeners[0].address, "127.0.0.1");
    EXPECT_EQ(c.listeners[0].port, 8080);
    ASSERT_EQ(c.routes.size(), 1u);
    EXPECT_EQ(c.routes[0].path, "/mcp");
    EXPECT_EQ(c.routes[0].modules, std::vector<std::string>{"demo"});
  }
}

TEST(ConfigLoad, EmptySectionsKeepTheirDefaults) {
  const Config c = load_ok("server:\nlimits:\nsecurity:\nsessions:\nlisteners:\nroutes:\n");
  EXPECT_EQ(c.server.name, "bastion");
  EXPECT_EQ(c.limits.max_body_bytes, 4u * 1024 * 1024);
  EXPECT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.routes.size(), 1u);
}

TEST(ConfigLoad, DefaultConfig) {
  const Config c = default_config();
  EXPECT_EQ(c.source, "<default>");
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].address, "127.0.0.1");
  EXPECT_EQ(c.listeners[0].port, 8080);
  EXPECT_FALSE(c.listeners[0].tls);
  EXPECT_FALSE(c.listeners[0].allow_insecure);
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].path, "/mcp");
  EXPECT_EQ(c.routes[0].modules, std::vector<std::string>{"demo"});
  EXPECT_EQ(c.routes[0].server.name, "bastion");
  EXPECT_EQ(c.limits.max_body_bytes, 4u * 1024 * 1024);
  EXPECT_EQ(c.limits.max_header_bytes, 16u * 1024);
  EXPECT_EQ(c.limits.read_timeout, std::chrono::seconds(30));
  EXPECT_EQ(c.limits.idle_timeout, std::chrono::seconds(60));
  EXPECT_EQ(c.limits.write_timeout, std::chrono::seconds(30));
  EXPECT_EQ(c.limits.max_connections, 10000u);
  EXPECT_EQ(c.limits.max_write_queue_bytes, 8u * 1024 * 1024);
  EXPECT_EQ(c.limits.shutdown_grace, std::chrono::seconds(10));
  EXPECT_FALSE(c.limits.lingering_close_bytes);  // follows max_body_bytes
  EXPECT_EQ(c.limits.lingering_close_timeout, std::chrono::seconds(5));
  EXPECT_EQ(c.limits.threads, 0u);
  EXPECT_EQ(c.sessions.idle_timeout, std::chrono::seconds(1800));
  EXPECT_EQ(c.sessions.max_sessions, 10000u);
  EXPECT_EQ(c.sessions.max_sessions_per_client, 1000u);
  EXPECT_TRUE(c.security.allow_loopback_names);
  EXPECT_EQ(c.logging.level, LogLevel::info);
  EXPECT_TRUE(validate(c, kModules).empty());
}

TEST(ConfigLoad, UnknownTopLevelKey) {
  EXPECT_EQ(load_error("listener:\n  - port: 1\n"),
            "test.yaml:1:1: unknown key 'listener' (expected one of: server, logging, audit, metrics, admin, tracing, "
            "listeners, limits, security, "
            "sessions, auth, routes, authorization_server)");
}

TEST(ConfigLoad, UnknownNestedKey) {
  EXPECT_EQ(load_errors(R"(listeners:
  - address: 127.0.0.1
    prot: 8080
)"),
            (std::vector<std::string>{
                "test.yaml:2:5: listeners[0]: missing required key 'port' (use 0 for any free port)",
                "test.yaml:3:5: listeners[0]: unknown key 'prot' in listeners[0] (expected one of: address, port, tls, "
                "allow_insecure, public_url)"}));
}

TEST(ConfigLoad, DuplicateKey) {
  EXPECT_EQ(load_error("limits:\n  threads: 1\n  threads: 2\n"),
            "test.yaml:3:3: limits: duplicate key 'threads' (first given on line 2)");
}

TEST(ConfigLoad, YamlSyntaxErrorHasPosition) {
  const std::string e = load_error("routes:\n  - path: /mcp\n    modules: [demo\n");
  EXPECT_TRUE(e.starts_with("test.yaml:4:1: YAML syntax error: ")) << e;
}

TEST(ConfigLoad, MoreThanOneDocument) {
  EXPECT_EQ(load_error("limits: {threads: 1}\n---\nlimits: {threads: 2}\n"),
            "test.yaml:2:1: unexpected content after the first YAML document (a config file holds one document)");
}

TEST(ConfigLoad, StrayCommaIsNotAnEmptyConfig) {
  // yaml-cpp 0.7 reads this as an empty document followed by content it cannot consume.
  EXPECT_EQ(load_error(",limits: {threads: 1}\n"),
            "test.yaml:1:1: unexpected content after the first YAML document (a config file holds one document)");
}

TEST(ConfigLoad, RootMustBeAMap) {
  EXPECT_EQ(load_error("- a\n- b\n"), "test.yaml:1:1: expected a map (key: value), got a list");
}

TEST(ConfigLoad, WrongTypes) {
  EXPECT_EQ(load_error("listeners:\n  - port: \"8080\"\n"),
            "test.yaml:2:11: listeners[0].port: expected a whole number, got the string \"8080\" (remove the quotes)");
  EXPECT_EQ(load_error("listeners:\n  - port: http\n"),
            "test.yaml:2:11: listeners[0].port: expected a whole number, got 'http'");
  EXPECT_EQ(load_error("listeners:\n  - port: -1\n"),
            "test.yaml:2:11: listeners[0].port: -1 is negative; expected a whole number from 0 to 65535");
  EXPECT_EQ(load_error("listeners:\n  - port: 65536\n"),
            "test.yaml:2:11: listeners[0].port: 65536 is too large (at most 65535)");
  EXPECT_EQ(load_error("listeners:\n  - port: 8080\n    allow_insecure: yes\n"),
            "test.yaml:3:21: listeners[0].allow_insecure: expected true or false, got 'yes'");
  EXPECT_EQ(load_error("listeners: {port: 8080}\n"),
            "test.yaml:1:12: listeners: expected a list, got a map");
  EXPECT_EQ(load_error("routes:\n  - path: /mcp\n    modules: demo\n"),
            "test.yaml:3:14: routes[0].modules: expected a list, got 'demo'");
  EXPECT_EQ(load_error("server:\n  name: [a]\n"), "test.yaml:2:9: server.name: expected a string, got a list");
  EXPECT_EQ(load_error("limits: 5\n"), "test.yaml:1:9: limits: expected a map (key: value), got '5'");
  EXPECT_EQ(load_error("logging: {level: loud}\n"),
            "test.yaml:1:18: logging.level: unknown log level 'loud' (expected trace, debug, info, warn, error, "
            "critical or off)");
  EXPECT_EQ(load_error("limits:\n  threads: !custom 3\n"), "test.yaml:2:12: limits.threads: YAML tag '!custom' is not supported");
}

TEST(ConfigLoad, EmptyValuePointsAtItsKey) {
  EXPECT_EQ(load_error("listeners:\n  - address: 127.0.0.1\n    port:\n"),
            "test.yaml:3:5: listeners[0].port: expected a whole number, got nothing (null)");
  EXPECT_EQ(load_error("server:\n  name:\n"),
            "test.yaml:2:3: server.name: expected a string, got nothing (write \"\" for an empty string)");
}

TEST(ConfigLoad, ListenerWithoutPort) {
  EXPECT_EQ(load_error("listeners:\n  - address: 127.0.0.1\n"),
            "test.yaml:2:5: listeners[0]: missing required key 'port' (use 0 for any free port)");
}

TEST(ConfigLoad, EmptyListItemIsNotADefaultListener) {
  EXPECT_EQ(load_error("listeners:\n  -\n"), "test.yaml:2:3: listeners[0]: missing required key 'port' (use 0 for any free port)");
}

TEST(ConfigLoad, EmptyListsAreErrors) {
  EXPECT_EQ(load_error("listeners: []\n"), "test.yaml:1:12: listeners: at least one listener is needed");
  EXPECT_EQ(load_error("routes: []\n"), "test.yaml:1:9: routes: at least one route is needed");
}

TEST(ConfigLoad, ListenerAddressMustBeAnIp) {
  EXPECT_EQ(load_error("listeners:\n  - address: example.com\n    port: 1\n"),
            "test.yaml:2:14: listeners[0].address: 'example.com' is not an IP address (127.0.0.1 or ::1: this machine "
            "only; 0.0.0.0 or ::: all interfaces)");
}

TEST(ConfigLoad, PlainHttpBeyondLoopbackNeedsConsent) {
  EXPECT_EQ(load_error("listeners:\n  - address: 0.0.0.0\n    port: 8080\n"),
            "test.yaml:2:14: listeners[0].address: plain HTTP on 0.0.0.0 is reachable from the network: configure tls, "
            "or set allow_insecure: true (--allow-insecure), e.g. behind a proxy that terminates TLS");
  const Config c = load_ok("listeners:\n  - {address: 0.0.0.0, port: 8080, allow_insecure: true}\n");
  EXPECT_TRUE(c.listeners[0].allow_insecure);
  // Loopback in either family needs nothing; "localhost" is 127.0.0.1 to the HTTP server.
  load_ok("listeners:\n  - {address: 127.0.0.2, port: 1}\n  - {address: '::1', port: 1}\n"
          "  - {address: localhost, port: 2}\n");
}

TEST(ConfigLoad, ListenersCannotShareAPort) {
  EXPECT_EQ(load_error("listeners:\n  - {address: 127.0.0.1, port: 8080}\n  - {address: 127.0.0.1, port: 8080}\n"),
            "test.yaml:3:32: listeners[1].port: port 8080 on 127.0.0.1 is already used by listeners[0]");
  EXPECT_EQ(load_error("listeners:\n  - {address: 127.0.0.1, port: 8080}\n"
                       "  - {address: 0.0.0.0, port: 8080, allow_insecure: true}\n"),
            "test.yaml:3:30: listeners[1].port: port 8080 on 0.0.0.0 is already used by listeners[0]");
  // Port 0 picks a free port each time; different ports are fine.
  load_ok("listeners:\n  - {address: 127.0.0.1, port: 0}\n  - {address: 127.0.0.1, port: 0}\n"
          "  - {address: 127.0.0.1, port: 8081}\n");
}

TEST(ConfigLoad, PublicUrl) {
  EXPECT_EQ(load_error("listeners:\n  - {port: 1, public_url: 'ftp://x'}\n"),
            "test.yaml:2:27: listeners[0].public_url: 'ftp://x' must start with http:// or https://");
  EXPECT_EQ(load_error("listeners:\n  - {port: 1, public_url: 'https://x/a?b'}\n"),
            "test.yaml:2:27: listeners[0].public_url: 'https://x/a?b' must not have a query or fragment");
  EXPECT_EQ(load_ok("listeners:\n  - {port: 1, public_url: 'https://x.example/base'}\n").listeners[0].public_url,
            "https://x.example/base");
}

TEST(ConfigLoad, TlsFilesMustExist) {
  EXPECT_EQ(load_errors("listeners:\n  - port: 1\n    tls: {certificate: /nonexistent/cert.pem, private_key: "
                        "/nonexistent/key.pem}\n"),
            (std::vector<std::string>{
                "test.yaml:3:24: listeners[0].tls.certificate: file '/nonexistent/cert.pem' does not exist or is not "
                "a regular file",
                "test.yaml:3:60: listeners[0].tls.private_key: file '/nonexistent/key.pem' does not exist or is not a "
                "regular file"}));
  const auto cert = std::filesystem::temp_directory_path() / ("bastion-config-cert-" + std::to_string(::getpid()));
  std::ofstream(cert) << "cert";
  EXPECT_EQ(load_error("listeners:\n  - port: 1\n    tls: {certificate: " + cert.string() + "}\n"),
            "test.yaml:3:10: listeners[0].tls: missing required key 'private_key'");
  std::filesystem::remove(cert);
}

TEST(ConfigLoad, TlsRelativePathsAreRelativeToTheConfigFile) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("bastion-config-tls-" + std::to_string(::getpid()));
  fs::create_directories(dir / "certs");
  std::ofstream(dir / "certs" / "cert.pem") << "cert";
  std::ofstream(dir / "certs" / "key.pem") << "key";
  std::ofstream(dir / "bastion.yaml") << "listeners:\n"
                                         "  - address: 0.0.0.0\n"
                                         "    port: 8443\n"
                                         "    tls: {certificate: certs/cert.pem, private_key: ./certs/key.pem}\n";
  auto result = load_config_file((dir / "bastion.yaml").string(), options());
  ASSERT_TRUE(result) << format_errors(result.error());
  ASSERT_TRUE(result->listeners[0].tls);
  EXPECT_EQ(result->listeners[0].tls->certificate_file, (dir / "certs" / "cert.pem").string());
  EXPECT_EQ(result->listeners[0].tls->private_key_file, (dir / "certs" / "key.pem").string());
  fs::remove_all(dir);
}

TEST(ConfigLoad, MissingConfigFile) {
  auto result = load_config_file("/nonexistent/bastion.yaml", options());
  ASSERT_FALSE(result);
  ASSERT_EQ(result.error().size(), 1u);
  EXPECT_EQ(result.error()[0].to_string(),
            "/nonexistent/bastion.yaml: cannot read config file: no such file (or not a regular file)");
}

TEST(ConfigLoad, RoutePathRules) {
  auto route = [](const std::string& path) { return "routes:\n  - path: " + path + "\n    modules: [demo]\n"; };
  EXPECT_EQ(load_error(route("mcp")), "test.yaml:2:11: routes[0].path: 'mcp' must start with '/'");
  EXPECT_EQ(load_error(route("/mcp/")), "test.yaml:2:11: routes[0].path: '/mcp/' must not end with '/'");
  EXPECT_EQ(load_error(route("/")), "test.yaml:2:11: routes[0].path: '/' cannot be a route; name a path such as /mcp");
  EXPECT_EQ(load_error(route("/a//b")), "test.yaml:2:11: routes[0].path: '/a//b' has an empty segment ('//')");
  EXPECT_EQ(load_error(route("/a/../b")),
            "test.yaml:2:11: routes[0].path: '/a/../b' must not contain '.' or '..' segments");
  EXPECT_EQ(load_error(route("'/a b'")),
            "test.yaml:2:11: routes[0].path: '/a b' contains ' '; use letters, digits, '-', '.', '_' and '~'");
  EXPECT_EQ(load_error(route("/healthz")),
            "test.yaml:2:11: routes[0].path: '/healthz' is reserved (health, metrics and OAuth endpoints)");
  EXPECT_EQ(load_error(route("/.well-known/mcp")),
            "test.yaml:2:11: routes[0].path: '/.well-known/mcp' is reserved (health, metrics and OAuth endpoints)");
  load_ok(route("/github/mcp"));
  load_ok(route("/oauthish"));
}

TEST(ConfigLoad, RouteWithoutPathOrModules) {
  const auto errors = load_errors("routes:\n  - server: {name: x}\n");
  EXPECT_EQ(errors, (std::vector<std::string>{"test.yaml:2:5: routes[0]: missing required key 'path'",
                                              "test.yaml:2:5: routes[0]: missing required key 'modules'"}));
}

TEST(ConfigLoad, TwoRoutesWithTheSamePath) {
  EXPECT_EQ(load_error("routes:\n  - path: /mcp\n    modules: [demo]\n  - path: /mcp\n    modules: [conformance]\n"),
            "test.yaml:4:11: routes[1].path: '/mcp' is already served by routes[0]");
}

TEST(ConfigLoad, RouteUnderAnotherRoutesLegacyEndpoints) {
  EXPECT_EQ(load_error("routes:\n  - path: /mcp\n    modules: [demo]\n  - path: /mcp/sse\n    modules: [demo]\n"),
            "test.yaml:4:11: routes[1].path: '/mcp/sse' is served by routes[0] (/mcp) for the HTTP+SSE transport");
}

TEST(ConfigLoad, RouteModules) {
  EXPECT_EQ(load_error("routes:\n  - path: /mcp\n    modules: [demo, dmeo]\n"),
            "test.yaml:3:21: routes[0].modules[1]: unknown module 'dmeo' (available: demo, conformance)");
  EXPECT_EQ(load_error("routes:\n  - path: /mcp\n    modules: [demo, demo]\n"),
            "test.yaml:3:21: routes[0].modules[1]: module 'demo' is listed twice");
  EXPECT_EQ(load_error("routes:\n  - path: /mcp\n    modules: []\n"),
            "test.yaml:3:14: routes[0].modules: a route needs at least one module");
  // Without a module list (the library does not know the binary's modules) names are not checked.
  LoadOptions unchecked = options();
  unchecked.known_modules.reset();
  EXPECT_TRUE(load_config_string("routes:\n  - path: /mcp\n    modules: [anything]\n", "test.yaml", unchecked));
}

TEST(ConfigLoad, ModuleSettingsForAnUnlistedModule) {
  EXPECT_EQ(load_error(R"(routes:
  - path: /mcp
    modules: [demo]
    module_settings:
      conformance: {strict: true}
)"),
            "test.yaml:5:20: routes[0].module_settings.conformance: settings for module 'conformance', which this "
            "route does not list in modules");
  EXPECT_EQ(load_error("routes:\n  - path: /mcp\n    modules: [demo]\n    module_settings: {demo: [1]}\n"),
            "test.yaml:4:29: routes[0].module_settings.demo: expected a map of settings for module 'demo'");
}

TEST(ConfigLoad, OutOfRangeValues) {
  EXPECT_EQ(load_error("limits:\n  max_header_bytes: 10\n"),
            "test.yaml:2:21: limits.max_header_bytes: 10 is out of range (1024 to 1048576)");
  EXPECT_EQ(load_error("limits:\n  read_timeout_ms: 0\n"),
            "test.yaml:2:20: limits.read_timeout_ms: 0 is out of range (1 to 3600000)");
  EXPECT_EQ(load_error("sessions:\n  max_sessions: 0\n"),
            "test.yaml:2:17: sessions.max_sessions: 0 is out of range (1 to 10000000)");
}

TEST(ConfigLoad, SecurityLists) {
  EXPECT_EQ(load_error("security:\n  allowed_hosts: ['https://x.example']\n"),
            "test.yaml:2:19: security.allowed_hosts[0]: 'https://x.example' must be a host name (host or host:port), "
            "not a URL");
  EXPECT_EQ(load_error("security:\n  allowed_origins: ['https://x.example/']\n"),
            "test.yaml:2:21: security.allowed_origins[0]: 'https://x.example/' must be an origin (scheme://host[:port]) "
            "without a path");
  EXPECT_EQ(load_error("security:\n  allowed_hosts: ['2001:db8::1']\n"),
            "test.yaml:2:19: security.allowed_hosts[0]: '2001:db8::1' looks like an IPv6 address: write it in "
            "brackets, e.g. [::1] or [::1]:8080");
  EXPECT_EQ(load_error("security:\n  allowed_hosts: ['user@host']\n"),
            "test.yaml:2:19: security.allowed_hosts[0]: 'user@host' is not a host name (host or host:port)");
  EXPECT_EQ(load_error("security:\n  allowed_hosts: ['host:99999']\n"),
            "test.yaml:2:19: security.allowed_hosts[0]: 'host:99999' has an invalid port");
  // "*" switches a check off; the guard accepts it, so does the config.
  load_ok("security:\n  allowed_hosts: ['*']\n  allowed_origins: ['*']\n");
  EXPECT_EQ(load_error("security:\n  trusted_proxies: [10.0.0.0/33]\n"),
            "test.yaml:2:21: security.trusted_proxies[0]: '10.0.0.0/33' is not an IP address or CIDR block (e.g. "
            "10.0.0.0/8)");
}

TEST(ConfigLoad, AllErrorsAtOnceInFileOrder) {
  const auto errors = load_errors(R"(routes:
  - path: mcp
    modules: [nope]
listeners:
  - address: 127.0.0.1
limits:
  threads: many
colour: blue
)");
  EXPECT_EQ(errors, (std::vector<std::string>{
                        "test.yaml:2:11: routes[0].path: 'mcp' must start with '/'",
                        "test.yaml:3:15: routes[0].modules[0]: unknown module 'nope' (available: demo, conformance)",
                        "test.yaml:5:5: listeners[0]: missing required key 'port' (use 0 for any free port)",
                        "test.yaml:7:12: limits.threads: expected a whole number, got 'many'",
                        "test.yaml:8:1: unknown key 'colour' (expected one of: server, logging, audit, metrics, admin, tracing, listeners, limits, "
                        "security, sessions, auth, routes, authorization_server)",
                    }));
}

TEST(ConfigLoad, OverridesFromTheCommandLine) {
  Config c = default_config();
  EXPECT_TRUE(apply_overrides(c, ListenerOverrides{.address = std::nullopt, .port = 0}, kModules).empty());
  EXPECT_EQ(c.listeners[0].port, 0);

  Config open = default_config();
  auto errors = apply_overrides(open, ListenerOverrides{.address = "0.0.0.0", .port = std::nullopt}, kModules);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(errors[0].to_string().starts_with("--listen: listeners[0].address: plain HTTP on 0.0.0.0")) << errors[0].to_string();

  Config consented = default_config();
  EXPECT_TRUE(apply_overrides(consented, ListenerOverrides{.address = "0.0.0.0", .port = 9000, .allow_insecure = true}, kModules)
                  .empty());
  EXPECT_EQ(consented.listeners[0].address, "0.0.0.0");
  EXPECT_EQ(consented.listeners[0].port, 9000);

  Config bad = default_config();
  errors = apply_overrides(bad, ListenerOverrides{.address = "example.com", .port = std::nullopt}, kModules);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(errors[0].to_string().starts_with("--listen: listeners[0].address: 'example.com' is not an IP address"));
}

}  // namespace
}  // namespace bastion::config
