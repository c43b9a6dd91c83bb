#include "auth/auth_types.hpp"

namespace bastion::auth {

std::optional<ClaimsProfile> parse_profile(std::string_view name) {
  if (name == "generic") return ClaimsProfile::generic;
  if (name == "keycloak") return ClaimsProfile::keycloak;
  if (name == "entra") return ClaimsProfile::entra;
  if (name == "auth0") return ClaimsProfile::auth0;
  if (name == "okta") return ClaimsProfile::okta;
  return std::nullopt;
}

std::string_view to_string(ClaimsProfile profile) {
  switch (profile) {
    case ClaimsProfile::generic: return "generic";
    case ClaimsProfile::keycloak: return "keycloak";
    case ClaimsProfile::entra: return "entra";
    case ClaimsProfile::auth0: return "auth0";
    case ClaimsProfile::okta: return "okta";
  }
  return "generic";
}

std::string_view to_string(AuthFailureReason reason) {
  switch (reason) {
    case AuthFailureReason::missing_token: return "missing_token";
    case AuthFailureReason::malformed_request: return "malformed_request";
    case AuthFailureReason::token_in_query: return "token_in_query";
    case AuthFailureReason::token_in_body: return "token_in_body";
    case AuthFailureReason::token_too_large: return "token_too_large";
    case AuthFailureReason::malformed_token: return "malformed_token";
    case AuthFailureReason::unsupported_algorithm: return "unsupported_algorithm";
    case AuthFailureReason::unknown_issuer: return "unknown_issuer";
    case AuthFailureReason::unknown_key: return "unknown_key";
    case AuthFailureReason::bad_signature: return "bad_signature";
    case AuthFailureReason::expired: return "expired";
    case AuthFailureReason::not_yet_valid: return "not_yet_valid";
    case AuthFailureReason::issued_in_future: return "issued_in_future";
    case AuthFailureReason::wrong_audience: return "wrong_audience";
    case AuthFailureReason::wrong_type: return "wrong_type";
    case AuthFailureReason::unsupported_critical: return "unsupported_critical";
    case AuthFailureReason::missing_claim: return "missing_claim";
    case AuthFailureReason::issuer_unavailable: return "issuer_unavailable";
    case AuthFailureReason::inactive_token: return "inactive_token";
    case AuthFailureReason::insufficient_scope: return "insufficient_scope";
    case AuthFailureReason::session_mismatch: return "session_mismatch";
    case AuthFailureReason::deferred: return "deferred";
    case AuthFailureReason::count_: break;
  }
  return "unknown";
}

}  // namespace bastion::auth
