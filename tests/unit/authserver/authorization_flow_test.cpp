// The authorization code flow end to end through AuthorizationServer::handle_sync, and every
// refusal the issue lists: wrong PKCE verifier, reused code, unregistered redirect URI, a resource
// of another server, refresh-token reuse, missing CSRF token, consent denied.
#include <gtest/gtest.h>

#include "authserver/harness.hpp"

namespace bastion::authserver::testing {
namespace {

namespace json = boost::json;

std::map<std::string, std::string> redirect_params(const http::Response& r) {
  const std::string* location = r.headers.find("Location");
  return location ? query_of(*location) : std::map<std::string, std::string>{};
}

json::object jwt_claims(const std::string& jwt) {
  const auto a = jwt.find('.');
  const auto b = jwt.find('.', a + 1);
  auto payload = core::base64url_decode(jwt.substr(a + 1, b - a - 1));
  boost::system::error_code ec;
  auto v = json::parse(payload.value_or(""), ec);
  return v.is_object() ? v.as_object() : json::object{};
}

json::object jwt_header(const std::string& jwt) {
  auto header = core::base64url_decode(jwt.substr(0, jwt.find('.')));
  boost::system::error_code ec;
  auto v = json::parse(header.value_or(""), ec);
  return v.is_object() ? v.as_object() : json::object{};
}

TEST(AuthorizationFlow, CodeFlowIssuesAnRfc9068AccessTokenAndARefreshToken) {
  Harness h;
  auto redirect = h.sign_in_and_approve(h.authorize_url());
  ASSERT_EQ(redirect.status, 303) << redirect.body;
  auto params = redirect_params(redirect);
  EXPECT_TRUE(redirect.headers.find("Location")->starts_with(std::string(kRedirect) + "?"));
  EXPECT_EQ(params["state"], "xyz");
  EXPECT_EQ(params["iss"], kIssuer);  // RFC 9207
  ASSERT_FALSE(params["code"].empty());

  auto token = h.redeem(params["code"]);
  ASSERT_EQ(token.status, 200) << token.body;
  EXPECT_EQ(*token.headers.find("Cache-Control"), "no-store");
  auto body = json_of(token);
  EXPECT_EQ(str(body, "token_type"), "Bearer");
  EXPECT_EQ(body.at("expires_in").as_int64(), 600);
  EXPECT_EQ(str(body, "scope"), "mcp mcp:admin");
  ASSERT_FALSE(str(body, "refresh_token").empty());

  const std::string jwt = str(body, "access_token");
  auto header = jwt_header(jwt);
  EXPECT_EQ(str(header, "typ"), "at+jwt");
  EXPECT_EQ(str(header, "alg"), "ES256");
  auto claims = jwt_claims(jwt);
  EXPECT_EQ(str(claims, "iss"), kIssuer);
  EXPECT_EQ(str(claims, "aud"), kResource);
  EXPECT_EQ(str(claims, "sub"), "alice");
  EXPECT_EQ(str(claims, "client_id"), kClient);
  EXPECT_EQ(str(claims, "scope"), "mcp mcp:admin");
  EXPECT_FALSE(str(claims, "jti").empty());
  EXPECT_EQ(claims.at("exp").as_int64() - claims.at("iat").as_int64(), 600);
  // The signature verifies against the published JWKS.
  auto jwks = h.request("GET", "/oauth/jwks");
  EXPECT_TRUE(verify_jws_for_tests(jwks.body, jwt));
  EXPECT_TRUE(h.saw_event(SecurityEventKind::consent_granted));
}

TEST(AuthorizationFlow, ConsentIsRememberedPerUserAndClient) {
  Harness h;
  ASSERT_EQ(h.sign_in_and_approve(h.authorize_url()).status, 303);
  // Signed in and consented: the next authorization redirects at once, without a page.
  auto again = h.request("GET", h.authorize_url());
  ASSERT_EQ(again.status, 303) << again.body;
  EXPECT_FALSE(redirect_params(again)["code"].empty());
  // prompt=consent asks again.
  auto forced = h.request("GET", h.authorize_url("&prompt=consent"));
  EXPECT_EQ(forced.status, 200);
  EXPECT_NE(forced.body.find("Allow access?"), std::string::npos);
  // Also when the sign-in happens in between (a new browser).
  h.cookies.clear();
  auto page = h.request("GET", h.authorize_url("&prompt=consent"));
  auto login = h.post_form("/oauth/login", "tx=" + hidden_field(page.body, "tx") + "&csrf=" + hidden_field(page.body, "csrf") +
                                               "&username=alice&password=" + enc(kPassword));
  ASSERT_EQ(login.status, 303);
  EXPECT_TRUE(login.headers.find("Location")->starts_with("/oauth/consent"));
}

TEST(AuthorizationFlow, WrongPkceVerifierIsInvalidGrant) {
  Harness h;
  auto code = h.code_from(h.sign_in_and_approve(h.authorize_url()));
  auto token = h.redeem(code, "another-verifier-0123456789-abcdefghijklmnopqrst");
  EXPECT_EQ(token.status, 400);
  EXPECT_EQ(str(json_of(token), "error"), "invalid_grant");
}

TEST(AuthorizationFlow, MissingVerifierIsInvalidGrant) {
  Harness h;
  auto code = h.code_from(h.sign_in_and_approve(h.authorize_url()));
  auto token = h.post_form("/oauth/token", "grant_type=authorization_code&code=" + enc(code) + "&client_id=" + kClient, {}, false);
  EXPECT_EQ(str(json_of(token), "error"), "invalid_grant");
}

TEST(AuthorizationFlow, ReusedCodeIsRefusedAndRevokesWhatItIssued) {
  Harness h;
  auto code = h.code_from(h.sign_in_and_approve(h.authorize_url()));
  auto first = h.redeem(code);
  ASSERT_EQ(first.status, 200);
  const std::string refresh = str(json_of(first), "refresh_token");
  auto second = h.redeem(code);
  EXPECT_EQ(second.status, 400);
  EXPECT_EQ(str(json_of(second), "error"), "invalid_grant");
  EXPECT_TRUE(h.saw_event(SecurityEventKind::authorization_code_reuse_detected));
  // RFC 6749 §4.1.2: tokens issued from the code are revoked.
  EXPECT_EQ(str(json_of(h.refresh(refresh)), "error"), "invalid_grant");
}

TEST(AuthorizationFlow, ExpiredCodeIsInvalidGrant) {
  Harness h;
  auto code = h.code_from(h.sign_in_and_approve(h.authorize_url()));
  h.now += std::chrono::seconds(61);
  EXPECT_EQ(str(json_of(h.redeem(code)), "error"), "invalid_grant");
}

TEST(AuthorizationFlow, CodeOfAnotherClientIsInvalidGrant) {
  Harness h([](AuthServerOptions& o) {
    ClientOptions other;
    other.client_id = "other";
    other.redirect_uris = {kRedirect};
    o.clients.push_back(other);
  });
  auto code = h.code_from(h.sign_in_and_approve(h.authorize_url()));
  auto token = h.post_form("/oauth/token", "grant_type=authorization_code&code=" + enc(code) + "&code_verifier=" +
                                               kVerifier + "&client_id=other", {}, false);
  EXPECT_EQ(str(json_of(token), "error"), "invalid_grant");
}

TEST(AuthorizationFlow, UnregisteredRedirectUriIsNeverRedirectedTo) {
  Harness h;
  std::string target = h.authorize_url();
  const std::string evil = enc("http://127.0.0.1:3000/evil");
  target.replace(target.find(enc(kRedirect)), enc(kRedirect).size(), evil);
  auto r = h.request("GET", target);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.headers.find("Location"), nullptr);  // RFC 6749 §4.1.2.1: MUST NOT redirect
  EXPECT_NE(r.body.find("not registered"), std::string::npos);
}

TEST(AuthorizationFlow, RedirectUriMatchingIsExact) {
  Harness h;
  std::string target = h.authorize_url();
  // A trailing slash or an extra query is another URI.
  const std::string near = enc(std::string(kRedirect) + "/");
  target.replace(target.find(enc(kRedirect)), enc(kRedirect).size(), near);
  EXPECT_EQ(h.request("GET", target).status, 400);
}

TEST(AuthorizationFlow, UnknownClientGetsAnErrorPage) {
  Harness h;
  auto r = h.request("GET", "/oauth/authorize?response_type=code&client_id=nobody&redirect_uri=" + enc(kRedirect));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.headers.find("Location"), nullptr);
}

TEST(AuthorizationFlow, ResourceOfAnotherServerIsInvalidTarget) {
  Harness h;
  std::string target = h.authorize_url();
  target.replace(target.find(enc(kResource)), enc(kResource).size(), enc("https://other.example/mcp"));
  auto r = h.request("GET", target);
  ASSERT_EQ(r.status, 303);
  auto params = redirect_params(r);
  EXPECT_EQ(params["error"], "invalid_target");
  EXPECT_EQ(params["state"], "xyz");
  EXPECT_EQ(params["iss"], kIssuer);
}

TEST(AuthorizationFlow, MissingResourceIsInvalidTarget) {
  Harness h;
  std::string target = h.authorize_url();
  target.erase(target.find("&resource="));
  EXPECT_EQ(redirect_params(h.request("GET", target))["error"], "invalid_target");
}

TEST(AuthorizationFlow, ResourceIsComparedInCanonicalForm) {
  Harness h;
  std::string target = h.authorize_url();
  target.replace(target.find(enc(kResource)), enc(kResource).size(), enc("HTTP://127.0.0.1:8080/mcp"));
  auto code = h.code_from(h.sign_in_and_approve(target));
  ASSERT_FALSE(code.empty());
  // The token request may name the same resource; another one is refused.
  auto other = h.redeem(code, kVerifier, "");
  EXPECT_EQ(other.status, 200) << other.body;
}

TEST(AuthorizationFlow, TokenRequestForAnotherResourceIsInvalidTarget) {
  Harness h([](AuthServerOptions& o) { o.resources = {kResource, "http://127.0.0.1:8080/other"}; });
  h.server->set_resources({kResource, "http://127.0.0.1:8080/other"});
  auto code = h.code_from(h.sign_in_and_approve(h.authorize_url()));
  auto token = h.post_form("/oauth/token", "grant_type=authorization_code&code=" + enc(code) + "&code_verifier=" +
                                               kVerifier + "&client_id=" + kClient + "&resource=" +
                                               enc("http://127.0.0.1:8080/other"), {}, false);
  EXPECT_EQ(str(json_of(token), "error"), "invalid_target");
}

TEST(AuthorizationFlow, PkceIsRequiredAndOnlyS256) {
  Harness h;
  std::string plain = h.authorize_url();
  plain.replace(plain.find("code_challenge_method=S256"), 26, "code_challenge_method=plain");
  EXPECT_EQ(redirect_params(h.request("GET", plain))["error"], "invalid_request");
  std::string none = h.authorize_url();
  none.erase(none.find("&code_challenge="), none.find("&resource=") - none.find("&code_challenge="));
  EXPECT_EQ(redirect_params(h.request("GET", none))["error"], "invalid_request");
}

TEST(AuthorizationFlow, UnknownScopeIsInvalidScope) {
  Harness h;
  EXPECT_EQ(redirect_params(h.request("GET", h.authorize_url("&scope=root")))["error"], "invalid_scope");
}

TEST(AuthorizationFlow, RepeatedParameterIsRefused) {
  Harness h;
  auto r = h.request("GET", h.authorize_url("&state=second"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.headers.find("Location"), nullptr);
}

TEST(AuthorizationFlow, ConsentDeniedIsAccessDenied) {
  Harness h;
  auto r = h.sign_in_and_approve(h.authorize_url(), "deny");
  ASSERT_EQ(r.status, 303);
  auto params = redirect_params(r);
  EXPECT_EQ(params["error"], "access_denied");
  EXPECT_EQ(params["state"], "xyz");
  EXPECT_EQ(params["iss"], kIssuer);
  EXPECT_TRUE(params["code"].empty());
  EXPECT_TRUE(h.saw_event(SecurityEventKind::consent_denied));
}

TEST(AuthorizationFlow, LoginWithoutCsrfTokenIsRefused) {
  Harness h;
  auto page = h.request("GET", h.authorize_url());
  const std::string tx = hidden_field(page.body, "tx");
  auto r = h.post_form("/oauth/login", "tx=" + tx + "&username=alice&password=" + enc(kPassword));
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("CSRF"), std::string::npos);
  EXPECT_TRUE(h.cookies.count("bastion-session") == 0);
}

TEST(AuthorizationFlow, LoginFromAnotherBrowserIsRefused) {
  Harness h;
  auto page = h.request("GET", h.authorize_url());
  const std::string tx = hidden_field(page.body, "tx");
  const std::string csrf = hidden_field(page.body, "csrf");
  // Right tx and CSRF token, but not the browser cookie of the page (login CSRF).
  auto r = h.post_form("/oauth/login", "tx=" + tx + "&csrf=" + csrf + "&username=alice&password=" + enc(kPassword), {}, false);
  EXPECT_EQ(r.status, 403);
}

TEST(AuthorizationFlow, ConsentWithWrongCsrfTokenIsRefused) {
  Harness h;
  auto page = h.request("GET", h.authorize_url());
  const std::string tx = hidden_field(page.body, "tx");
  auto login = h.post_form("/oauth/login", "tx=" + tx + "&csrf=" + hidden_field(page.body, "csrf") +
                                               "&username=alice&password=" + enc(kPassword));
  ASSERT_EQ(login.status, 303);
  auto r = h.post_form("/oauth/consent", "tx=" + tx + "&csrf=wrong&decision=approve");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.headers.find("Location"), nullptr);
}

TEST(AuthorizationFlow, WrongPasswordShowsTheFormAgainAndIsRateLimited) {
  Harness h([](AuthServerOptions& o) { o.login.failures_per_user = 3; });
  auto page = h.request("GET", h.authorize_url());
  const std::string tx = hidden_field(page.body, "tx");
  const std::string csrf = hidden_field(page.body, "csrf");
  for (int i = 0; i < 3; ++i) {
    auto r = h.post_form("/oauth/login", "tx=" + tx + "&csrf=" + csrf + "&username=alice&password=wrong");
    EXPECT_EQ(r.status, 401);
    EXPECT_NE(r.body.find("Wrong user name or password."), std::string::npos);
  }
  // Now even the right password is refused for a while.
  auto r = h.post_form("/oauth/login", "tx=" + tx + "&csrf=" + csrf + "&username=alice&password=" + enc(kPassword));
  EXPECT_EQ(r.status, 429);
  EXPECT_TRUE(h.saw_event(SecurityEventKind::login_failed));
  EXPECT_TRUE(h.saw_event(SecurityEventKind::login_rate_limited));
  for (const auto& e : h.events) EXPECT_EQ(e.detail.find("wrong\""), std::string::npos);
}

TEST(AuthorizationFlow, UnknownUserFailsLikeAWrongPassword) {
  Harness h;
  auto page = h.request("GET", h.authorize_url());
  auto r = h.post_form("/oauth/login", "tx=" + hidden_field(page.body, "tx") + "&csrf=" + hidden_field(page.body, "csrf") +
                                           "&username=mallory&password=whatever");
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("Wrong user name or password."), std::string::npos);
}

TEST(AuthorizationFlow, ExpiredPendingRequestIsRefused) {
  Harness h;
  auto page = h.request("GET", h.authorize_url());
  h.now += std::chrono::minutes(11);
  auto r = h.post_form("/oauth/login", "tx=" + hidden_field(page.body, "tx") + "&csrf=" + hidden_field(page.body, "csrf") +
                                           "&username=alice&password=" + enc(kPassword));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("expired"), std::string::npos);
}

TEST(AuthorizationFlow, ApprovedRequestCannotBeApprovedTwice) {
  Harness h;
  auto page = h.request("GET", h.authorize_url());
  const std::string tx = hidden_field(page.body, "tx");
  h.post_form("/oauth/login", "tx=" + tx + "&csrf=" + hidden_field(page.body, "csrf") + "&username=alice&password=" + enc(kPassword));
  auto consent = h.request("GET", "/oauth/consent?tx=" + tx);
  const std::string csrf = hidden_field(consent.body, "csrf");
  EXPECT_EQ(h.post_form("/oauth/consent", "tx=" + tx + "&csrf=" + csrf + "&decision=approve").status, 303);
  EXPECT_EQ(h.post_form("/oauth/consent", "tx=" + tx + "&csrf=" + csrf + "&decision=approve").status, 400);
}

TEST(AuthorizationFlow, PromptNoneWithoutSessionIsLoginRequired) {
  Harness h;
  EXPECT_EQ(redirect_params(h.request("GET", h.authorize_url("&prompt=none")))["error"], "login_required");
}

TEST(RefreshTokens, RotateOnEveryUseAndReuseRevokesTheFamily) {
  Harness h;
  auto first = json_of(h.redeem(h.code_from(h.sign_in_and_approve(h.authorize_url()))));
  const std::string r1 = str(first, "refresh_token");
  auto second = h.refresh(r1);
  ASSERT_EQ(second.status, 200) << second.body;
  const std::string r2 = str(json_of(second), "refresh_token");
  ASSERT_FALSE(r2.empty());
  EXPECT_NE(r1, r2);
  EXPECT_EQ(str(jwt_claims(str(json_of(second), "access_token")), "aud"), kResource);
  // r1 again: reuse. The whole family (r2 too) is revoked.
  auto reuse = h.refresh(r1);
  EXPECT_EQ(reuse.status, 400);
  EXPECT_EQ(str(json_of(reuse), "error"), "invalid_grant");
  EXPECT_TRUE(h.saw_event(SecurityEventKind::refresh_token_reuse_detected));
  EXPECT_EQ(str(json_of(h.refresh(r2)), "error"), "invalid_grant");
}

TEST(RefreshTokens, ScopeMayShrinkButNotGrow) {
  Harness h;
  auto first = json_of(h.redeem(h.code_from(h.sign_in_and_approve(h.authorize_url("&scope=mcp")))));
  const std::string r1 = str(first, "refresh_token");
  auto grow = h.post_form("/oauth/token", "grant_type=refresh_token&refresh_token=" + enc(r1) + "&client_id=" + kClient +
                                              "&scope=" + enc("mcp mcp:admin"), {}, false);
  EXPECT_EQ(str(json_of(grow), "error"), "invalid_scope");
}

TEST(RefreshTokens, ExpiredOrOtherClientsTokenIsInvalidGrant) {
  Harness h([](AuthServerOptions& o) {
    ClientOptions other;
    other.client_id = "other";
    other.redirect_uris = {kRedirect};
    o.clients.push_back(other);
  });
  auto first = json_of(h.redeem(h.code_from(h.sign_in_and_approve(h.authorize_url()))));
  const std::string r1 = str(first, "refresh_token");
  auto stolen = h.post_form("/oauth/token", "grant_type=refresh_token&refresh_token=" + enc(r1) + "&client_id=other", {}, false);
  EXPECT_EQ(str(json_of(stolen), "error"), "invalid_grant");
  h.now += std::chrono::hours(24 * 31);
  EXPECT_EQ(str(json_of(h.refresh(r1)), "error"), "invalid_grant");
}

TEST(Revocation, RevokingARefreshTokenEndsItsFamily) {
  Harness h;
  auto first = json_of(h.redeem(h.code_from(h.sign_in_and_approve(h.authorize_url()))));
  const std::string r1 = str(first, "refresh_token");
  auto revoked = h.post_form("/oauth/revoke", "token=" + enc(r1) + "&client_id=" + kClient, {}, false);
  EXPECT_EQ(revoked.status, 200);
  EXPECT_EQ(str(json_of(h.refresh(r1)), "error"), "invalid_grant");
  // Unknown tokens are 200 as well (RFC 7009 §2.2).
  EXPECT_EQ(h.post_form("/oauth/revoke", "token=nonsense&client_id=" + std::string(kClient), {}, false).status, 200);
  EXPECT_TRUE(h.saw_event(SecurityEventKind::token_revoked));
}

TEST(ClientCredentials, ConfidentialClientGetsATokenForTheResource) {
  Harness h;
  const std::string basic = "Basic " + core::base64_encode("machine:machine-secret-0123456789");
  auto r = h.post_form("/oauth/token", "grant_type=client_credentials&resource=" + enc(kResource) + "&scope=mcp",
                       {{"Authorization", basic}}, false);
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = json_of(r);
  EXPECT_TRUE(str(body, "refresh_token").empty());
  auto claims = jwt_claims(str(body, "access_token"));
  EXPECT_EQ(str(claims, "sub"), "machine");
  EXPECT_EQ(str(claims, "client_id"), "machine");
  EXPECT_EQ(str(claims, "aud"), kResource);
  EXPECT_EQ(str(claims, "scope"), "mcp");
}

TEST(ClientCredentials, WrongSecretIsInvalidClientWithABasicChallenge) {
  Harness h;
  const std::string basic = "Basic " + core::base64_encode("machine:wrong-secret");
  auto r = h.post_form("/oauth/token", "grant_type=client_credentials&resource=" + enc(kResource), {{"Authorization", basic}}, false);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(str(json_of(r), "error"), "invalid_client");
  ASSERT_NE(r.headers.find("WWW-Authenticate"), nullptr);
}

TEST(ClientCredentials, ConfidentialClientCannotFallBackToNoAuthentication) {
  Harness h;
  auto r = h.post_form("/oauth/token", "grant_type=client_credentials&client_id=machine&resource=" + enc(kResource), {}, false);
  EXPECT_EQ(str(json_of(r), "error"), "invalid_client");
}

TEST(ClientCredentials, PublicClientMayNotUseIt) {
  Harness h;
  auto r = h.post_form("/oauth/token", "grant_type=client_credentials&client_id=" + std::string(kClient) + "&resource=" + enc(kResource), {}, false);
  EXPECT_EQ(str(json_of(r), "error"), "unauthorized_client");
}

TEST(TokenEndpoint, RefusesWhatIsNotAFormPost) {
  Harness h;
  EXPECT_EQ(h.request("GET", "/oauth/token").status, 405);
  auto json_body = h.request("POST", "/oauth/token", "{}", {{"Content-Type", "application/json"}});
  EXPECT_EQ(str(json_of(json_body), "error"), "invalid_request");
  auto unknown = h.post_form("/oauth/token", "grant_type=password&client_id=" + std::string(kClient), {}, false);
  EXPECT_EQ(str(json_of(unknown), "error"), "unsupported_grant_type");
}

TEST(Pages, CarryStrictSecurityHeadersAndEscapeEverything) {
  Harness h;
  auto page = h.request("GET", h.authorize_url());
  ASSERT_EQ(page.status, 200);
  const std::string csp = *page.headers.find("Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos);
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_NE(csp.find("form-action 'self' http://127.0.0.1:3000"), std::string::npos);
  EXPECT_EQ(*page.headers.find("X-Frame-Options"), "DENY");
  EXPECT_EQ(page.body.find("<script"), std::string::npos);
  // The client name "Test <Client>" is escaped.
  EXPECT_NE(page.body.find("Test &lt;Client&gt;"), std::string::npos);
  EXPECT_EQ(page.body.find("Test <Client>"), std::string::npos);
}

TEST(Pages, CookiesAreHttpOnlyLaxAndHostPrefixedOverHttps) {
  Harness plain;
  plain.sign_in_and_approve(plain.authorize_url());
  ASSERT_FALSE(plain.set_cookie_lines.empty());
  for (const auto& line : plain.set_cookie_lines) {
    EXPECT_NE(line.find("HttpOnly"), std::string::npos) << line;
    EXPECT_NE(line.find("SameSite=Lax"), std::string::npos) << line;
    EXPECT_EQ(line.find("Secure"), std::string::npos) << line;  // browsers drop Secure cookies on http
  }
  Harness tls;
  tls.secure = true;
  auto r = tls.sign_in_and_approve(tls.authorize_url());
  EXPECT_EQ(r.status, 303);
  ASSERT_FALSE(tls.set_cookie_lines.empty());
  for (const auto& line : tls.set_cookie_lines) {
    EXPECT_TRUE(line.starts_with("__Host-")) << line;
    EXPECT_NE(line.find("; Secure"), std::string::npos) << line;
    EXPECT_NE(line.find("Path=/"), std::string::npos) << line;
    EXPECT_EQ(line.find("Domain"), std::string::npos) << line;
  }
}

TEST(Metadata, AdvertisesWhatTheIssueRequires) {
  Harness h;
  for (const char* path : {"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"}) {
    auto r = h.request("GET", path);
    ASSERT_EQ(r.status, 200) << path;
    auto m = json_of(r);
    EXPECT_EQ(str(m, "issuer"), kIssuer);
    EXPECT_EQ(str(m, "authorization_endpoint"), std::string(kIssuer) + "/oauth/authorize");
    EXPECT_EQ(str(m, "token_endpoint"), std::string(kIssuer) + "/oauth/token");
    EXPECT_EQ(m.at("code_challenge_methods_supported"), (json::array{"S256"}));
    EXPECT_EQ(m.at("client_id_metadata_document_supported"), true);
    EXPECT_EQ(m.at("authorization_response_iss_parameter_supported"), true);
    EXPECT_EQ(*r.headers.find("Access-Control-Allow-Origin"), "*");
  }
  EXPECT_EQ(h.request("GET", "/.well-known/oauth-authorization-server/other").status, 404);
}

TEST(Metadata, IssuerWithAPathIsServedUnderThePathSuffixedAddress) {
  Harness h;
  h.server->set_issuer("https://example.com/tenant");
  EXPECT_EQ(h.request("GET", "/.well-known/oauth-authorization-server/tenant").status, 200);
  EXPECT_EQ(h.request("GET", "/.well-known/oauth-authorization-server").status, 404);
}

}  // namespace
}  // namespace bastion::authserver::testing

namespace bastion::authserver::testing {
namespace {

std::map<std::string, std::string> location_params(const http::Response& r) {
  const std::string* location = r.headers.find("Location");
  return location ? query_of(*location) : std::map<std::string, std::string>{};
}

// Every bound of the in-memory tables and of the request sizes, each failing closed.
TEST(Limits, PendingSignInsAreBounded) {
  Harness h([](AuthServerOptions& o) { o.max_pending_requests = 2; });
  EXPECT_EQ(h.request("GET", h.authorize_url()).status, 200);
  EXPECT_EQ(h.request("GET", h.authorize_url()).status, 200);
  auto third = h.request("GET", h.authorize_url());
  ASSERT_EQ(third.status, 303);
  EXPECT_EQ(location_params(third)["error"], "temporarily_unavailable");
  // Expired entries make room again.
  h.now += std::chrono::minutes(11);
  EXPECT_EQ(h.request("GET", h.authorize_url()).status, 200);
}

TEST(Limits, LoginSessionsAreBounded) {
  Harness h([](AuthServerOptions& o) { o.max_sessions = 1; });
  ASSERT_EQ(h.sign_in_and_approve(h.authorize_url()).status, 303);
  h.cookies.clear();  // a second browser
  auto page = h.request("GET", h.authorize_url());
  auto login = h.post_form("/oauth/login", "tx=" + hidden_field(page.body, "tx") + "&csrf=" + hidden_field(page.body, "csrf") +
                                               "&username=alice&password=" + enc(kPassword));
  EXPECT_EQ(login.status, 503);
}

TEST(Limits, OutstandingCodesAreBounded) {
  Harness h([](AuthServerOptions& o) { o.max_codes = 1; });
  ASSERT_FALSE(h.code_from(h.sign_in_and_approve(h.authorize_url())).empty());
  auto second = h.request("GET", h.authorize_url());  // consented: straight to a code
  EXPECT_EQ(location_params(second)["error"], "temporarily_unavailable");
}

TEST(Limits, OversizedInputsAreRefused) {
  Harness h;
  std::string target = h.authorize_url();
  target.replace(target.find("state=xyz"), 9, "state=" + std::string(1025, 's'));
  EXPECT_EQ(location_params(h.request("GET", target))["error"], "invalid_request");
  auto big = h.post_form("/oauth/token", "grant_type=authorization_code&code=" + std::string(20'000, 'c'), {}, false);
  EXPECT_EQ(big.status, 400);
  EXPECT_EQ(str(json_of(big), "error"), "invalid_request");
  auto page = h.request("GET", h.authorize_url());
  auto login = h.post_form("/oauth/login", "tx=" + hidden_field(page.body, "tx") + "&csrf=" + hidden_field(page.body, "csrf") +
                                               "&username=" + std::string(200, 'u') + "&password=x");
  EXPECT_EQ(login.status, 400);
  auto long_password = h.post_form("/oauth/login", "tx=" + hidden_field(page.body, "tx") + "&csrf=" +
                                                       hidden_field(page.body, "csrf") + "&username=alice&password=" +
                                                       std::string(2000, 'p'));
  EXPECT_EQ(long_password.status, 400);
}

}  // namespace
}  // namespace bastion::authserver::testing
