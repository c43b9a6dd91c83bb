// The authorization server's token-signing keys: ES256 (P-256, the default) or EdDSA (Ed25519).
// Generated with OpenSSL EVP, persisted (a PEM file of mode 0600 under <data_dir>/keys, or the
// in-memory store in tests), rotated after `rotation_period`, and published as a JWKS that keeps
// the previous key until every token it signed has expired (retired_at + access-token lifetime),
// so a resource server never sees a valid token whose key it cannot find.
//
// Thread safety: all members lock one mutex.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "authserver/oauth_common.hpp"
#include "authserver/store.hpp"
#include "core/result.hpp"

namespace bastion::authserver {

enum class SigningAlgorithm { es256, eddsa };
std::string_view jws_alg(SigningAlgorithm algorithm);  // "ES256" / "EdDSA"

struct SigningKeysOptions {
  SigningAlgorithm algorithm = SigningAlgorithm::es256;
  std::chrono::seconds rotation_period{std::chrono::hours(24 * 30)};
  // How long a retired key stays published: the longest lifetime of a token it signed.
  std::chrono::seconds token_lifetime{std::chrono::minutes(10)};
  std::string key_dir;  // where PEM files go; "" with an in-memory store
  // Called (under the keys' lock: keep it short) with the new kid after each rotation.
  std::function<void(const std::string& kid)> on_rotated;
};

class SigningKeys {
 public:
  // Loads the stored keys (and their PEM files), or generates the first key. Fails when a stored
  // key cannot be read back (fail closed: never silently replace keys tokens depend on).
  static Result<std::unique_ptr<SigningKeys>> open(Store& store, SigningKeysOptions options, Clock::time_point now);
  ~SigningKeys();

  // Compact JWS (RFC 7515 §7.1) over `payload_json` with header {"alg","kid","typ"}. Rotates
  // first when the current key is older than the rotation period.
  Result<std::string> sign(std::string_view typ, std::string_view payload_json, Clock::time_point now);

  // {"keys":[...]}: the current key and every retired key still within its grace period.
  std::string jwks_json(Clock::time_point now);

  // Starts a new key now (the current one is retired). Exposed for tests and operators.
  Result<void> rotate(Clock::time_point now);

  std::string current_kid();
  std::size_t published_key_count(Clock::time_point now);

 private:
  struct Key;
  SigningKeys(Store& store, SigningKeysOptions options);
  Result<void> generate_locked(Clock::time_point now);
  void prune_locked(Clock::time_point now);

  std::mutex mutex_;
  Store& store_;
  SigningKeysOptions options_;
  std::vector<std::shared_ptr<Key>> keys_;  // oldest first; the last one signs
};

// Verifies a compact JWS made by sign() against the public JWK set this class publishes. Used
// by unit tests (and usable by the resource server's tests); the production verifier is the
// resource server's own.
bool verify_jws_for_tests(const std::string& jwks_json, const std::string& jws);

}  // namespace bastion::authserver
