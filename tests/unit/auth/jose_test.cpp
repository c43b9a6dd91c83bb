#include "auth/jose.hpp"

#include <gtest/gtest.h>

#include "auth/jwt_support.hpp"

namespace bastion::auth {
namespace {

using namespace testing;

TEST(StrictJson, RefusesDuplicateMemberNamesAtAnyDepth) {
  EXPECT_TRUE(parse_strict_object(R"({"a":1,"b":{"c":2}})", 8, 100));
  EXPECT_FALSE(parse_strict_object(R"({"a":1,"a":2})", 8, 100));
  EXPECT_FALSE(parse_strict_object(R"({"a":{"c":1,"c":1}})", 8, 100));
  // The same name spelled with an escape is the same name.
  EXPECT_FALSE(parse_strict_object(R"({"iss":"x","\u0069ss":"y"})", 8, 100));
  // Colons inside strings are not member separators.
  EXPECT_TRUE(parse_strict_object(R"({"a":"x:y:z","b":"\":"})", 8, 100));
}

TEST(StrictJson, EnforcesDepthAndMemberLimits) {
  EXPECT_TRUE(parse_strict_object(R"({"a":[[1]]})", 3, 100));
  EXPECT_FALSE(parse_strict_object(R"({"a":[[[1]]]})", 3, 100));
  EXPECT_FALSE(parse_strict_object(R"({"a":1,"b":2,"c":3})", 8, 2));
  EXPECT_FALSE(parse_strict_object(R"([1])", 8, 100));
  EXPECT_FALSE(parse_strict_object(R"({"a":1,})", 8, 100));
  EXPECT_FALSE(parse_strict_object("{\"a\":\"\xff\"}", 8, 100));
}

TEST(CompactJws, ChecksSizeAndShapeBeforeParsing) {
  JoseLimits limits;
  limits.max_token_bytes = 64;
  EXPECT_FALSE(parse_compact_jws(std::string(65, 'a'), limits));
  EXPECT_FALSE(parse_compact_jws("", limits));
  EXPECT_FALSE(parse_compact_jws("abc", limits));
  EXPECT_FALSE(parse_compact_jws("a.b", limits));
  EXPECT_FALSE(parse_compact_jws("a.b.c.d.e", limits));
  const std::string h = core::base64url_encode(R"({"alg":"none"})");
  const std::string p = core::base64url_encode(R"({"sub":"x"})");
  EXPECT_FALSE(parse_compact_jws(h + "." + p + ".", JoseLimits{})) << "unsigned tokens are refused";
  EXPECT_FALSE(parse_compact_jws(h + "=." + p + ".c2ln", JoseLimits{})) << "padding is not base64url";
  EXPECT_FALSE(parse_compact_jws(h + "." + p + ".c2l+", JoseLimits{})) << "the standard alphabet is not base64url";
  // "QQ" is the canonical spelling of "A"; "QR" decodes to the same byte with a stray low bit
  // (RFC 4648 §3.5): one token, one spelling.
  EXPECT_TRUE(parse_compact_jws(h + "." + p + ".QQ", JoseLimits{}));
  EXPECT_FALSE(parse_compact_jws(h + "." + p + ".QR", JoseLimits{}));
  EXPECT_FALSE(parse_compact_jws(h + "." + p + ".QUJDR", JoseLimits{})) << "impossible length";
  auto ok = parse_compact_jws(h + "." + p + ".c2ln", JoseLimits{});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->signature, "sig");
  EXPECT_EQ(ok->signing_input, h + "." + p);
  JoseLimits small_header;
  small_header.max_header_bytes = 8;
  EXPECT_FALSE(parse_compact_jws(h + "." + p + ".c2ln", small_header));
}

struct AlgCase {
  std::string alg;
  std::function<TestKey()> make;
};

class SignVerify : public ::testing::TestWithParam<AlgCase> {};

TEST_P(SignVerify, ImportsTheJwkAndVerifiesOnlyTheRightSignature) {
  const auto& c = GetParam();
  TestKey key = c.make();
  auto jwk = import_jwk(public_jwk(key, "k1"));
  ASSERT_TRUE(jwk) << jwk.error().message;
  auto alg = parse_alg(c.alg);
  ASSERT_TRUE(alg);
  EXPECT_TRUE(key_fits_alg(*jwk, *alg));
  std::string input = "header.payload";
  std::string sig = raw_sign(c.alg, key, input);
  EXPECT_TRUE(verify_signature(*alg, jwk->key.get(), input, sig));
  EXPECT_FALSE(verify_signature(*alg, jwk->key.get(), "header.payloaX", sig));
  std::string flipped = sig;
  flipped[flipped.size() / 2] ^= 1;
  EXPECT_FALSE(verify_signature(*alg, jwk->key.get(), input, flipped));
  EXPECT_FALSE(verify_signature(*alg, jwk->key.get(), input, sig.substr(0, sig.size() - 1)));
  // Another key of the same type does not verify it.
  auto other = import_jwk(public_jwk(c.make(), "k2"));
  ASSERT_TRUE(other);
  EXPECT_FALSE(verify_signature(*alg, other->key.get(), input, sig));
}

INSTANTIATE_TEST_SUITE_P(
    Algorithms, SignVerify,
    ::testing::Values(AlgCase{"RS256", [] { return make_rsa(); }}, AlgCase{"RS384", [] { return make_rsa(); }},
                      AlgCase{"RS512", [] { return make_rsa(); }}, AlgCase{"PS256", [] { return make_rsa(); }},
                      AlgCase{"PS384", [] { return make_rsa(); }}, AlgCase{"PS512", [] { return make_rsa(); }},
                      AlgCase{"ES256", [] { return make_ec("P-256"); }}, AlgCase{"ES384", [] { return make_ec("P-384"); }},
                      AlgCase{"EdDSA", [] { return make_ed25519(); }}),
    [](const auto& info) { return info.param.alg; });

TEST(Jwk, KeyTypeAndCurveMustFitTheAlgorithm) {
  auto rsa = import_jwk(public_jwk(make_rsa(), "r"));
  auto ec = import_jwk(public_jwk(make_ec("P-256"), "e"));
  auto ed = import_jwk(public_jwk(make_ed25519(), "d"));
  ASSERT_TRUE(rsa && ec && ed);
  EXPECT_FALSE(key_fits_alg(*rsa, JwsAlg::ES256));
  EXPECT_FALSE(key_fits_alg(*ec, JwsAlg::RS256));
  EXPECT_FALSE(key_fits_alg(*ec, JwsAlg::ES384)) << "P-256 key with ES384";
  EXPECT_FALSE(key_fits_alg(*ed, JwsAlg::ES256));
  rsa->alg = "PS256";
  EXPECT_FALSE(key_fits_alg(*rsa, JwsAlg::RS256)) << "a key pinned to one alg is not used with another";
  EXPECT_TRUE(key_fits_alg(*rsa, JwsAlg::PS256));
}

TEST(Jwk, RefusesWeakSymmetricAndMalformedKeys) {
  EXPECT_FALSE(import_jwk(public_jwk(make_rsa(1024), "weak"))) << "RFC 7518 §3.3: at least 2048 bits";
  EXPECT_FALSE(import_jwk(json::object{{"kty", "oct"}, {"k", "c2VjcmV0"}}));
  auto ec = public_jwk(make_ec("P-256"), "e");
  ec["x"] = core::base64url_encode(std::string(32, '\x01'));
  EXPECT_FALSE(import_jwk(ec)) << "a point not on the curve";
  auto short_ec = public_jwk(make_ec("P-256"), "e");
  short_ec["y"] = core::base64url_encode(std::string(31, '\x01'));
  EXPECT_FALSE(import_jwk(short_ec));
  auto enc = public_jwk(make_ed25519(), "x");
  enc["use"] = "enc";
  EXPECT_FALSE(import_jwk(enc));
  auto ops = public_jwk(make_ed25519(), "x");
  ops["key_ops"] = json::array{"encrypt"};
  EXPECT_FALSE(import_jwk(ops));
  EXPECT_FALSE(import_jwk(json::object{{"kty", "RSA"}}));
}

TEST(Jwk, ASetSkipsBadKeysAndKeepsGoodOnes) {
  std::size_t skipped = 0;
  auto set = import_jwk_set(jwks({public_jwk(make_ed25519(), "a"), json::object{{"kty", "oct"}}}), &skipped);
  ASSERT_TRUE(set);
  EXPECT_EQ(set->size(), 1u);
  EXPECT_EQ(skipped, 1u);
  EXPECT_FALSE(import_jwk_set(R"({"nokeys":[]})"));
  EXPECT_FALSE(import_jwk_set(R"({"keys":[],"keys":[]})"));
}

TEST(Jws, EcdsaSignatureMustBeFixedSizeRS) {
  TestKey key = make_ec("P-256");
  auto jwk = import_jwk(public_jwk(key, "k"));
  ASSERT_TRUE(jwk);
  // A DER signature (what a sloppy signer emits) is not a JWS ES256 signature.
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key.pkey.get());
  size_t len = 0;
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>("x"), 1);
  std::string der(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &len, reinterpret_cast<const unsigned char*>("x"), 1);
  der.resize(len);
  EVP_MD_CTX_free(ctx);
  EXPECT_FALSE(verify_signature(JwsAlg::ES256, jwk->key.get(), "x", der));
  EXPECT_TRUE(verify_signature(JwsAlg::ES256, jwk->key.get(), "x", raw_sign("ES256", key, "x")));
}

TEST(Jws, AlgNamesAreExact) {
  EXPECT_FALSE(parse_alg("none"));
  EXPECT_FALSE(parse_alg("HS256"));
  EXPECT_FALSE(parse_alg("rs256"));
  EXPECT_FALSE(parse_alg("ES512"));
  EXPECT_EQ(parse_alg("EdDSA"), JwsAlg::EdDSA);
}

}  // namespace
}  // namespace bastion::auth
