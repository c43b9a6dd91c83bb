// private_key_jwt client authentication (RFC 7523 §2.2 and §3, RFC 7521 §4.2; OpenID Connect
// Core §9): a machine client signs a short-lived JWT with its private key; we verify it with the
// public key registered in the config. This is the method the MCP client-credentials extension
// recommends.
//
// Checks, all failing closed: the header's alg is one we support and fits the key type ("none"
// and HMAC are never accepted); the signature verifies; iss == sub == the client; aud names our
// token endpoint or our issuer; exp is present, in the future and at most 10 minutes away; iat
// and nbf are not in the future (60 s skew); jti is present and has not been seen before (a
// bounded replay cache keeps each jti until its exp).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "authserver/oauth_common.hpp"

namespace bastion::authserver {

// A public key from PEM (SubjectPublicKeyInfo): EC P-256, Ed25519 or RSA (2048 bits or more).
class PublicKey {
 public:
  static std::optional<PublicKey> from_pem(const std::string& pem);
  // "ES256", "EdDSA" or "RS256": the one JWS algorithm accepted with this key.
  const std::string& algorithm() const { return algorithm_; }
  // Verifies a JWS signature (raw R||S for ES256) over `signing_input`.
  bool verify(std::string_view signing_input, std::string_view signature) const;

 private:
  std::shared_ptr<void> key_;  // EVP_PKEY, freed with EVP_PKEY_free
  std::string algorithm_;
};

inline constexpr std::string_view kJwtBearerAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

class ClientAssertionVerifier {
 public:
  explicit ClientAssertionVerifier(std::size_t max_remembered = 10'000) : max_remembered_(max_remembered) {}

  // The `iss` of an assertion without verifying anything (to find the client's key), or "".
  static std::string unverified_issuer(std::string_view assertion);

  // Empty string when valid; otherwise why not (safe to show, never echoes the assertion).
  std::string verify(std::string_view assertion, const std::string& client_id, const PublicKey& key,
                     const std::string& token_endpoint, const std::string& issuer, Clock::time_point now);

 private:
  std::mutex mutex_;
  std::size_t max_remembered_;
  std::map<std::string, std::int64_t> seen_;  // client_id + " " + jti -> exp
};

}  // namespace bastion::authserver
