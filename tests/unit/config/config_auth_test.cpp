#include <gtest/gtest.h>

#include "config/config.hpp"

namespace bastion::config {
namespace {

LoadOptions env(std::map<std::string, std::string> vars) {
  LoadOptions o;
  o.getenv = [vars](const std::string& n) -> std::optional<std::string> {
    auto it = vars.find(n);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  return o;
}

constexpr const char* kGood = R"(
listeners: [{address: 127.0.0.1, port: 0, public_url: "https://MCP.example.com"}]
auth:
  issuers:
    - name: kc
      issuer: https://kc.example/realms/r
      algorithms: [RS256, ES256]
      profile: keycloak
      require_at_jwt: true
      clock_skew_s: 30
    - name: local
      issuer: http://127.0.0.1:9000
      allow_http_loopback: true
      jwks_uri: http://127.0.0.1:9000/jwks
      introspection: {client_id: rs, client_secret: "${env:SECRET}", endpoint: http://127.0.0.1:9000/introspect}
routes:
  - path: /mcp
    modules: [demo]
    auth:
      issuers: [kc, local]
      scopes: [mcp]
      method_scopes: {"tools/call": [mcp.call]}
      tool_scopes: {"admin_*": [admin]}
      resource_name: Demo
      primary: true
)";

TEST(ConfigAuth, ParsesIssuersAndRoutePolicy) {
  auto c = load_config_string(kGood, "t.yaml", env({{"SECRET", "s3cret"}}));
  ASSERT_TRUE(c) << format_errors(c.error());
  ASSERT_EQ(c->auth.issuers.size(), 2u);
  EXPECT_EQ(c->auth.issuers[0].algorithms, (std::vector<std::string>{"RS256", "ES256"}));
  EXPECT_TRUE(c->auth.issuers[0].require_at_jwt);
  EXPECT_EQ(c->auth.issuers[0].clock_skew, std::chrono::seconds(30));
  ASSERT_TRUE(c->auth.issuers[1].introspection);
  EXPECT_EQ(c->auth.issuers[1].introspection->client_secret, "s3cret");
  ASSERT_TRUE(c->routes[0].auth);
  EXPECT_TRUE(c->routes[0].auth->primary);
  ASSERT_EQ(c->routes[0].auth->tool_scopes.size(), 1u);
  EXPECT_EQ(c->routes[0].auth->tool_scopes[0].pattern, "admin_*");
  const std::string dump = dump_redacted(*c);
  EXPECT_EQ(dump.find("s3cret"), std::string::npos);
  EXPECT_NE(dump.find("${env:SECRET}"), std::string::npos);
  auto again = load_config_string(dump, "dump.yaml", env({{"SECRET", "s3cret"}}));
  ASSERT_TRUE(again) << format_errors(again.error());
  EXPECT_EQ(again->routes[0].auth->method_scopes[0].scopes, (std::vector<std::string>{"mcp.call"}));
}

std::string errors_of(const std::string& yaml) {
  auto c = load_config_string(yaml, "t.yaml", env({{"SECRET", "x"}}));
  return c ? "" : format_errors(c.error());
}

TEST(ConfigAuth, RefusesUnsafeOrInconsistentSettings) {
  const std::string route = "routes: [{path: /mcp, modules: [demo], auth: {issuers: [a]}}]\n";
  EXPECT_NE(errors_of("auth: {issuers: [{name: a, issuer: 'http://as.example'}]}\n" + route).find("must use https"), std::string::npos);
  EXPECT_NE(errors_of("auth: {issuers: [{name: a, issuer: 'http://as.example', allow_http_loopback: true}]}\n" + route)
                .find("must use https"), std::string::npos);
  EXPECT_NE(errors_of("auth: {issuers: [{name: a, issuer: 'https://as', algorithms: [HS256]}]}\n" + route).find("unsupported algorithm"),
            std::string::npos);
  EXPECT_NE(errors_of("auth: {issuers: [{name: a, issuer: 'https://as', algorithms: [none]}]}\n" + route).find("unsupported algorithm"),
            std::string::npos);
  EXPECT_NE(errors_of("auth: {issuers: [{name: a, issuer: 'https://as', profile: x}]}\n" + route).find("unknown profile"),
            std::string::npos);
  EXPECT_NE(errors_of("auth: {issuers: [{name: b, issuer: 'https://as'}]}\n" + route).find("unknown issuer 'a'"), std::string::npos);
  EXPECT_NE(errors_of(route).find("a protected route needs an issuer"), std::string::npos);
  EXPECT_NE(errors_of("auth: {issuers: [{name: a, issuer: 'https://as', introspection: {client_id: c, client_secret: literal}}]}\n" + route)
                .find("a secret"), std::string::npos);
  EXPECT_NE(errors_of("auth: {issuers: [{name: a, issuer: 'https://login/{tenantid}/v2.0'}]}\n" + route).find("{tenantid}"),
            std::string::npos);
  EXPECT_EQ(errors_of("auth: {issuers: [{name: a, issuer: 'https://login/{tenantid}/v2.0', profile: entra, jwks_uri: 'https://login/keys'}]}\n" +
                      route), "");
  EXPECT_NE(errors_of("auth: {issuers: [{name: a, issuer: 'https://as', surprise: 1}]}\n" + route).find("unknown key"), std::string::npos);
  EXPECT_NE(errors_of("auth: {issuers: [{name: a, issuer: 'https://as'}]}\nroutes: [{path: /a, modules: [demo], auth: {primary: true}}, "
                      "{path: /b, modules: [demo], auth: {primary: true}}]\n").find("only one route can be primary"),
            std::string::npos);
}

}  // namespace
}  // namespace bastion::config
