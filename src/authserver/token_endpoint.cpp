#include "authserver/token_endpoint.hpp"

#include <boost/json.hpp>
#include <boost/url.hpp>

#include <algorithm>

#include "core/base64.hpp"
#include "core/random.hpp"

namespace bastion::authserver {

namespace json = boost::json;
namespace urls = boost::urls;

namespace {

constexpr std::size_t kMaxTokenBodyBytes = 16 * 1024;

http::Response method_not_allowed() {
  http::Response response = oauth_error(405, "invalid_request", "use POST");
  response.headers.set("Allow", "POST");
  return response;
}

http::Response from_failure(const OAuthFailure& f, bool basic_used) {
  http::Response response = oauth_error(f.status, f.error, f.description);
  // RFC 6749 §5.2: a 401 after HTTP authentication MUST carry WWW-Authenticate for that scheme.
  if (f.status == 401 && basic_used) response.headers.set("WWW-Authenticate", "Basic realm=\"bastion\"");
  return response;
}

std::optional<std::string> form_decode(std::string_view text) {
  auto pct = urls::make_pct_string_view(text);
  if (!pct) return std::nullopt;
  std::string out;
  urls::encoding_opts opts(true);
  out.resize(pct->decoded_size());
  // decode() with '+' as space, as application/x-www-form-urlencoded wants (RFC 6749 §2.3.1).
  out = pct->decode(opts);
  return out;
}

bool scopes_subset(const std::vector<std::string>& wanted, const std::vector<std::string>& allowed) {
  return std::all_of(wanted.begin(), wanted.end(),
                     [&](const std::string& s) { return std::find(allowed.begin(), allowed.end(), s) != allowed.end(); });
}

}  // namespace

OAuthResult<Client> TokenEndpoint::authenticate_client(const http::Request& request, const Form& form) {
  const std::string* authorization = request.headers.find("Authorization");
  const std::string form_id = form_value(form, "client_id");
  const std::string form_secret = form_value(form, "client_secret");
  const std::string assertion_type = form_value(form, "client_assertion_type");
  const std::string assertion = form_value(form, "client_assertion");
  if (!assertion_type.empty() || !assertion.empty()) {
    // RFC 7523 §2.2 / RFC 7521 §4.2: JWT client authentication, and no other method with it.
    if (authorization != nullptr || !form_secret.empty()) {
      return std::unexpected(OAuthFailure{"invalid_request", "use one client authentication method", 400});
    }
    if (assertion_type != kJwtBearerAssertionType || assertion.empty()) {
      return std::unexpected(OAuthFailure{"invalid_client", "unsupported client assertion", 401});
    }
    const std::string id = form_id.empty() ? ClientAssertionVerifier::unverified_issuer(assertion) : form_id;
    if (id.empty()) return std::unexpected(OAuthFailure{"invalid_client", "client authentication failed", 401});
    auto client = context_.clients->find(id, context_.now(), request.remote_address);
    if (!client || client->token_endpoint_auth_method != "private_key_jwt" || !client->public_key) {
      return std::unexpected(OAuthFailure{"invalid_client", "client authentication failed", 401});
    }
    const std::string issuer = context_.issuer();
    const std::string problem = context_.assertions.verify(assertion, client->client_id, *client->public_key,
                                                           issuer + "/oauth/token", issuer, context_.now());
    if (!problem.empty()) return std::unexpected(OAuthFailure{"invalid_client", problem, 401});
    return client;
  }
  std::string client_id;
  std::string secret;
  std::string method;
  if (authorization != nullptr) {
    // RFC 6749 §2.3: a client MUST NOT use more than one authentication method per request.
    if (!form_secret.empty()) return std::unexpected(OAuthFailure{"invalid_request", "use one client authentication method", 400});
    std::string_view value = *authorization;
    if (value.size() < 6 || !http::iequals(value.substr(0, 6), "Basic ")) {
      return std::unexpected(OAuthFailure{"invalid_client", "unsupported client authentication", 401});
    }
    auto decoded = core::base64_decode(value.substr(6));
    const auto colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos) return std::unexpected(OAuthFailure{"invalid_client", "malformed Basic credentials", 401});
    auto id = form_decode(std::string_view(*decoded).substr(0, colon));
    auto pw = form_decode(std::string_view(*decoded).substr(colon + 1));
    if (!id || !pw) return std::unexpected(OAuthFailure{"invalid_client", "malformed Basic credentials", 401});
    if (!form_id.empty() && form_id != *id) return std::unexpected(OAuthFailure{"invalid_request", "client_id differs from the authenticated client", 400});
    client_id = *id;
    secret = *pw;
    method = "client_secret_basic";
  } else if (!form_secret.empty()) {
    client_id = form_id;
    secret = form_secret;
    method = "client_secret_post";
  } else {
    client_id = form_id;
    method = "none";
  }
  if (client_id.empty()) return std::unexpected(OAuthFailure{"invalid_client", "client authentication is required", 401});
  auto client = context_.clients->find(client_id, context_.now(), request.remote_address);
  if (!client) return std::unexpected(OAuthFailure{"invalid_client", "client authentication failed", 401});
  // The client must authenticate the way it registered; a confidential client cannot fall back
  // to "none" (fail closed), and a public client has no secret to present.
  if (client->token_endpoint_auth_method != method) {
    return std::unexpected(OAuthFailure{"invalid_client", "client authentication failed", 401});
  }
  if (method != "none" && !context_.clients->secret_matches(*client, secret)) {
    return std::unexpected(OAuthFailure{"invalid_client", "client authentication failed", 401});
  }
  return client;
}

http::Response TokenEndpoint::token(const http::Request& request) {
  if (request.method != "POST") return method_not_allowed();
  if (!is_form_content_type(request)) {
    return oauth_error(400, "invalid_request", "the body must be application/x-www-form-urlencoded");
  }
  if (request.body.size() > kMaxTokenBodyBytes) return oauth_error(400, "invalid_request", "the request is too large");
  auto form = parse_form(request.body);
  // RFC 6749 §3.2: parameters MUST NOT be included more than once.
  if (!form) return oauth_error(400, "invalid_request", "a parameter is repeated or malformed");
  auto client = authenticate_client(request, *form);
  if (!client) return from_failure(client.error(), request.headers.find("Authorization") != nullptr);
  const std::string grant = form_value(*form, "grant_type");
  if (grant == "authorization_code") return authorization_code_grant(request, *form, *client);
  if (grant == "refresh_token") return refresh_token_grant(request, *form, *client);
  if (grant == "client_credentials") return client_credentials_grant(*form, *client);
  if (grant.empty()) return oauth_error(400, "invalid_request", "grant_type is required");
  return oauth_error(400, "unsupported_grant_type", "supported: authorization_code, refresh_token, client_credentials");
}

http::Response TokenEndpoint::authorization_code_grant(const http::Request& request, const Form& form, const Client& client) {
  if (!client.allows_grant("authorization_code")) {
    return oauth_error(400, "unauthorized_client", "this client may not use the authorization code grant");
  }
  const std::string code_value = form_value(form, "code");
  auto code = context_.redeem_code(code_value);
  if (!code) return oauth_error(400, "invalid_grant", "the authorization code is invalid or expired");
  if (code->used) {
    // RFC 6749 §4.1.2 / OAuth 2.1 §4.1.3: a code used twice MUST be refused, and the tokens issued
    // on its first use SHOULD be revoked (someone else holds the code).
    std::size_t revoked = 0;
    if (!code->refresh_family.empty()) revoked = context_.store->revoke_family(code->refresh_family);
    context_.emit({SecurityEventKind::authorization_code_reuse_detected, client.client_id, code->subject,
                   request.remote_address, "refresh tokens revoked: " + std::to_string(revoked)});
    return oauth_error(400, "invalid_grant", "the authorization code was already used");
  }
  if (code->expires <= context_.now()) return oauth_error(400, "invalid_grant", "the authorization code is invalid or expired");
  if (code->client_id != client.client_id) return oauth_error(400, "invalid_grant", "the authorization code was issued to another client");
  const std::string redirect_uri = form_value(form, "redirect_uri");
  if (!redirect_uri.empty() && redirect_uri != code->redirect_uri) {
    return oauth_error(400, "invalid_grant", "redirect_uri differs from the authorization request");
  }
  // RFC 7636 §4.6.
  if (!pkce_s256_matches(form_value(form, "code_verifier"), code->code_challenge)) {
    return oauth_error(400, "invalid_grant", "PKCE verification failed");
  }
  // RFC 8707 §2.2: a resource in the token request must be one the grant covers.
  const std::string resource = form_value(form, "resource");
  if (!resource.empty()) {
    auto canonical = context_.allowed_resource(resource);
    if (!canonical || *canonical != code->resource) {
      return oauth_error(400, "invalid_target", "the resource differs from the one authorized");
    }
  }
  const std::string family = core::random_base64url(16);
  if (client.allows_grant("refresh_token")) context_.set_code_family(code_value, family);
  return issue_tokens(client, code->subject, code->resource, code->scope,
                      client.allows_grant("refresh_token") ? &family : nullptr);
}

http::Response TokenEndpoint::refresh_token_grant(const http::Request& request, const Form& form, const Client& client) {
  if (!client.allows_grant("refresh_token")) return oauth_error(400, "unauthorized_client", "this client may not refresh tokens");
  const std::string token = form_value(form, "refresh_token");
  if (token.empty() || token.size() > 256) return oauth_error(400, "invalid_request", "refresh_token is required");
  const std::string hash = sha256_hex(token);
  auto record = context_.store->refresh(hash);
  if (!record || record->revoked) return oauth_error(400, "invalid_grant", "the refresh token is invalid");
  // RFC 6749 §6: the refresh token is bound to the client it was issued to.
  if (record->client_id != client.client_id) return oauth_error(400, "invalid_grant", "the refresh token is invalid");
  // OAuth 2.1 §4.3.1 / RFC 9700 §4.14.2: a rotated token presented again means two parties hold
  // it; revoke the whole family so that neither can go on.
  if (record->used || !context_.store->mark_refresh_used(hash)) {
    const std::size_t revoked = context_.store->revoke_family(record->family_id);
    context_.emit({SecurityEventKind::refresh_token_reuse_detected, client.client_id, record->subject,
                   request.remote_address, "tokens revoked: " + std::to_string(revoked)});
    return oauth_error(400, "invalid_grant", "the refresh token was already used; the grant is revoked");
  }
  if (record->expires_at <= unix_seconds(context_.now())) return oauth_error(400, "invalid_grant", "the refresh token expired");
  std::string scope = record->scope;
  if (auto requested = form_value(form, "scope"); !requested.empty()) {
    auto wanted = parse_scope(requested);
    auto have = parse_scope(record->scope);
    // RFC 6749 §6: the scope may shrink, never grow.
    if (!wanted || !have || !scopes_subset(*wanted, *have)) {
      return oauth_error(400, "invalid_scope", "the scope exceeds the original grant");
    }
    scope = join_scope(*wanted);
  }
  if (auto resource = form_value(form, "resource"); !resource.empty()) {
    auto canonical = context_.allowed_resource(resource);
    if (!canonical || *canonical != record->resource) {
      return oauth_error(400, "invalid_target", "the resource differs from the one authorized");
    }
  }
  return issue_tokens(client, record->subject, record->resource, scope, &record->family_id);
}

http::Response TokenEndpoint::client_credentials_grant(const Form& form, const Client& client) {
  // RFC 6749 §4.4: confidential clients only.
  if (client.is_public() || !client.allows_grant("client_credentials")) {
    return oauth_error(400, "unauthorized_client", "this client may not use the client credentials grant");
  }
  const std::string resource_param = form_value(form, "resource");
  if (resource_param.empty()) return oauth_error(400, "invalid_target", "the resource parameter (RFC 8707) is required");
  auto resource = context_.allowed_resource(resource_param);
  if (!resource) return oauth_error(400, "invalid_target", "tokens are not issued for that resource by this server");
  const auto& offered = client.scopes.empty() ? context_.options.scopes : client.scopes;
  auto wanted = parse_scope(form_value(form, "scope"));
  if (!wanted || !scopes_subset(*wanted, offered)) return oauth_error(400, "invalid_scope", "a requested scope is not offered to this client");
  std::vector<std::string> scopes = wanted->empty() ? offered : *wanted;
  std::sort(scopes.begin(), scopes.end());
  // RFC 9068 §2.2: with no resource owner, sub is the client's own identifier.
  return issue_tokens(client, client.client_id, *resource, join_scope(scopes), nullptr);
}

http::Response TokenEndpoint::issue_tokens(const Client& client, const std::string& subject, const std::string& resource,
                                           const std::string& scope, const std::string* refresh_family) {
  const auto now = context_.now();
  const std::int64_t iat = unix_seconds(now);
  const std::int64_t ttl = context_.options.access_token_ttl.count();
  json::object claims;  // RFC 9068 §2.2
  claims["iss"] = context_.issuer();
  claims["sub"] = subject;
  claims["aud"] = resource;
  claims["exp"] = iat + ttl;
  claims["iat"] = iat;
  claims["nbf"] = iat;
  claims["jti"] = core::random_base64url(16);
  claims["client_id"] = client.client_id;
  if (!scope.empty()) claims["scope"] = scope;
  auto jwt = context_.keys->sign("at+jwt", json::serialize(claims), now);
  if (!jwt) return oauth_error(500, "server_error", "the token could not be signed");

  json::object body;
  body["access_token"] = *jwt;
  body["token_type"] = "Bearer";
  body["expires_in"] = ttl;
  if (!scope.empty()) body["scope"] = scope;
  if (refresh_family != nullptr) {
    RefreshRecord record;
    const std::string token = core::random_base64url(32);
    record.token_hash = sha256_hex(token);
    record.family_id = *refresh_family;
    record.client_id = client.client_id;
    record.subject = subject;
    record.scope = scope;
    record.resource = resource;
    record.issued_at = iat;
    record.expires_at = iat + context_.options.refresh_token_ttl.count();
    if (!context_.store->put_refresh(record)) return oauth_error(500, "server_error", "the grant could not be stored");
    // Expired refresh tokens are useless (a reuse after expiry is refused as expired anyway):
    // sweep them now and then so the table does not grow with every grant ever made.
    if (++issued_refresh_ % 256 == 0) context_.store->purge_expired_refresh(iat);
    body["refresh_token"] = token;
  }
  return no_store_json(200, json::serialize(body));
}

http::Response TokenEndpoint::revoke(const http::Request& request) {
  if (request.method != "POST") return method_not_allowed();
  if (!is_form_content_type(request)) return oauth_error(400, "invalid_request", "the body must be application/x-www-form-urlencoded");
  if (request.body.size() > kMaxTokenBodyBytes) return oauth_error(400, "invalid_request", "the request is too large");
  auto form = parse_form(request.body);
  if (!form) return oauth_error(400, "invalid_request", "a parameter is repeated or malformed");
  // RFC 7009 §2.1: the client authenticates as at the token endpoint.
  auto client = authenticate_client(request, *form);
  if (!client) return from_failure(client.error(), request.headers.find("Authorization") != nullptr);
  const std::string token = form_value(*form, "token");
  if (token.empty()) return oauth_error(400, "invalid_request", "token is required");
  // Refresh tokens are revoked with their whole family. Access tokens are self-contained JWTs
  // that live minutes; the resource server does not ask us about them, so they cannot be revoked
  // here, which RFC 7009 §2 allows. Unknown tokens get 200 too (§2.2: the client cannot act on
  // the difference, and an attacker learns nothing).
  if (token.size() <= 256) {
    auto record = context_.store->refresh(sha256_hex(token));
    if (record && record->client_id == client->client_id) {
      context_.store->revoke_family(record->family_id);
      context_.emit({SecurityEventKind::token_revoked, client->client_id, record->subject, request.remote_address, "refresh token family"});
    }
  }
  http::Response response;
  response.status = 200;
  response.headers.set("Cache-Control", "no-store");
  return response;
}

}  // namespace bastion::authserver
