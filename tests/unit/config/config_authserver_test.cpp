// The `authorization_server:` block: defaults, every key, and the checks that fail closed.
#include <gtest/gtest.h>

#include "config/config.hpp"

namespace bastion::config {
namespace {

const std::string kBase = "listeners:\n  - port: 0\n";

LoadResult load(const std::string& yaml, std::map<std::string, std::string> env = {}) {
  LoadOptions options;
  options.getenv = [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return load_config_string(kBase + yaml, "test.yaml", options);
}

std::string errors_of(const LoadResult& r) { return r ? std::string() : format_errors(r.error()); }

TEST(ConfigAuthServer, AbsentMeansDisabledAndTheDefaultConfigEnablesIt) {
  auto c = load("");
  ASSERT_TRUE(c) << errors_of(c);
  EXPECT_FALSE(c->authorization_server.enabled);
  const Config d = default_config();
  EXPECT_TRUE(d.authorization_server.enabled);
  EXPECT_NE(d.authorization_server.data_dir, ":memory:");
  EXPECT_TRUE(d.authorization_server.data_dir.ends_with("bastion") || d.authorization_server.data_dir.ends_with(".bastion-data"));
  EXPECT_TRUE(validate(d).empty());
}

TEST(ConfigAuthServer, EveryKeyIsRead) {
  auto c = load(R"(authorization_server:
  issuer: https://auth.example.com
  data_dir: ":memory:"
  signing_algorithm: EdDSA
  access_token_ttl_s: 300
  code_ttl_s: 30
  refresh_token_ttl_s: 86400
  key_rotation_s: 7200
  scopes: [mcp, mcp:admin]
  resources: [https://mcp.example.com/mcp]
  users:
    - username: alice
      password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"
  clients:
    - client_id: agent
      client_name: Agent
      redirect_uris: [http://127.0.0.1:3000/callback]
    - client_id: robot
      token_endpoint_auth_method: client_secret_basic
      client_secret: ${env:ROBOT_SECRET}
      grant_types: [client_credentials]
      scopes: [mcp]
  dcr: {enabled: false, max_clients: 5, per_minute: 2, per_minute_per_address: 1}
  cimd: {enabled: true, allow_loopback: true, max_document_bytes: 4096, timeout_ms: 1000, cache_ttl_s: 60}
)", {{"ROBOT_SECRET", "0123456789abcdef-robot"}});
  ASSERT_TRUE(c) << errors_of(c);
  const auto& as = c->authorization_server;
  EXPECT_TRUE(as.enabled);
  EXPECT_EQ(as.issuer, "https://auth.example.com");
  EXPECT_EQ(as.signing_algorithm, "EdDSA");
  EXPECT_EQ(as.access_token_ttl.count(), 300);
  EXPECT_EQ(as.code_ttl.count(), 30);
  EXPECT_EQ(as.scopes.size(), 2u);
  ASSERT_EQ(as.users.size(), 1u);
  ASSERT_EQ(as.clients.size(), 2u);
  EXPECT_EQ(as.clients[1].client_secret, "0123456789abcdef-robot");
  EXPECT_FALSE(as.dcr.enabled);
  EXPECT_EQ(as.dcr.max_clients, 5u);
  EXPECT_EQ(as.dcr.per_minute_per_address, 1u);
  EXPECT_TRUE(as.cimd.allow_loopback);
  EXPECT_EQ(as.cimd.timeout.count(), 1000);
  // The dump shows the secret as its reference and never the hash.
  const std::string dump = dump_redacted(*c);
  EXPECT_NE(dump.find("${env:ROBOT_SECRET}"), std::string::npos);
  EXPECT_EQ(dump.find("0123456789abcdef-robot"), std::string::npos);
  EXPECT_EQ(dump.find("aGFzaGhhc2g"), std::string::npos);
}

TEST(ConfigAuthServer, RefusesUnsafeOrBrokenSettings) {
  const std::string errors = errors_of(load(R"(authorization_server:
  issuer: http://auth.example.com
  signing_algorithm: HS256
  access_token_ttl_s: 5
  users:
    - username: bob
      password_hash: plaintext
  clients:
    - client_id: a
      redirect_uris: [http://app.example/cb, "http://127.0.0.1.evil.example/cb"]
    - client_id: https://app.example/client.json
      redirect_uris: [https://app.example/cb]
    - client_id: robot
      token_endpoint_auth_method: client_secret_post
      client_secret: literal-secret-in-the-file
)"));
  EXPECT_NE(errors.find("issuer: 'http://auth.example.com' must be https"), std::string::npos) << errors;
  EXPECT_NE(errors.find("signing_algorithm: 'HS256' is not supported"), std::string::npos) << errors;
  EXPECT_NE(errors.find("access_token_ttl_s: 5 is out of range"), std::string::npos) << errors;
  EXPECT_NE(errors.find("password_hash: must be an argon2id hash"), std::string::npos) << errors;
  EXPECT_NE(errors.find("redirect_uris[0]: 'http://app.example/cb' must be https"), std::string::npos) << errors;
  EXPECT_NE(errors.find("redirect_uris[1]: 'http://127.0.0.1.evil.example/cb' has an invalid host"), std::string::npos) << errors;
  EXPECT_NE(errors.find("https URLs are Client ID Metadata Documents"), std::string::npos) << errors;
  EXPECT_NE(errors.find("client_secret: a secret: write it as a reference"), std::string::npos) << errors;
  EXPECT_EQ(errors.find("literal-secret-in-the-file"), std::string::npos) << errors;
}

TEST(ConfigAuthServer, PrivateKeyJwtNeedsAPublicKeyAndNoSecret) {
  const std::string errors = errors_of(load(R"(authorization_server:
  clients:
    - client_id: robot
      token_endpoint_auth_method: private_key_jwt
      grant_types: [client_credentials]
    - client_id: agent
      redirect_uris: [https://a.example/cb]
      public_key: "-----BEGIN PUBLIC KEY-----"
)"));
  EXPECT_NE(errors.find("clients[0].public_key: private_key_jwt needs the client's PEM public key"), std::string::npos) << errors;
  EXPECT_NE(errors.find("clients[1].public_key: only a private_key_jwt client has a public_key"), std::string::npos) << errors;
  auto ok = load(R"(authorization_server:
  clients:
    - client_id: robot
      token_endpoint_auth_method: private_key_jwt
      public_key: "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----"
      grant_types: [client_credentials]
)");
  EXPECT_TRUE(ok) << errors_of(ok);
}

TEST(ConfigAuthServer, UnknownKeysAndDisabledBlock) {
  EXPECT_NE(errors_of(load("authorization_server:\n  issuerr: x\n")).find("unknown key 'issuerr'"), std::string::npos);
  auto c = load("authorization_server:\n  enabled: false\n");
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->authorization_server.enabled);
}

}  // namespace
}  // namespace bastion::config
