#include "http/guard.hpp"

#include <stdexcept>

#include <gtest/gtest.h>

namespace bastion::http {
namespace {

Request request_with(std::vector<std::pair<std::string, std::string>> fields, std::string remote = "203.0.113.9") {
  Request request;
  request.method = "POST";
  request.path = "/mcp";
  request.remote_address = std::move(remote);
  for (auto& [name, value] : fields) request.headers.add(name, value);
  return request;
}

bool allowed(const Guard& guard, const Request& request) { return !guard.check(request).has_value(); }

struct ConfigBuilder {
  GuardConfig config;
  ConfigBuilder& hosts(std::vector<std::string> v) {
    config.allowed_hosts = std::move(v);
    return *this;
  }
  ConfigBuilder& origins(std::vector<std::string> v) {
    config.allowed_origins = std::move(v);
    return *this;
  }
  ConfigBuilder& no_loopback() {
    config.allow_loopback_names = false;
    return *this;
  }
  ConfigBuilder& proxies(std::vector<std::string> v) {
    config.trusted_proxies = std::move(v);
    return *this;
  }
  operator GuardConfig() const { return config; }
};

TEST(HttpGuard, LoopbackNamesAllowedByDefault) {
  Guard guard(GuardConfig{});
  EXPECT_TRUE(allowed(guard, request_with({{"Host", "127.0.0.1:8080"}})));
  EXPECT_TRUE(allowed(guard, request_with({{"Host", "localhost:3000"}})));
  EXPECT_TRUE(allowed(guard, request_with({{"Host", "LOCALHOST"}})));
  EXPECT_TRUE(allowed(guard, request_with({{"Host", "[::1]:9"}})));
  EXPECT_TRUE(allowed(guard, request_with({{"Host", "127.0.0.1:8080"}, {"Origin", "http://localhost:6274"}})));
  EXPECT_TRUE(allowed(guard, request_with({{"Host", "127.0.0.1:8080"}, {"Origin", "https://127.0.0.1"}})));
}

TEST(HttpGuard, DnsRebindingRefusedWithJsonRpcError) {
  Guard guard(GuardConfig{});
  auto refused = guard.check(request_with({{"Host", "evil.example.com"}}));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
  EXPECT_EQ(*refused->headers.find("Content-Type"), "application/json");
  EXPECT_EQ(refused->body,
            R"({"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"Forbidden: Host not allowed"}})");

  auto bad_origin = guard.check(request_with({{"Host", "127.0.0.1:8080"}, {"Origin", "http://evil.example.com"}}));
  ASSERT_TRUE(bad_origin);
  EXPECT_EQ(bad_origin->status, 403);
  EXPECT_NE(bad_origin->body.find("Origin not allowed"), std::string::npos);
  // The same host:port under an attacker's name (the rebinding itself).
  EXPECT_FALSE(
      allowed(guard, request_with({{"Host", "evil.example.com:8080"}, {"Origin", "http://evil.example.com:8080"}})));
}

TEST(HttpGuard, MalformedOrAmbiguousHostsAreRefused) {
  Guard guard(ConfigBuilder().hosts({"*"}));
  EXPECT_FALSE(allowed(guard, request_with({})));
  EXPECT_FALSE(allowed(guard, request_with({{"Host", ""}})));
  EXPECT_FALSE(allowed(guard, request_with({{"Host", "a"}, {"Host", "b"}})));
  EXPECT_FALSE(allowed(guard, request_with({{"Host", "localhost@evil.example.com"}})));
  EXPECT_FALSE(allowed(guard, request_with({{"Host", "localhost:99999"}})));
  EXPECT_TRUE(allowed(guard, request_with({{"Host", "anything.example"}})));
}

TEST(HttpGuard, ConfiguredHostsWithAndWithoutPort) {
  Guard guard(ConfigBuilder().hosts({"mcp.example.com", "api.example.com:8443"}).no_loopback());
  EXPECT_TRUE(allowed(guard, request_with({{"Host", "MCP.example.com"}})));
  EXPECT_TRUE(allowed(guard, request_with({{"Host", "mcp.example.com:9999"}})));
  EXPECT_TRUE(allowed(guard, request_with({{"Host", "api.example.com:8443"}})));
  EXPECT_FALSE(allowed(guard, request_with({{"Host", "api.example.com:8444"}})));
  EXPECT_FALSE(allowed(guard, request_with({{"Host", "localhost:8080"}})));
  EXPECT_FALSE(allowed(guard, request_with({{"Host", "sub.mcp.example.com"}})));
  // Same-origin browser requests are fine; other origins are not.
  EXPECT_TRUE(allowed(guard, request_with({{"Host", "mcp.example.com"}, {"Origin", "https://mcp.example.com"}})));
  EXPECT_TRUE(
      allowed(guard, request_with({{"Host", "api.example.com:8443"}, {"Origin", "https://api.example.com:8443"}})));
  EXPECT_FALSE(allowed(guard, request_with({{"Host", "mcp.example.com"}, {"Origin", "https://other.example.com"}})));
}

TEST(HttpGuard, OriginAllowList) {
  Guard guard(ConfigBuilder()
                  .hosts({"mcp.example.com"})
                  .origins({"http://localhost:6274", "https://app.example.com:443"})
                  .no_loopback());
  auto with_origin = [](std::string origin) {
    return request_with({{"Host", "mcp.example.com"}, {"Origin", std::move(origin)}});
  };
  EXPECT_TRUE(allowed(guard, with_origin("http://localhost:6274")));
  EXPECT_TRUE(allowed(guard, with_origin("HTTP://LOCALHOST:6274")));
  EXPECT_TRUE(allowed(guard, with_origin("https://app.example.com")));  // default port normalized
  EXPECT_FALSE(allowed(guard, with_origin("http://localhost:6275")));
  EXPECT_FALSE(allowed(guard, with_origin("null")));
  EXPECT_FALSE(allowed(guard, with_origin("https://app.example.com/path")));
  EXPECT_FALSE(allowed(guard, with_origin("https://user@app.example.com")));
  EXPECT_FALSE(allowed(guard, with_origin("file:///etc/passwd")));
  EXPECT_FALSE(allowed(guard, with_origin("garbage")));
  EXPECT_FALSE(allowed(guard, request_with({{"Host", "mcp.example.com"},
                                            {"Origin", "http://localhost:6274"},
                                            {"Origin", "http://evil.example.com"}})));
  EXPECT_TRUE(allowed(guard, request_with({{"Host", "mcp.example.com"}})));  // no Origin: not a browser

  Guard open(ConfigBuilder().origins({"*", "null"}));
  EXPECT_TRUE(allowed(open, request_with({{"Host", "localhost"}, {"Origin", "https://anywhere.example"}})));
  EXPECT_TRUE(allowed(open, request_with({{"Host", "localhost"}, {"Origin", "null"}})));
  EXPECT_FALSE(allowed(open, request_with({{"Host", "localhost"}, {"Origin", "not an origin"}})));
}

TEST(HttpGuard, ForwardedHostBelievedOnlyFromTrustedProxies) {
  GuardConfig config =
      ConfigBuilder().hosts({"mcp.example.com"}).no_loopback().proxies({"10.0.0.0/8", "fd00::/8", "192.0.2.7"});
  Guard guard(config);
  // Behind the proxy: Host is the internal upstream name, the forwarded host is the public one.
  EXPECT_TRUE(allowed(
      guard, request_with({{"Host", "bastion.internal:8080"}, {"X-Forwarded-Host", "mcp.example.com"}}, "10.1.2.3")));
  EXPECT_TRUE(allowed(guard, request_with({{"Host", "bastion.internal:8080"},
                                           {"Forwarded", R"(for=198.51.100.1;host="mcp.example.com";proto=https)"}},
                                          "fd00::1")));
  EXPECT_TRUE(allowed(
      guard, request_with({{"Host", "bastion.internal"}, {"X-Forwarded-Host", "mcp.example.com"}}, "192.0.2.7")));
  EXPECT_TRUE(allowed(
      guard, request_with({{"Host", "bastion.internal"}, {"X-Forwarded-Host", "mcp.example.com"}}, "::ffff:10.9.9.9")));
  // The right-most value is the one our proxy wrote; left of it is what the client claimed.
  EXPECT_TRUE(allowed(
      guard, request_with({{"Host", "x"}, {"X-Forwarded-Host", "evil.example.com, mcp.example.com"}}, "10.1.2.3")));
  EXPECT_FALSE(allowed(
      guard, request_with({{"Host", "x"}, {"X-Forwarded-Host", "mcp.example.com, evil.example.com"}}, "10.1.2.3")));
  EXPECT_FALSE(allowed(
      guard, request_with({{"Host", "x"}, {"Forwarded", "host=mcp.example.com, for=1.2.3.4;host=evil.example.com"}},
                          "10.1.2.3")));
  // Both forms present: both must pass.
  EXPECT_FALSE(allowed(
      guard,
      request_with({{"Host", "x"}, {"X-Forwarded-Host", "mcp.example.com"}, {"Forwarded", "host=evil.example.com"}},
                   "10.1.2.3")));
  // From anyone else the forwarded headers are ignored: Host decides.
  EXPECT_FALSE(allowed(
      guard, request_with({{"Host", "bastion.internal"}, {"X-Forwarded-Host", "mcp.example.com"}}, "203.0.113.9")));
  EXPECT_FALSE(allowed(
      guard, request_with({{"Host", "bastion.internal"}, {"X-Forwarded-Host", "mcp.example.com"}}, "11.0.0.1")));
  EXPECT_TRUE(allowed(
      guard, request_with({{"Host", "mcp.example.com"}, {"X-Forwarded-Host", "evil.example.com"}}, "203.0.113.9")));
  // A trusted proxy that forwards no host: its Host is checked.
  EXPECT_TRUE(allowed(guard, request_with({{"Host", "mcp.example.com"}}, "10.1.2.3")));
  // Same-origin through the proxy uses the forwarded host.
  EXPECT_TRUE(allowed(guard, request_with({{"Host", "bastion.internal"},
                                           {"X-Forwarded-Host", "mcp.example.com"},
                                           {"Origin", "https://mcp.example.com"}},
                                          "10.1.2.3")));
}

TEST(HttpGuard, BadConfigurationIsAStartupError) {
  EXPECT_THROW(Guard(ConfigBuilder().hosts({"user@host"})), std::invalid_argument);
  EXPECT_THROW(Guard(ConfigBuilder().origins({"localhost:6274"})), std::invalid_argument);
  EXPECT_THROW(Guard(ConfigBuilder().origins({"ftp://example.com"})), std::invalid_argument);
  EXPECT_THROW(Guard(ConfigBuilder().proxies({"10.0.0.0/33"})), std::invalid_argument);
  EXPECT_THROW(Guard(ConfigBuilder().proxies({"proxy.internal"})), std::invalid_argument);
  EXPECT_THROW(Guard(ConfigBuilder().proxies({"::1/129"})), std::invalid_argument);
  EXPECT_NO_THROW(Guard(ConfigBuilder().proxies({"::1", "127.0.0.1/32", "0.0.0.0/0"})));
}

TEST(HttpGuard, FreeFunctionMatchesClass) {
  GuardConfig config;
  EXPECT_FALSE(check(request_with({{"Host", "localhost:1"}}), config).has_value());
  EXPECT_TRUE(check(request_with({{"Host", "evil.example.com"}}), config).has_value());
}

}  // namespace
}  // namespace bastion::http
