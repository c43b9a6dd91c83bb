// Test keys and tokens made with OpenSSL in the test itself (no fixtures on disk).
#pragma once

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <boost/json.hpp>

#include <memory>
#include <stdexcept>
#include <string>

#include "core/base64.hpp"

namespace bastion::auth::testing {

namespace json = boost::json;

struct TestKey {
  std::shared_ptr<EVP_PKEY> pkey;
  std::string kty;  // RSA | EC | OKP
  std::string crv;
};

inline TestKey make_rsa(unsigned bits = 2048) {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits));
  if (!k) throw std::runtime_error("keygen");
  return {std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free), "RSA", ""};
}
inline TestKey make_ec(const std::string& crv = "P-256") {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", crv == "P-256" ? "P-256" : "P-384");
  if (!k) throw std::runtime_error("keygen");
  return {std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free), "EC", crv};
}
inline TestKey make_ed25519() {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (!k) throw std::runtime_error("keygen");
  return {std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free), "OKP", "Ed25519"};
}

inline std::string bn_param(EVP_PKEY* k, const char* name, std::size_t pad = 0) {
  BIGNUM* bn = nullptr;
  if (!EVP_PKEY_get_bn_param(k, name, &bn)) throw std::runtime_error("param");
  std::string out(std::max<std::size_t>(pad, BN_num_bytes(bn)), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
  BN_free(bn);
  return out;
}

inline json::object public_jwk(const TestKey& key, const std::string& kid) {
  json::object j{{"kty", key.kty}};
  if (!kid.empty()) j["kid"] = kid;
  if (key.kty == "RSA") {
    j["n"] = core::base64url_encode(bn_param(key.pkey.get(), OSSL_PKEY_PARAM_RSA_N));
    j["e"] = core::base64url_encode(bn_param(key.pkey.get(), OSSL_PKEY_PARAM_RSA_E));
  } else if (key.kty == "EC") {
    const std::size_t size = key.crv == "P-256" ? 32 : 48;
    j["crv"] = key.crv;
    j["x"] = core::base64url_encode(bn_param(key.pkey.get(), OSSL_PKEY_PARAM_EC_PUB_X, size));
    j["y"] = core::base64url_encode(bn_param(key.pkey.get(), OSSL_PKEY_PARAM_EC_PUB_Y, size));
  } else {
    unsigned char raw[32];
    size_t len = sizeof raw;
    EVP_PKEY_get_raw_public_key(key.pkey.get(), raw, &len);
    j["crv"] = "Ed25519";
    j["x"] = core::base64url_encode(std::string(reinterpret_cast<char*>(raw), len));
  }
  return j;
}

inline std::string jwks(std::initializer_list<json::object> keys) {
  json::array a;
  for (const auto& k : keys) a.push_back(k);
  return json::serialize(json::object{{"keys", a}});
}

// Signs `signing_input` with `alg` ("RS256", "PS384", "ES256", "EdDSA", ...).
inline std::string raw_sign(const std::string& alg, const TestKey& key, const std::string& input) {
  const EVP_MD* md = nullptr;
  if (alg.ends_with("256") && alg != "EdDSA") md = EVP_sha256();
  else if (alg.ends_with("384")) md = EVP_sha384();
  else if (alg.ends_with("512")) md = EVP_sha512();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  EVP_DigestSignInit(ctx, &pctx, md, nullptr, key.pkey.get());
  if (alg.starts_with("PS")) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  size_t len = 0;
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  if (alg.starts_with("ES")) {
    const std::size_t half = alg == "ES256" ? 32 : 48;
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string rs(2 * half, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(rs.data()), static_cast<int>(half));
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(rs.data() + half), static_cast<int>(half));
    ECDSA_SIG_free(es);
    return rs;
  }
  return sig;
}

inline std::string make_jwt_raw(const std::string& header_json, const std::string& claims_json, const std::string& alg,
                                const TestKey& key) {
  std::string input = core::base64url_encode(header_json) + "." + core::base64url_encode(claims_json);
  return input + "." + core::base64url_encode(raw_sign(alg, key, input));
}

inline std::string make_jwt(const json::object& header, const json::object& claims, const TestKey& key) {
  return make_jwt_raw(json::serialize(header), json::serialize(claims), std::string(header.at("alg").as_string()), key);
}

}  // namespace bastion::auth::testing
