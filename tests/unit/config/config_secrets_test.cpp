// Secret references (${env:NAME}, ${file:/path}) and the redacted dump.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "config/config.hpp"

namespace bastion::config {
namespace {

namespace fs = std::filesystem;

// KEY_A and KEY_B: base64 of 32 bytes each.
const std::map<std::string, std::string> kEnvironment = {
    {"DEMO_TOKEN", "s3cr3t-token"},
    {"EMPTY", ""},
    {"BIND", "127.0.0.1"},
    {"NAME", "from-env"},
    {"KEY_A", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="},
    {"KEY_B", "Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA="},
    {"SHORT_KEY", "c2hvcnQ="}};

std::optional<std::string> fake_getenv(const std::string& name) {
  if (auto it = kEnvironment.find(name); it != kEnvironment.end()) return it->second;
  return std::nullopt;
}

LoadOptions options() {
  LoadOptions o;
  o.known_modules = std::vector<std::string>{"demo", "conformance"};
  o.getenv = fake_getenv;
  return o;
}

ReferenceContext context(std::string base = {}) { return ReferenceContext{std::move(base), fake_getenv}; }

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("bastion-config-test-" + std::to_string(::getpid()))) {
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  fs::path write(const std::string& name, const std::string& content) const {
    std::ofstream(path_ / name, std::ios::binary) << content;
    return path_ / name;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(SecretReferences, PlainTextIsUnchanged) {
  EXPECT_EQ(resolve_references("no references here $ {x} $", context()).value(), "no references here $ {x} $");
  EXPECT_FALSE(has_reference("no references here"));
}

TEST(SecretReferences, Environment) {
  EXPECT_EQ(resolve_references("${env:DEMO_TOKEN}", context()).value(), "s3cr3t-token");
  EXPECT_EQ(resolve_references("Bearer ${env:DEMO_TOKEN}!", context()).value(), "Bearer s3cr3t-token!");
  EXPECT_EQ(resolve_references("${env:EMPTY}", context()).value(), "");
  EXPECT_EQ(resolve_references("${env:MISSING}", context()).error(), "environment variable MISSING is not set");
  EXPECT_EQ(resolve_references("${env:1BAD}", context()).error(),
            "'1BAD' is not a valid environment variable name in ${env:...}");
  EXPECT_TRUE(has_reference("x ${env:A} y"));
}

TEST(SecretReferences, RealEnvironmentByDefault) {
  ::setenv("BASTION_CONFIG_TEST_VAR", "value-from-process", 1);
  EXPECT_EQ(resolve_references("${env:BASTION_CONFIG_TEST_VAR}", ReferenceContext{}).value(), "value-from-process");
  ::unsetenv("BASTION_CONFIG_TEST_VAR");
}

TEST(SecretReferences, File) {
  TempDir dir;
  const auto secret = dir.write("secret.txt", "file-secret\n");
  EXPECT_EQ(resolve_references("${file:" + secret.string() + "}", context()).value(), "file-secret");
  // Relative to the config file's directory.
  EXPECT_EQ(resolve_references("${file:secret.txt}", context(dir.path().string())).value(), "file-secret");
  EXPECT_EQ(resolve_references("${file:/nonexistent/secret}", context()).error(),
            "cannot read secret file '/nonexistent/secret': no such file");
  EXPECT_EQ(resolve_references("${file:" + dir.path().string() + "}", context()).error(),
            "cannot read secret file '" + dir.path().string() + "': not a regular file");
  EXPECT_EQ(resolve_references("${file:}", context()).error(), "${file:} needs a path");
}

TEST(SecretReferences, SyntaxErrors) {
  EXPECT_EQ(resolve_references("${env:A", context()).error(), "unterminated reference: '${' without a closing '}'");
  EXPECT_EQ(resolve_references("${vault:kv/x}", context()).error(),
            "unknown secret provider 'vault' in '${vault:kv/x}' (supported: env, file; write $${ for a literal ${)");
  EXPECT_EQ(resolve_references("${HOME}", context()).error(),
            "'${HOME}' is not a reference: use ${env:NAME} or ${file:/path} (write $${ for a literal ${)");
}

TEST(SecretReferences, EscapedDollarBrace) {
  EXPECT_EQ(resolve_references("$${HOME} and $${env:X}", context()).value(), "${HOME} and ${env:X}");
  EXPECT_FALSE(has_reference("$${env:X}"));
}

TEST(SecretReferences, ResolvedInConfigStrings) {
  TempDir dir;
  dir.write("api-key", "k-123\n");
  std::ofstream(dir.path() / "bastion.yaml") << R"(server:
  name: ${env:NAME}
listeners:
  - address: ${env:BIND}
    port: 0
routes:
  - path: /mcp
    modules: [demo]
    module_settings:
      demo: {token: "${env:DEMO_TOKEN}", key: "${file:api-key}", template: "$${user}", count: 3}
)";
  auto result = load_config_file((dir.path() / "bastion.yaml").string(), options());
  ASSERT_TRUE(result) << format_errors(result.error());
  EXPECT_EQ(result->server.name, "from-env");
  EXPECT_EQ(result->routes[0].server.name, "from-env");
  EXPECT_EQ(result->listeners[0].address, "127.0.0.1");
  const auto& demo = result->routes[0].module_settings.at("demo");
  EXPECT_EQ(demo.at("token").as_string(), "s3cr3t-token");
  EXPECT_EQ(demo.at("key").as_string(), "k-123");
  EXPECT_EQ(demo.at("template").as_string(), "${user}");
  EXPECT_EQ(demo.at("count").as_int64(), 3);
  EXPECT_EQ(result->references.at("routes[0].module_settings.demo.token"), "${env:DEMO_TOKEN}");
}

TEST(SecretReferences, FailuresInConfigHavePositions) {
  auto result = load_config_string(R"(routes:
  - path: /mcp
    modules: [demo]
    module_settings:
      demo:
        token: ${env:NOT_SET}
        key: ${file:/nonexistent/key}
)",
                                   "test.yaml", options());
  ASSERT_FALSE(result);
  EXPECT_EQ(format_errors(result.error()),
            "test.yaml:6:16: routes[0].module_settings.demo.token: environment variable NOT_SET is not set\n"
            "test.yaml:7:14: routes[0].module_settings.demo.key: cannot read secret file '/nonexistent/key': no such "
            "file\n");
}

TEST(SecretReferences, ErrorsNeverContainTheSecret) {
  // A reference that fails is reported by its text (variable or file name), never by a value.
  auto result = load_config_string("server: {name: '${env:DEMO_TOKEN'}\n", "test.yaml", options());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error()[0].to_string(),
            "test.yaml:1:16: server.name: unterminated reference: '${' without a closing '}'");
  EXPECT_EQ(format_errors(result.error()).find("s3cr3t"), std::string::npos);
}

TEST(SecretReferences, ValidationMessagesShowTheReferenceNotTheValue) {
  auto result = load_config_string("listeners:\n  - {address: '${env:DEMO_TOKEN}', port: 1}\n", "test.yaml", options());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error()[0].to_string(),
            "test.yaml:2:15: listeners[0].address: '${env:DEMO_TOKEN}' is not an IP address (127.0.0.1 or ::1: this "
            "machine only; 0.0.0.0 or ::: all interfaces)");
}

TEST(SecretReferences, RequestStateKeysMustBeReferences) {
  auto ok = load_config_string("security:\n  request_state_keys: ['${env:KEY_A}', '${env:KEY_B}']\n", "test.yaml", options());
  ASSERT_TRUE(ok) << format_errors(ok.error());
  EXPECT_EQ(ok->security.request_state_keys,
            (std::vector<std::string>{kEnvironment.at("KEY_A"), kEnvironment.at("KEY_B")}));
  const std::string dump = dump_redacted(*ok);
  EXPECT_NE(dump.find("request_state_keys: [\"${env:KEY_A}\", \"${env:KEY_B}\"]"), std::string::npos) << dump;
  EXPECT_EQ(dump.find(kEnvironment.at("KEY_A")), std::string::npos) << dump;

  auto literal = load_config_string("security:\n  request_state_keys: [AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=]\n",
                                    "test.yaml", options());
  ASSERT_FALSE(literal);
  EXPECT_EQ(literal.error()[0].to_string(),
            "test.yaml:2:24: security.request_state_keys[0]: a secret: write it as a reference (${env:NAME} or "
            "${file:/path}), not as a literal");
  EXPECT_EQ(format_errors(literal.error()).find("AAECAwQF"), std::string::npos);

  auto bad = load_config_string("security:\n  request_state_keys: ['${env:SHORT_KEY}', '${env:KEY_A}', '${env:KEY_A}']\n",
                                "test.yaml", options());
  ASSERT_FALSE(bad);
  EXPECT_EQ(format_errors(bad.error()),
            "test.yaml:2:24: security.request_state_keys[0]: must be the base64 of exactly 32 random bytes (e.g. from: "
            "openssl rand -base64 32)\n"
            "test.yaml:2:60: security.request_state_keys[2]: repeats security.request_state_keys[1]\n");
}

TEST(SecretReferences, TheArgumentDigestKeyIsAReferenceTo32Bytes) {
  auto ok = load_config_string("security:\n  argument_digest_key: ${env:KEY_A}\n", "test.yaml", options());
  ASSERT_TRUE(ok) << format_errors(ok.error());
  EXPECT_EQ(ok->security.argument_digest_key, kEnvironment.at("KEY_A"));
  const std::string dump = dump_redacted(*ok);
  EXPECT_NE(dump.find("argument_digest_key: ${env:KEY_A}"), std::string::npos) << dump;
  EXPECT_EQ(dump.find(kEnvironment.at("KEY_A")), std::string::npos) << dump;
  // Without one, the dump has no such key (an empty literal would not load again).
  EXPECT_EQ(dump_redacted(default_config()).find("argument_digest_key"), std::string::npos);

  auto literal = load_config_string("security:\n  argument_digest_key: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
                                    "test.yaml", options());
  ASSERT_FALSE(literal);
  EXPECT_EQ(format_errors(literal.error()),
            "test.yaml:2:24: security.argument_digest_key: a secret: write it as a reference (${env:NAME} or "
            "${file:/path}), not as a literal\n");

  auto short_key = load_config_string("security:\n  argument_digest_key: ${env:SHORT_KEY}\n", "test.yaml", options());
  ASSERT_FALSE(short_key);
  EXPECT_EQ(format_errors(short_key.error()),
            "test.yaml:2:24: security.argument_digest_key: must be the base64 of exactly 32 random bytes (e.g. from: "
            "openssl rand -base64 32)\n");
}

TEST(RedactedDump, DefaultConfigRoundTrips) {
  const Config original = default_config();
  const std::string text = dump_redacted(original);
  auto reloaded = load_config_string(text, "dump.yaml", options());
  ASSERT_TRUE(reloaded) << format_errors(reloaded.error()) << text;
  EXPECT_EQ(dump_redacted(*reloaded).substr(text.find('\n')), text.substr(text.find('\n')));
  EXPECT_EQ(reloaded->listeners[0].port, 8080);
  EXPECT_EQ(reloaded->routes[0].path, "/mcp");
}

TEST(RedactedDump, ShowsEveryKey) {
  const std::string text = dump_redacted(default_config());
  for (const char* key : {"server:", "name: bastion", "logging:", "level: info", "listeners:", "address: 127.0.0.1",
                          "port: 8080", "allow_insecure: false", "limits:", "max_body_bytes: 4194304",
                          "max_header_bytes: 16384", "read_timeout_ms: 30000", "idle_timeout_ms: 60000",
                          "write_timeout_ms: 30000", "max_connections: 10000", "max_write_queue_bytes: 8388608",
                          "shutdown_grace_ms: 10000", "lingering_close_bytes: 16777216",
                          "lingering_close_timeout_ms: 5000", "threads: 0", "security:", "allowed_hosts: []",
                          "allowed_origins: []", "allow_loopback_names: true", "trusted_proxies: []", "sessions:",
                          "idle_timeout_s: 1800", "max_sessions: 10000", "max_sessions_per_client: 1000", "routes:",
                          "path: /mcp", "modules: [demo]"}) {
    EXPECT_NE(text.find(key), std::string::npos) << key << " missing from:\n" << text;
  }
}

TEST(RedactedDump, SecretsAreNeverPrinted) {
  auto result = load_config_string(R"(server:
  name: ${env:NAME}
routes:
  - path: /mcp
    modules: [demo]
    module_settings:
      demo:
        api_token: ${env:DEMO_TOKEN}
        password: hunter2
        nested: {client_secret: [abc, 42]}
        root: /srv
        flag: "true"
        ratio: 2.0
)",
                                   "test.yaml", options());
  ASSERT_TRUE(result) << format_errors(result.error());
  const std::string text = dump_redacted(*result);
  EXPECT_EQ(text.find("s3cr3t"), std::string::npos) << text;
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  EXPECT_EQ(text.find("abc"), std::string::npos) << text;
  EXPECT_EQ(text.find("from-env"), std::string::npos) << text;
  EXPECT_NE(text.find("${env:DEMO_TOKEN}"), std::string::npos) << text;
  EXPECT_NE(text.find("${env:NAME}"), std::string::npos) << text;
  EXPECT_NE(text.find("<redacted>"), std::string::npos) << text;
  EXPECT_NE(text.find("/srv"), std::string::npos) << text;

  // Loadable again: references resolve afresh, types survive (a quoted "true" stays a string).
  auto reloaded = load_config_string(text, "dump.yaml", options());
  ASSERT_TRUE(reloaded) << format_errors(reloaded.error()) << text;
  const auto& demo = reloaded->routes[0].module_settings.at("demo");
  EXPECT_EQ(demo.at("api_token").as_string(), "s3cr3t-token");
  EXPECT_EQ(demo.at("password").as_string(), "<redacted>");
  EXPECT_EQ(demo.at("flag").as_string(), "true");
  EXPECT_TRUE(demo.at("ratio").is_double());
  EXPECT_EQ(reloaded->server.name, "from-env");
}

}  // namespace
}  // namespace bastion::config
