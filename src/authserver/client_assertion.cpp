#include "authserver/client_assertion.hpp"

#include <boost/json.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/ecdsa_signature.hpp"
#include "core/base64.hpp"

namespace bastion::authserver {

namespace json = boost::json;

namespace {

constexpr std::int64_t kSkewSeconds = 60;
constexpr std::int64_t kMaxLifetimeSeconds = 600;

std::optional<json::object> decode_part(std::string_view part) {
  auto bytes = core::base64url_decode(part);
  if (!bytes || bytes->size() > 8 * 1024) return std::nullopt;
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = 8;
  auto v = json::parse(*bytes, ec, {}, options);
  if (ec || !v.is_object()) return std::nullopt;
  return v.as_object();
}

std::optional<std::int64_t> number_claim(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() < static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(v->as_uint64());
  if (v->is_double()) return static_cast<std::int64_t>(v->as_double());
  return std::nullopt;
}

std::string string_claim(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

std::optional<PublicKey> PublicKey::from_pem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return std::nullopt;
  EVP_PKEY* raw = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (raw == nullptr) return std::nullopt;
  PublicKey key;
  key.key_ = std::shared_ptr<void>(raw, [](void* p) { EVP_PKEY_free(static_cast<EVP_PKEY*>(p)); });
  if (EVP_PKEY_is_a(raw, "EC")) {
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(raw, "group", group, sizeof group, &len) != 1 || std::string(group) != "prime256v1") {
      return std::nullopt;
    }
    key.algorithm_ = "ES256";
  } else if (EVP_PKEY_is_a(raw, "ED25519")) {
    key.algorithm_ = "EdDSA";
  } else if (EVP_PKEY_is_a(raw, "RSA")) {
    if (EVP_PKEY_get_bits(raw) < 2048) return std::nullopt;
    key.algorithm_ = "RS256";
  } else {
    return std::nullopt;
  }
  return key;
}

bool PublicKey::verify(std::string_view signing_input, std::string_view signature) const {
  auto* pkey = static_cast<EVP_PKEY*>(key_.get());
  std::string sig(signature);
  if (algorithm_ == "ES256") {
    // RFC 7518 §3.4: R || S, 32 bytes each -> DER for OpenSSL.
    auto der = core::ecdsa_raw_to_der(sig, 32);
    if (!der) return false;
    sig = std::move(*der);
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return false;
  const EVP_MD* md = algorithm_ == "EdDSA" ? nullptr : EVP_sha256();
  const bool ok = EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, pkey) == 1 &&
                  EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                                   reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

std::string ClientAssertionVerifier::unverified_issuer(std::string_view assertion) {
  const auto a = assertion.find('.');
  const auto b = a == std::string_view::npos ? a : assertion.find('.', a + 1);
  if (b == std::string_view::npos) return {};
  auto claims = decode_part(assertion.substr(a + 1, b - a - 1));
  return claims ? string_claim(*claims, "iss") : std::string();
}

std::string ClientAssertionVerifier::verify(std::string_view assertion, const std::string& client_id, const PublicKey& key,
                                            const std::string& token_endpoint, const std::string& issuer,
                                            Clock::time_point now) {
  if (assertion.size() > 8 * 1024) return "the client assertion is too large";
  const auto a = assertion.find('.');
  const auto b = a == std::string_view::npos ? a : assertion.find('.', a + 1);
  if (b == std::string_view::npos || assertion.find('.', b + 1) != std::string_view::npos) return "the client assertion is not a compact JWS";
  auto header = decode_part(assertion.substr(0, a));
  auto claims = decode_part(assertion.substr(a + 1, b - a - 1));
  auto signature = core::base64url_decode(assertion.substr(b + 1));
  if (!header || !claims || !signature) return "the client assertion is malformed";
  // The algorithm is the key's, never the token's choice (RFC 8725 §3.1: no "none", no
  // algorithm confusion).
  if (string_claim(*header, "alg") != key.algorithm()) return "the client assertion's algorithm does not fit the registered key";
  if (header->contains("crit")) return "the client assertion has critical header parameters";
  if (!key.verify(assertion.substr(0, b), *signature)) return "the client assertion's signature does not verify";

  // RFC 7523 §3: iss and sub are the client_id.
  if (string_claim(*claims, "iss") != client_id || string_claim(*claims, "sub") != client_id) {
    return "the client assertion's iss and sub must be the client_id";
  }
  // aud: the token endpoint URL, or the issuer identifier (RFC 7523 §3 item 3; the issuer is
  // what draft-ietf-oauth-rfc7523bis recommends).
  bool audience = false;
  if (const json::value* aud = claims->if_contains("aud")) {
    auto matches = [&](const json::value& v) {
      return v.is_string() && (v.as_string() == token_endpoint || v.as_string() == issuer);
    };
    if (aud->is_array()) {
      for (const auto& v : aud->as_array()) audience = audience || matches(v);
    } else {
      audience = matches(*aud);
    }
  }
  if (!audience) return "the client assertion is not addressed to this server";
  const std::int64_t t = unix_seconds(now);
  const auto exp = number_claim(*claims, "exp");
  if (!exp || *exp <= t - kSkewSeconds) return "the client assertion has expired";
  if (*exp > t + kMaxLifetimeSeconds) return "the client assertion lives too long";
  if (auto nbf = number_claim(*claims, "nbf"); nbf && *nbf > t + kSkewSeconds) return "the client assertion is not valid yet";
  if (auto iat = number_claim(*claims, "iat"); iat && *iat > t + kSkewSeconds) return "the client assertion was issued in the future";
  const std::string jti = string_claim(*claims, "jti");
  if (jti.empty() || jti.size() > 256) return "the client assertion needs a jti";

  // RFC 7523 §3 item 7: a jti is used once. Remembered until its exp; the cache is bounded and,
  // when full of live entries, refuses (fail closed) instead of forgetting.
  std::lock_guard lock(mutex_);
  for (auto it = seen_.begin(); it != seen_.end();) {
    if (it->second + kSkewSeconds < t) it = seen_.erase(it);
    else ++it;
  }
  const std::string key_id = client_id + " " + jti;
  if (seen_.contains(key_id)) return "the client assertion was used before";
  if (seen_.size() >= max_remembered_) return "too many client assertions in flight; try again shortly";
  seen_.emplace(key_id, *exp);
  return {};
}

}  // namespace bastion::authserver
