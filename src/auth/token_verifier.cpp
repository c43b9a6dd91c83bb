#include "auth/token_verifier.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "auth/introspection.hpp"
#include "auth/profiles.hpp"

namespace bastion::auth {

namespace {

using TimePoint = std::chrono::system_clock::time_point;

std::unexpected<AuthFailure> refuse(AuthFailureReason reason, int status = 401) {
  return std::unexpected(AuthFailure{reason, status});
}

// A NumericDate (RFC 7519 §2): a JSON number of seconds; anything else is absent.
std::optional<std::int64_t> numeric_date(const json::object& claims, std::string_view name, bool* malformed) {
  const json::value* v = claims.if_contains(name);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) {
    if (v->get_uint64() > static_cast<std::uint64_t>(INT64_MAX / 2)) *malformed = true;
    else return static_cast<std::int64_t>(v->get_uint64());
    return std::nullopt;
  }
  if (v->is_double() && std::isfinite(v->get_double()) && std::fabs(v->get_double()) < 1e15)
    return static_cast<std::int64_t>(std::floor(v->get_double()));
  *malformed = true;
  return std::nullopt;
}

std::int64_t seconds_since_epoch(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

bool is_tenant_id(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == '-'; });
}

http::ClientOptions client_options(const IssuerSettings& s) {
  http::ClientOptions o;
  o.timeout = s.fetch_timeout;
  o.max_response_bytes = 512 * 1024;
  // Issuer URLs come from the operator's config: any address, but https unless development
  // explicitly allows loopback http (MCP authorization: every AS endpoint uses HTTPS).
  o.address_policy = http::AddressPolicy::any;
  o.allow_http = false;
  o.allow_http_loopback_only = s.allow_http_loopback;
  o.ca_file = s.ca_file;
  return o;
}

}  // namespace

bool issuer_matches(const IssuerSettings& configured, std::string_view iss, const json::object& claims) {
  const std::string& want = configured.issuer;
  if (configured.profile != ClaimsProfile::entra) return iss == want;
  constexpr std::string_view kTenant = "{tenantid}";
  const auto at = want.find(kTenant);
  if (at == std::string::npos) return iss == want;
  const json::value* tid = claims.if_contains("tid");
  if (!tid || !tid->is_string() || !is_tenant_id(tid->get_string())) return false;
  std::string expected = want;
  expected.replace(at, kTenant.size(), std::string(tid->get_string()));
  return iss == expected;
}

struct TokenVerifier::Issuer {
  IssuerSettings settings;
  http::ClientOptions client;
  std::unique_ptr<JwksCache> jwks;
  mutable std::mutex meta_mutex;
  mutable std::optional<AuthorizationServerMetadata> metadata;

  // Discovery result, fetched once it succeeds.
  std::optional<AuthorizationServerMetadata> meta(const http::Fetcher& fetcher) const {
    std::lock_guard lock(meta_mutex);
    if (metadata) return metadata;
    auto found = discover(settings.issuer, fetcher, client);
    if (found) metadata = *found;
    return metadata;
  }
};

TokenVerifier::TokenVerifier(std::vector<IssuerSettings> issuers, http::Fetcher fetcher, Clock clock, JoseLimits limits)
    : fetcher_(std::move(fetcher)), clock_(std::move(clock)), limits_(limits) {
  for (auto& s : issuers) {
    if (s.issuer.empty()) throw std::invalid_argument("issuer '" + s.name + "': the issuer URL is required");
    if (s.algorithms.empty()) throw std::invalid_argument("issuer '" + s.name + "': at least one algorithm is required");
    if (s.issuer.find("{tenantid}") != std::string::npos && s.jwks_uri.empty())
      throw std::invalid_argument("issuer '" + s.name + "': a {tenantid} issuer needs jwks_uri");
    if (s.jwks_uri.empty() && !s.discovery && !s.introspection)
      throw std::invalid_argument("issuer '" + s.name + "': without discovery, jwks_uri or introspection is required");
    auto issuer = std::make_unique<Issuer>();
    issuer->settings = std::move(s);
    issuer->client = client_options(issuer->settings);
    JwksCacheOptions o;
    o.client = issuer->client;
    o.refresh_interval = issuer->settings.refresh_interval;
    o.unknown_kid_refetch_interval = issuer->settings.unknown_kid_refetch_interval;
    o.max_staleness = issuer->settings.max_staleness;
    o.failed_refresh_retry = std::min(issuer->settings.refresh_interval,
                                      std::max(std::chrono::seconds(1), issuer->settings.unknown_kid_refetch_interval));
    Issuer* raw = issuer.get();
    const http::Fetcher* fetcher_ptr = &fetcher_;
    o.locate = [raw, fetcher_ptr]() -> Result<std::string> {
      if (!raw->settings.jwks_uri.empty()) return raw->settings.jwks_uri;
      if (!raw->settings.discovery) return fail(-32001, "no jwks_uri", 503);
      auto meta = raw->meta(*fetcher_ptr);
      if (!meta || meta->jwks_uri.empty()) return fail(-32001, "discovery found no jwks_uri", 503);
      return meta->jwks_uri;
    };
    issuer->jwks = std::make_unique<JwksCache>(std::move(o), fetcher_, clock_);
    issuers_.push_back(std::move(issuer));
  }
}

TokenVerifier::~TokenVerifier() { stop(); }

void TokenVerifier::resolve_self(const std::string& origin) {
  constexpr std::string_view kSelf = "{self}";
  auto rebase = [&](std::string& url) {
    if (url.starts_with(kSelf)) url = origin + url.substr(kSelf.size());
  };
  for (auto& i : issuers_) {
    rebase(i->settings.issuer);
    rebase(i->settings.jwks_uri);
    if (i->settings.introspection) rebase(i->settings.introspection->endpoint);
  }
}

void TokenVerifier::start() {
  for (auto& i : issuers_)
    if (!i->settings.jwks_uri.empty() || i->settings.discovery) i->jwks->start();
}

void TokenVerifier::stop() {
  for (auto& i : issuers_) i->jwks->stop();
}

std::optional<std::size_t> TokenVerifier::issuer_index(std::string_view name) const {
  for (std::size_t i = 0; i < issuers_.size(); ++i)
    if (issuers_[i]->settings.name == name) return i;
  return std::nullopt;
}

const IssuerSettings& TokenVerifier::issuer(std::size_t index) const { return issuers_.at(index)->settings; }

TimePoint TokenVerifier::now() const { return clock_ ? clock_() : std::chrono::system_clock::now(); }

bool TokenVerifier::keys_usable(std::size_t issuer) const {
  return issuer < issuers_.size() && issuers_[issuer]->jwks->current() != nullptr;
}

std::vector<std::pair<std::string, JwksStats>> TokenVerifier::jwks_stats() const {
  std::vector<std::pair<std::string, JwksStats>> out;
  for (const auto& i : issuers_) out.emplace_back(i->settings.name, i->jwks->stats());
  return out;
}

std::expected<Verified, AuthFailure> TokenVerifier::verify(std::string_view token, const VerifyTarget& target,
                                                          bool may_block) const {
  // Limits before any parsing (RFC 8725 §3.x; DESIGN.md §5: every limit explicit).
  if (token.size() > limits_.max_token_bytes) return refuse(AuthFailureReason::token_too_large);
  if (std::count(token.begin(), token.end(), '.') == 2) return verify_jwt(token, target, may_block);
  return verify_opaque(token, target, may_block);
}

bool TokenVerifier::audience_ok(const json::value* aud, const VerifyTarget& target, const IssuerSettings& issuer) const {
  auto accepted = [&](std::string_view a) {
    return std::find(target.audiences.begin(), target.audiences.end(), a) != target.audiences.end() ||
           std::find(issuer.audiences.begin(), issuer.audiences.end(), a) != issuer.audiences.end();
  };
  if (!aud) return false;
  if (aud->is_string()) return accepted(aud->get_string());
  if (aud->is_array()) {
    for (const auto& a : aud->get_array())
      if (a.is_string() && accepted(a.get_string())) return true;
  }
  return false;
}

std::expected<Verified, AuthFailure> TokenVerifier::verify_jwt(std::string_view token, const VerifyTarget& target,
                                                              bool may_block) const {
  auto jws = parse_compact_jws(token, limits_);
  if (!jws) return refuse(AuthFailureReason::malformed_token);
  const json::object& header = jws->header;
  const json::object& claims = jws->claims;

  // alg: only the asymmetric algorithms we implement; "none" and HS* never (RFC 8725 §3.1).
  const json::value* alg_value = header.if_contains("alg");
  if (!alg_value || !alg_value->is_string()) return refuse(AuthFailureReason::malformed_token);
  auto alg = parse_alg(alg_value->get_string());
  if (!alg) return refuse(AuthFailureReason::unsupported_algorithm);
  // crit (RFC 7515 §4.1.11): the recipient MUST reject a JWS whose critical extensions it does
  // not understand; this verifier understands none, so any crit is refused (fail closed).
  if (header.contains("crit")) return refuse(AuthFailureReason::unsupported_critical);
  // jku, x5u, x5c and jwk are deliberately ignored: keys come only from the configured issuer's
  // JWKS, never from a location or key the token names itself (RFC 8725 §3.10, SSRF).
  std::string_view kid;
  if (const json::value* k = header.if_contains("kid")) {
    if (!k->is_string()) return refuse(AuthFailureReason::malformed_token);
    kid = k->get_string();
  }

  const json::value* iss_value = claims.if_contains("iss");
  if (!iss_value || !iss_value->is_string()) return refuse(AuthFailureReason::missing_claim);
  const Issuer* issuer = nullptr;
  std::size_t issuer_index = 0;
  for (std::size_t idx : target.issuers) {
    if (idx < issuers_.size() && issuer_matches(issuers_[idx]->settings, iss_value->get_string(), claims)) {
      issuer = issuers_[idx].get();
      issuer_index = idx;
      break;
    }
  }
  if (!issuer) return refuse(AuthFailureReason::unknown_issuer);
  const IssuerSettings& s = issuer->settings;
  if (std::find(s.algorithms.begin(), s.algorithms.end(), *alg) == s.algorithms.end())
    return refuse(AuthFailureReason::unsupported_algorithm);
  if (s.require_at_jwt) {
    // RFC 9068 §2.1 / §4: typ "at+jwt" (or "application/at+jwt"), compared case-insensitively.
    const json::value* typ = header.if_contains("typ");
    if (!typ || !typ->is_string()) return refuse(AuthFailureReason::wrong_type);
    std::string t(typ->get_string());
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (t != "at+jwt" && t != "application/at+jwt") return refuse(AuthFailureReason::wrong_type);
  }

  std::shared_ptr<const JwksSnapshot> keys;
  if (may_block) {
    keys = issuer->jwks->keys_for(kid);
  } else {
    keys = issuer->jwks->current();
    if (!keys || (!kid.empty() && !keys->has_kid(kid))) return refuse(AuthFailureReason::deferred);
  }
  if (!keys) return refuse(AuthFailureReason::issuer_unavailable, 503);
  // The key determines the algorithm (RFC 8725 §3.1): a key of another type, or one pinned to
  // another alg, is never tried, so an RSA key cannot be fed to an EC or HMAC verifier.
  constexpr int kMaxCandidates = 8;  // without kid: bound the work one token can cause
  int tried = 0;
  bool verified = false;
  for (const auto& key : keys->keys) {
    if (!kid.empty() && key.kid != kid) continue;
    if (!key_fits_alg(key, *alg)) continue;
    if (++tried > kMaxCandidates) break;
    if (verify_signature(*alg, key, jws->signing_input, jws->signature)) {
      verified = true;
      break;
    }
  }
  if (tried == 0) return refuse(AuthFailureReason::unknown_key);
  if (!verified) return refuse(AuthFailureReason::bad_signature);

  // Time claims (RFC 7519 §4.1.4-6; RFC 9068 §4: exp is required) with the configured skew.
  bool malformed = false;
  const auto exp = numeric_date(claims, "exp", &malformed);
  const auto nbf = numeric_date(claims, "nbf", &malformed);
  const auto iat = numeric_date(claims, "iat", &malformed);
  if (malformed) return refuse(AuthFailureReason::malformed_token);
  if (!exp) return refuse(AuthFailureReason::missing_claim);
  const std::int64_t t = seconds_since_epoch(now());
  const std::int64_t skew = s.clock_skew.count();
  if (t >= *exp + skew) return refuse(AuthFailureReason::expired);
  if (nbf && t + skew < *nbf) return refuse(AuthFailureReason::not_yet_valid);
  if (iat && t + skew < *iat) return refuse(AuthFailureReason::issued_in_future);
  // Audience (RFC 8707, RFC 9068 §4; MCP: MUST validate the token was issued for this server).
  if (!audience_ok(claims.if_contains("aud"), target, s)) return refuse(AuthFailureReason::wrong_audience);
  const json::value* sub = claims.if_contains("sub");
  if (!sub || !sub->is_string() || sub->get_string().empty()) return refuse(AuthFailureReason::missing_claim);

  auto principal = std::make_shared<Principal>(map_claims(s.profile, claims, std::string(iss_value->get_string())));
  principal->expires_at = TimePoint(std::chrono::seconds(*exp));
  Verified out;
  out.cache_until = principal->expires_at;
  out.principal = std::move(principal);
  out.issuer = issuer_index;
  out.via_jwks = true;
  return out;
}

std::expected<Verified, AuthFailure> TokenVerifier::verify_opaque(std::string_view token, const VerifyTarget& target,
                                                                 bool may_block) const {
  // RFC 6750 §2.1 b64token syntax was checked by the caller; opaque tokens are only good for
  // an issuer that introspects.
  bool any = false, unavailable = false;
  for (std::size_t idx : target.issuers) {
    if (idx >= issuers_.size()) continue;
    const Issuer& issuer = *issuers_[idx];
    const IssuerSettings& s = issuer.settings;
    if (!s.introspection) continue;
    if (!may_block) return refuse(AuthFailureReason::deferred);
    any = true;
    std::string endpoint = s.introspection->endpoint;
    if (endpoint.empty()) {
      auto meta = issuer.meta(fetcher_);
      if (!meta || meta->introspection_endpoint.empty()) {
        unavailable = true;
        continue;
      }
      endpoint = meta->introspection_endpoint;
    }
    auto answer = introspect(endpoint, token, *s.introspection, fetcher_, issuer.client);
    if (!answer) {
      unavailable = true;
      continue;
    }
    if (!answer->at("active").get_bool()) continue;
    const json::object& claims = *answer;
    // When the answer names an issuer it must be this one.
    if (const auto* iss = claims.if_contains("iss"); iss && (!iss->is_string() || !issuer_matches(s, iss->get_string(), claims)))
      continue;
    bool malformed = false;
    const auto exp = numeric_date(claims, "exp", &malformed);
    const auto nbf = numeric_date(claims, "nbf", &malformed);
    if (malformed) continue;
    const std::int64_t t = seconds_since_epoch(now());
    const std::int64_t skew = s.clock_skew.count();
    if (exp && t >= *exp + skew) return refuse(AuthFailureReason::expired);
    if (nbf && t + skew < *nbf) return refuse(AuthFailureReason::not_yet_valid);
    // Fail closed: an answer without an audience for this resource is not a token for us
    // (MCP: MUST NOT accept tokens not issued for this server).
    if (!audience_ok(claims.if_contains("aud"), target, s)) return refuse(AuthFailureReason::wrong_audience);
    auto principal = std::make_shared<Principal>(map_claims(s.profile, claims, s.issuer));
    if (const auto* iss = claims.if_contains("iss"); iss && iss->is_string()) principal->issuer = iss->get_string();
    if (principal->subject.empty()) {
      // RFC 7662 makes sub optional; a client-credentials token is then its client.
      if (principal->client_id.empty()) return refuse(AuthFailureReason::missing_claim);
      principal->subject = "client:" + principal->client_id;
    }
    const TimePoint n = now();
    TimePoint until = n + s.introspection->max_cache;
    if (exp) {
      principal->expires_at = TimePoint(std::chrono::seconds(*exp));
      until = std::min(until, principal->expires_at);
    } else {
      principal->expires_at = until;
    }
    Verified out;
    out.principal = std::move(principal);
    out.cache_until = until;
    out.issuer = idx;
    return out;
  }
  if (!any) return refuse(AuthFailureReason::malformed_token);
  if (unavailable) return refuse(AuthFailureReason::issuer_unavailable, 503);
  return refuse(AuthFailureReason::inactive_token);
}

}  // namespace bastion::auth
