// Plain types shared by the resource-server pieces: the runtime settings of one trusted issuer
// (built from YAML by the app, or by hand for the embedded authorization server) and the
// reasons an authentication can fail (counted in stats, reported to the event callback; a
// reason never contains token bytes).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/jose.hpp"

namespace bastion::auth {

// How a token's claims become a Principal (profiles.hpp).
enum class ClaimsProfile { generic, keycloak, entra, auth0, okta };
std::optional<ClaimsProfile> parse_profile(std::string_view name);
std::string_view to_string(ClaimsProfile profile);

// RFC 7662 introspection of opaque tokens, with client authentication (client_secret_basic).
struct IntrospectionSettings {
  std::string endpoint;       // empty: taken from the issuer's metadata (introspection_endpoint)
  std::string client_id;
  std::string client_secret;  // resolved secret; never logged or dumped
  std::chrono::seconds max_cache{60};  // an active answer is reused at most this long (and never past exp)
};

// One trusted issuer. A plain struct on purpose: the app builds it from config, and the
// embedded authorization server's wiring can build one by hand (its loopback http issuer).
struct IssuerSettings {
  std::string name;    // config handle, referenced by routes
  std::string issuer;  // exact `iss` value; for the entra profile may contain "{tenantid}"
  std::string jwks_uri;          // empty: discovered from the issuer's metadata
  bool discovery = true;         // when jwks_uri is empty
  std::vector<JwsAlg> algorithms{JwsAlg::RS256};  // per-issuer allow-list (RFC 8725 §3.1)
  std::vector<std::string> audiences;              // accepted besides the route's canonical URI
  ClaimsProfile profile = ClaimsProfile::generic;
  bool allow_http_loopback = false;  // development: http:// metadata/JWKS on 127.0.0.0/8 or ::1
  std::string ca_file;               // extra trust anchor for the issuer's TLS
  std::chrono::seconds refresh_interval{300};
  std::chrono::seconds unknown_kid_refetch_interval{30};
  std::chrono::seconds max_staleness{24 * 3600};
  std::chrono::seconds clock_skew{60};
  bool require_at_jwt = false;  // RFC 9068 §2.1: typ must be at+jwt
  std::chrono::milliseconds fetch_timeout{3000};
  std::optional<IntrospectionSettings> introspection;
};

enum class AuthFailureReason : std::size_t {
  missing_token,
  malformed_request,     // bad Authorization syntax, several Authorization headers
  token_in_query,        // RFC 6750 §2.3 access_token in the URI: refused
  token_in_body,         // RFC 6750 §2.2 form body: refused (header only)
  token_too_large,
  malformed_token,
  unsupported_algorithm,
  unknown_issuer,
  unknown_key,
  bad_signature,
  expired,
  not_yet_valid,
  issued_in_future,
  wrong_audience,
  wrong_type,
  unsupported_critical,
  missing_claim,
  issuer_unavailable,    // no usable keys / introspection unreachable
  inactive_token,        // introspection said active: false
  insufficient_scope,
  session_mismatch,
  // Not a failure: verifying needs the network (introspection, a JWKS fetch) and the caller
  // asked not to block; it retries off the I/O thread. Never answered, never counted.
  deferred,
  count_
};
std::string_view to_string(AuthFailureReason reason);

// The verdict on a token that is not good, and how it is answered.
struct AuthFailure {
  AuthFailureReason reason;
  int status = 401;  // 400 invalid_request, 401 invalid_token or no error, 403 insufficient_scope
};

}  // namespace bastion::auth
