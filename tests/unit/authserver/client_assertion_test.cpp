// private_key_jwt (RFC 7523) for the client_credentials grant: a real key pair made with OpenSSL,
// assertions signed here, every claim rule checked to fail closed.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "authserver/harness.hpp"

namespace bastion::authserver::testing {
namespace {

namespace json = boost::json;

struct KeyPair {
  std::shared_ptr<EVP_PKEY> key;
  std::string public_pem;
  bool ec = false;
};

KeyPair make_key(bool ec) {
  EVP_PKEY* raw = ec ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256") : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  KeyPair pair{std::shared_ptr<EVP_PKEY>(raw, EVP_PKEY_free), "", ec};
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, raw);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  pair.public_pem.assign(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return pair;
}

std::string sign(const KeyPair& pair, const json::object& claims, std::string alg = "") {
  if (alg.empty()) alg = pair.ec ? "ES256" : "EdDSA";
  json::object header{{"alg", alg}, {"typ", "JWT"}};
  const std::string input = core::base64url_encode(json::serialize(header)) + "." + core::base64url_encode(json::serialize(claims));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t size = 0;
  EVP_DigestSignInit(ctx, nullptr, pair.ec ? EVP_sha256() : nullptr, nullptr, pair.key.get());
  EVP_DigestSign(ctx, nullptr, &size, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  std::string sig(size, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &size, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  sig.resize(size);
  EVP_MD_CTX_free(ctx);
  if (pair.ec) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* ecdsa = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    const BIGNUM* r = nullptr;
    const BIGNUM* s = nullptr;
    ECDSA_SIG_get0(ecdsa, &r, &s);
    std::string raw(64, '\0');
    BN_bn2binpad(r, reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(s, reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(ecdsa);
    sig = raw;
  }
  return input + "." + core::base64url_encode(sig);
}

class PrivateKeyJwt : public ::testing::TestWithParam<bool> {
 protected:
  PrivateKeyJwt() : pair(make_key(GetParam())), h([this](AuthServerOptions& o) {
    ClientOptions robot;
    robot.client_id = "robot";
    robot.token_endpoint_auth_method = "private_key_jwt";
    robot.public_key_pem = pair.public_pem;
    robot.grant_types = {"client_credentials"};
    o.clients.push_back(robot);
  }) {}

  json::object claims(std::int64_t exp_in = 120) {
    const std::int64_t t = unix_seconds(h.now);
    return json::object{{"iss", "robot"}, {"sub", "robot"}, {"aud", std::string(kIssuer) + "/oauth/token"},
                        {"exp", t + exp_in}, {"iat", t}, {"jti", "jti-" + std::to_string(++counter)}};
  }

  http::Response token(const std::string& assertion, const std::string& extra = "") {
    return h.post_form("/oauth/token", "grant_type=client_credentials&resource=" + enc(kResource) +
                                           "&client_assertion_type=" + enc(std::string(kJwtBearerAssertionType)) +
                                           "&client_assertion=" + assertion + extra, {}, false);
  }

  KeyPair pair;
  Harness h;
  int counter = 0;
};

TEST_P(PrivateKeyJwt, AValidAssertionGetsAToken) {
  auto r = token(sign(pair, claims()));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(str(json_of(r), "access_token").empty());
  // aud may also be the issuer itself.
  auto c = claims();
  c["aud"] = kIssuer;
  EXPECT_EQ(token(sign(pair, c)).status, 200);
}

TEST_P(PrivateKeyJwt, EveryBrokenAssertionIsInvalidClient) {
  std::vector<std::pair<const char*, std::string>> bad;
  auto c = claims();
  bad.emplace_back("replayed jti", [&] {
    const std::string once = sign(pair, c);
    EXPECT_EQ(token(once).status, 200);
    return once;
  }());
  auto other_key = make_key(GetParam());
  bad.emplace_back("wrong key", sign(other_key, claims()));
  auto x = claims();
  x["aud"] = "https://other.example/token";
  bad.emplace_back("other audience", sign(pair, x));
  x = claims();
  x["sub"] = "someone";
  bad.emplace_back("sub differs", sign(pair, x));
  bad.emplace_back("expired", sign(pair, claims(-120)));
  bad.emplace_back("too long-lived", sign(pair, claims(3600)));
  x = claims();
  x.erase("jti");
  bad.emplace_back("no jti", sign(pair, x));
  x = claims();
  x["iat"] = unix_seconds(h.now) + 600;
  bad.emplace_back("issued in the future", sign(pair, x));
  bad.emplace_back("alg none", [&] {
    const std::string signed_one = sign(pair, claims());
    json::object none_header{{"alg", "none"}};
    return core::base64url_encode(json::serialize(none_header)) + signed_one.substr(signed_one.find('.'), signed_one.rfind('.') - signed_one.find('.')) + ".";
  }());
  bad.emplace_back("alg mismatch", sign(pair, claims(), "RS256"));
  bad.emplace_back("garbage", "not.a.jwt");
  for (const auto& [name, assertion] : bad) {
    auto r = token(assertion);
    EXPECT_EQ(r.status, 401) << name << ": " << r.body;
    EXPECT_EQ(str(json_of(r), "error"), "invalid_client") << name;
  }
}

TEST_P(PrivateKeyJwt, CannotBeCombinedWithASecretOrSkipped) {
  EXPECT_EQ(str(json_of(token(sign(pair, claims()), "&client_secret=whatever")), "error"), "invalid_request");
  // Without an assertion the client cannot authenticate at all.
  auto r = h.post_form("/oauth/token", "grant_type=client_credentials&client_id=robot&resource=" + enc(kResource), {}, false);
  EXPECT_EQ(str(json_of(r), "error"), "invalid_client");
}

INSTANTIATE_TEST_SUITE_P(Keys, PrivateKeyJwt, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "ES256" : "EdDSA"; });

TEST(PrivateKeyJwtConfig, ABadPublicKeyStopsStartUp) {
  AuthServerOptions o;
  o.password_cost = cheap_cost();
  ClientOptions robot;
  robot.client_id = "robot";
  robot.token_endpoint_auth_method = "private_key_jwt";
  robot.public_key_pem = "-----BEGIN PUBLIC KEY-----\nnonsense\n-----END PUBLIC KEY-----\n";
  o.clients.push_back(robot);
  o.fetcher = [](const http::ClientRequest&, const http::ClientOptions&) { return Result<http::ClientResponse>(fail(0, "x")); };
  EXPECT_THROW(AuthorizationServer server(std::move(o)), std::runtime_error);
}

TEST(PrivateKeyJwtConfig, MetadataAdvertisesIt) {
  Harness h;
  auto m = json_of(h.request("GET", "/.well-known/oauth-authorization-server"));
  const auto& methods = m.at("token_endpoint_auth_methods_supported").as_array();
  EXPECT_NE(std::find(methods.begin(), methods.end(), json::value("private_key_jwt")), methods.end());
  EXPECT_TRUE(m.contains("token_endpoint_auth_signing_alg_values_supported"));
}

}  // namespace
}  // namespace bastion::authserver::testing
