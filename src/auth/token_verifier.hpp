// Verifies bearer access tokens for the routes that trust a set of issuers: JWTs (RFC 9068,
// RFC 8725) against each issuer's JWKS, opaque tokens through RFC 7662 introspection. Returns a
// Principal or the reason for refusal; never throws on token bytes and never puts a token in
// an error. Shared by all routes; one JwksCache per issuer.
#pragma once

#include <chrono>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/auth_types.hpp"
#include "auth/discovery.hpp"
#include "auth/jwks_cache.hpp"
#include "bastion/types.hpp"
#include "http/client.hpp"

namespace bastion::auth {

// What one route accepts.
struct VerifyTarget {
  std::vector<std::size_t> issuers;    // indexes into TokenVerifier's issuers
  std::vector<std::string> audiences;  // the route's canonical resource URI (RFC 8707), plus configured ones
};

struct Verified {
  std::shared_ptr<const Principal> principal;
  std::chrono::system_clock::time_point cache_until;  // exp, or the introspection cache bound
  std::size_t issuer = 0;
  bool via_jwks = false;  // a JWT checked against the issuer's key set (else introspected)
};

class TokenVerifier {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  // Throws std::invalid_argument for settings no request could ever pass (empty issuer, no
  // algorithm, a templated issuer without a jwks_uri).
  TokenVerifier(std::vector<IssuerSettings> issuers, http::Fetcher fetcher, Clock clock = {}, JoseLimits limits = {});
  ~TokenVerifier();

  // Issuers served by this very process (the embedded authorization server) only know their URL
  // once the listener is bound: "{self}" at the start of issuer, jwks_uri and introspection
  // endpoint is replaced by `origin` (e.g. http://127.0.0.1:40123). Call before start() and
  // before any request.
  void resolve_self(const std::string& origin);

  // Background JWKS refresh for every issuer.
  void start();
  void stop();

  std::optional<std::size_t> issuer_index(std::string_view name) const;
  const IssuerSettings& issuer(std::size_t index) const;
  std::size_t issuer_count() const { return issuers_.size(); }

  // `may_block` false: never touches the network; a token that needs it (opaque tokens to
  // introspect, a kid missing from the current key set, no key set yet) fails with
  // AuthFailureReason::deferred instead, for the caller to verify again off the I/O thread.
  std::expected<Verified, AuthFailure> verify(std::string_view token, const VerifyTarget& target,
                                              bool may_block = true) const;

  std::vector<std::pair<std::string, JwksStats>> jwks_stats() const;
  // Whether the issuer's key set is still within max staleness (a cached verification of a JWT
  // is honoured only while it is).
  bool keys_usable(std::size_t issuer) const;
  const JoseLimits& limits() const { return limits_; }

 private:
  struct Issuer;
  std::chrono::system_clock::time_point now() const;
  std::expected<Verified, AuthFailure> verify_jwt(std::string_view token, const VerifyTarget& target,
                                                  bool may_block) const;
  std::expected<Verified, AuthFailure> verify_opaque(std::string_view token, const VerifyTarget& target,
                                                     bool may_block) const;
  bool audience_ok(const json::value* aud, const VerifyTarget& target, const IssuerSettings& issuer) const;

  std::vector<std::unique_ptr<Issuer>> issuers_;
  http::Fetcher fetcher_;
  Clock clock_;
  JoseLimits limits_;
};

// True when `iss` is the issuer `configured`; for the entra profile a "{tenantid}" in the
// configured value matches the token's own `tid` claim (a GUID-shaped value) and nothing else.
bool issuer_matches(const IssuerSettings& configured, std::string_view iss, const json::object& claims);

}  // namespace bastion::auth
