#include "auth/token_verifier.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>

#include "auth/discovery.hpp"
#include "auth/jwt_support.hpp"
#include "auth/profiles.hpp"

namespace bastion::auth {
namespace {

using namespace testing;
using Clock = std::chrono::system_clock;

constexpr const char* kIssuer = "https://issuer.example/realms/a";
constexpr const char* kResource = "https://mcp.example/mcp";

// A fake network: URL -> (status, body), with a switch to take the issuer down.
struct FakeNet {
  std::map<std::string, std::pair<int, std::string>> documents;
  std::atomic<int> requests{0};
  std::atomic<bool> down{false};
  std::vector<std::string> urls;

  http::Fetcher fetcher() {
    return [this](const http::ClientRequest& r, const http::ClientOptions&) -> Result<http::ClientResponse> {
      ++requests;
      urls.push_back(r.url);
      if (down) return fail(static_cast<int>(http::ClientErrorCode::connect_failed), "connect failed", 503);
      auto it = documents.find(r.url);
      http::ClientResponse resp;
      if (it == documents.end()) {
        resp.status = 404;
        return resp;
      }
      resp.status = it->second.first;
      resp.body = it->second.second;
      return resp;
    };
  }
};

struct Fixture : ::testing::Test {
  FakeNet net;
  TestKey key = make_rsa();
  Clock::time_point now = Clock::now();
  std::shared_ptr<TokenVerifier> verifier;
  VerifyTarget target;

  void SetUp() override {
    net.documents[std::string(kIssuer) + "/.well-known/openid-configuration"] = {
        200, json::serialize(json::object{{"issuer", kIssuer}, {"jwks_uri", "https://issuer.example/jwks"}})};
    net.documents["https://issuer.example/jwks"] = {200, jwks({public_jwk(key, "k1")})};
    build({});
  }

  void build(std::function<void(IssuerSettings&)> tweak) {
    IssuerSettings s;
    s.name = "main";
    s.issuer = kIssuer;
    s.algorithms = {JwsAlg::RS256, JwsAlg::PS256, JwsAlg::ES256, JwsAlg::EdDSA};
    s.unknown_kid_refetch_interval = std::chrono::seconds(30);
    s.max_staleness = std::chrono::seconds(3600);
    s.clock_skew = std::chrono::seconds(30);
    if (tweak) tweak(s);
    verifier = std::make_shared<TokenVerifier>(std::vector<IssuerSettings>{s}, net.fetcher(), [this] { return now; });
    target = VerifyTarget{{0}, {kResource}};
  }

  std::int64_t t() const { return std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count(); }

  json::object claims() const {
    return {{"iss", kIssuer}, {"sub", "alice"}, {"aud", kResource}, {"exp", t() + 300}, {"iat", t()},
            {"scope", "read write"}, {"client_id", "app"}};
  }
  std::string token(json::object c, json::object h = {{"alg", "RS256"}, {"kid", "k1"}}) const { return make_jwt(h, c, key); }

  AuthFailureReason reason(const std::string& tok) {
    auto r = verifier->verify(tok, target);
    EXPECT_FALSE(r);
    return r ? AuthFailureReason::count_ : r.error().reason;
  }
};

TEST_F(Fixture, AcceptsAGoodTokenAndMapsThePrincipal) {
  auto r = verifier->verify(token(claims()), target);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->principal->issuer, kIssuer);
  EXPECT_EQ(r->principal->subject, "alice");
  EXPECT_EQ(r->principal->client_id, "app");
  EXPECT_EQ(r->principal->scopes, (std::set<std::string>{"read", "write"}));
  EXPECT_EQ(r->cache_until, Clock::time_point(std::chrono::seconds(t() + 300)));
}

TEST_F(Fixture, RefusesAlgNoneHmacAndAlgorithmsOutsideTheAllowList) {
  const std::string h = core::base64url_encode(R"({"alg":"none"})");
  const std::string p = core::base64url_encode(json::serialize(claims()));
  EXPECT_EQ(reason(h + "." + p + "."), AuthFailureReason::malformed_token);
  EXPECT_EQ(reason(h + "." + p + ".AAAA"), AuthFailureReason::unsupported_algorithm);
  // HS256 with the RSA public key's bytes as the secret: refused before any key is touched.
  EXPECT_EQ(reason(core::base64url_encode(R"({"alg":"HS256","kid":"k1"})") + "." + p + ".AAAA"),
            AuthFailureReason::unsupported_algorithm);
  build([](IssuerSettings& s) { s.algorithms = {JwsAlg::ES256}; });
  EXPECT_EQ(reason(token(claims())), AuthFailureReason::unsupported_algorithm);
}

TEST_F(Fixture, RefusesAlgorithmKeyTypeMismatch) {
  // Header says ES256 but the kid names an RSA key.
  TestKey ec = make_ec();
  EXPECT_EQ(reason(make_jwt({{"alg", "ES256"}, {"kid", "k1"}}, claims(), ec)), AuthFailureReason::unknown_key);
}

TEST_F(Fixture, RefusesForgedAndTamperedSignatures) {
  TestKey other = make_rsa();
  EXPECT_EQ(reason(make_jwt({{"alg", "RS256"}, {"kid", "k1"}}, claims(), other)), AuthFailureReason::bad_signature);
  std::string good = token(claims());
  std::string tampered = good;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(reason(tampered), AuthFailureReason::bad_signature);
  // The token's own jku/jwk must not be used to find a key.
  json::object h{{"alg", "RS256"}, {"kid", "attacker"}, {"jku", "https://evil.example/jwks"}, {"jwk", public_jwk(other, "attacker")}};
  EXPECT_EQ(reason(make_jwt(h, claims(), other)), AuthFailureReason::unknown_key);
  for (const auto& url : net.urls) EXPECT_EQ(url.find("evil"), std::string::npos);
}

TEST_F(Fixture, ChecksIssuerAudienceAndTime) {
  auto c = claims();
  c["iss"] = "https://issuer.example/realms/b";
  EXPECT_EQ(reason(token(c)), AuthFailureReason::unknown_issuer);
  c = claims();
  c.erase("iss");
  EXPECT_EQ(reason(token(c)), AuthFailureReason::missing_claim);
  c = claims();
  c["aud"] = "https://other.example/mcp";
  EXPECT_EQ(reason(token(c)), AuthFailureReason::wrong_audience);
  c["aud"] = json::array{"https://other.example/mcp", kResource};
  EXPECT_TRUE(verifier->verify(token(c), target));
  c.erase("aud");
  EXPECT_EQ(reason(token(c)), AuthFailureReason::wrong_audience);
  c = claims();
  c.erase("exp");
  EXPECT_EQ(reason(token(c)), AuthFailureReason::missing_claim);
  c = claims();
  c["exp"] = t() - 31;
  EXPECT_EQ(reason(token(c)), AuthFailureReason::expired);
  c["exp"] = t() - 29;  // inside the skew
  EXPECT_TRUE(verifier->verify(token(c), target));
  c = claims();
  c["nbf"] = t() + 31;
  EXPECT_EQ(reason(token(c)), AuthFailureReason::not_yet_valid);
  c = claims();
  c["iat"] = t() + 3600;
  EXPECT_EQ(reason(token(c)), AuthFailureReason::issued_in_future);
  c = claims();
  c["exp"] = "tomorrow";
  EXPECT_EQ(reason(token(c)), AuthFailureReason::malformed_token);
  c = claims();
  c.erase("sub");
  EXPECT_EQ(reason(token(c)), AuthFailureReason::missing_claim);
}

TEST_F(Fixture, ConfiguredAudiencesAreAcceptedToo) {
  build([](IssuerSettings& s) { s.audiences = {"api://bastion"}; });
  auto c = claims();
  c["aud"] = "api://bastion";
  EXPECT_TRUE(verifier->verify(token(c), target));
}

TEST_F(Fixture, HonoursCritAndTyp) {
  EXPECT_EQ(reason(token(claims(), {{"alg", "RS256"}, {"kid", "k1"}, {"crit", json::array{"exp"}}, {"exp", 1}})),
            AuthFailureReason::unsupported_critical);
  build([](IssuerSettings& s) { s.require_at_jwt = true; });
  EXPECT_EQ(reason(token(claims())), AuthFailureReason::wrong_type);
  EXPECT_EQ(reason(token(claims(), {{"alg", "RS256"}, {"kid", "k1"}, {"typ", "JWT"}})), AuthFailureReason::wrong_type);
  EXPECT_TRUE(verifier->verify(token(claims(), {{"alg", "RS256"}, {"kid", "k1"}, {"typ", "at+JWT"}}), target));
  EXPECT_TRUE(verifier->verify(token(claims(), {{"alg", "RS256"}, {"kid", "k1"}, {"typ", "application/at+jwt"}}), target));
}

TEST_F(Fixture, DuplicateClaimsAndOversizedTokensAreRefused) {
  std::string dup = R"({"iss":")" + std::string(kIssuer) + R"(","sub":"alice","sub":"admin","aud":")" + kResource +
                    R"(","exp":)" + std::to_string(t() + 300) + "}";
  EXPECT_EQ(reason(make_jwt_raw(R"({"alg":"RS256","kid":"k1"})", dup, "RS256", key)), AuthFailureReason::malformed_token);
  auto c = claims();
  c["pad"] = std::string(9000, 'x');
  EXPECT_EQ(reason(token(c)), AuthFailureReason::token_too_large);
  const int before = net.requests;
  EXPECT_EQ(reason(std::string(100'000, 'a') + "." + "b.c"), AuthFailureReason::token_too_large);
  EXPECT_EQ(net.requests, before);
}

TEST_F(Fixture, UnknownKidRefetchesAtMostOncePerInterval) {
  ASSERT_TRUE(verifier->verify(token(claims()), target));
  const int after_first = net.requests;
  // Rotation: a new key appears at the issuer; a token with its kid triggers one refetch.
  TestKey rotated = make_ed25519();
  net.documents["https://issuer.example/jwks"] = {200, jwks({public_jwk(key, "k1"), public_jwk(rotated, "k2")})};
  EXPECT_TRUE(verifier->verify(make_jwt({{"alg", "EdDSA"}, {"kid", "k2"}}, claims(), rotated), target));
  EXPECT_EQ(net.requests, after_first + 1);
  // Made-up kids inside the interval do not reach the issuer.
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(reason(token(claims(), {{"alg", "RS256"}, {"kid", "nope" + std::to_string(i)}})), AuthFailureReason::unknown_key);
  EXPECT_EQ(net.requests, after_first + 1);
  auto stats = verifier->jwks_stats().at(0).second;
  EXPECT_EQ(stats.refetches_throttled, 20u);
  now += std::chrono::seconds(31);
  EXPECT_EQ(reason(token(claims(), {{"alg", "RS256"}, {"kid", "nope"}})), AuthFailureReason::unknown_key);
  EXPECT_EQ(net.requests, after_first + 2);
}

TEST_F(Fixture, ServesTheLastGoodSetDuringAnOutageUpToMaxStaleness) {
  ASSERT_TRUE(verifier->verify(token(claims()), target));
  net.down = true;
  now += std::chrono::seconds(3000);
  EXPECT_TRUE(verifier->verify(token(claims()), target));
  now += std::chrono::seconds(700);  // past max_staleness (3600 s) since the last good fetch
  auto r = verifier->verify(token(claims()), target);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, AuthFailureReason::issuer_unavailable);
  EXPECT_EQ(r.error().status, 503);
  net.down = false;
  now += std::chrono::seconds(31);
  EXPECT_TRUE(verifier->verify(token(claims()), target)) << "recovers once the issuer answers";
}

TEST_F(Fixture, DiscoveryRefusesMetadataNamingAnotherIssuer) {
  net.documents[std::string(kIssuer) + "/.well-known/openid-configuration"] = {
      200, json::serialize(json::object{{"issuer", "https://evil.example"}, {"jwks_uri", "https://issuer.example/jwks"}})};
  build({});
  EXPECT_EQ(reason(token(claims())), AuthFailureReason::issuer_unavailable);
}

TEST_F(Fixture, ConfiguredJwksUriSkipsDiscovery) {
  net.documents.erase(std::string(kIssuer) + "/.well-known/openid-configuration");
  build([](IssuerSettings& s) { s.jwks_uri = "https://issuer.example/jwks"; });
  EXPECT_TRUE(verifier->verify(token(claims()), target));
}

TEST_F(Fixture, SelfHostedIssuerIsResolvedOnceTheOriginIsKnown) {
  net.documents["http://127.0.0.1:4000/jwks"] = {200, jwks({public_jwk(key, "k1")})};
  build([](IssuerSettings& s) {
    s.issuer = "{self}/as";
    s.jwks_uri = "{self}/jwks";
    s.allow_http_loopback = true;
  });
  verifier->resolve_self("http://127.0.0.1:4000");
  EXPECT_EQ(verifier->issuer(0).issuer, "http://127.0.0.1:4000/as");
  auto c = claims();
  c["iss"] = "http://127.0.0.1:4000/as";
  EXPECT_TRUE(verifier->verify(token(c), target));
}

TEST(Discovery, MetadataUrlsFollowRfc8414PathInsertionThenOidc) {
  EXPECT_EQ(metadata_urls("https://as.example/tenant1"),
            (std::vector<std::string>{"https://as.example/.well-known/oauth-authorization-server/tenant1",
                                      "https://as.example/.well-known/openid-configuration/tenant1",
                                      "https://as.example/tenant1/.well-known/openid-configuration"}));
  EXPECT_EQ(metadata_urls("https://as.example"),
            (std::vector<std::string>{"https://as.example/.well-known/oauth-authorization-server",
                                      "https://as.example/.well-known/openid-configuration"}));
  EXPECT_TRUE(metadata_urls("not a url").empty());
  EXPECT_TRUE(metadata_urls("https://as.example/?q=1").empty());
}

TEST(Profiles, EntraTenantIssuerMatchesOnlyTheTokensOwnTenant) {
  IssuerSettings s;
  s.issuer = "https://login.microsoftonline.com/{tenantid}/v2.0";
  s.profile = ClaimsProfile::entra;
  json::object c{{"tid", "72f988bf-86f1-41af-91ab-2d7cd011db47"}};
  EXPECT_TRUE(issuer_matches(s, "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0", c));
  EXPECT_FALSE(issuer_matches(s, "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0", c));
  c["tid"] = "../evil";
  EXPECT_FALSE(issuer_matches(s, "https://login.microsoftonline.com/../evil/v2.0", c));
  s.profile = ClaimsProfile::generic;
  EXPECT_FALSE(issuer_matches(s, "https://login.microsoftonline.com/72f988bf/v2.0", c));
}

TEST(Profiles, KeycloakShapedToken) {
  json::object c = json::parse(R"({"iss":"https://kc/realms/r","sub":"u1","azp":"mcp-client","scope":"openid profile mcp:tools",
    "realm_access":{"roles":["admin","user"]},"preferred_username":"alice","exp":2000000000})").as_object();
  auto p = map_claims(ClaimsProfile::keycloak, c, "https://kc/realms/r");
  EXPECT_EQ(p.client_id, "mcp-client");
  EXPECT_TRUE(p.scopes.contains("mcp:tools"));
  EXPECT_TRUE(p.scopes.contains("role:admin"));
  EXPECT_EQ(p.claims.at("preferred_username"), "alice");
}

TEST(Profiles, EntraV2ShapedToken) {
  json::object c = json::parse(R"({"aud":"api://1111","iss":"https://login.microsoftonline.com/t/v2.0","tid":"t","oid":"o",
    "azp":"2222","scp":"Tools.Read Tools.Call","roles":["Admin"],"ver":"2.0","sub":"s"})").as_object();
  auto p = map_claims(ClaimsProfile::entra, c, "x");
  EXPECT_EQ(p.client_id, "2222");
  EXPECT_EQ(p.scopes, (std::set<std::string>{"Admin", "Tools.Call", "Tools.Read"}));
  EXPECT_EQ(p.claims.at("tid"), "t");
  c.erase("azp");
  c["appid"] = "3333";
  EXPECT_EQ(map_claims(ClaimsProfile::entra, c, "x").client_id, "3333");
}

TEST(Profiles, Auth0ShapedToken) {
  json::object c = json::parse(R"({"iss":"https://t.auth0.com/","sub":"auth0|1","aud":["https://api","https://t.auth0.com/userinfo"],
    "azp":"cid","scope":"openid read:tools","permissions":["call:echo"]})").as_object();
  auto p = map_claims(ClaimsProfile::auth0, c, "x");
  EXPECT_EQ(p.client_id, "cid");
  EXPECT_EQ(p.scopes, (std::set<std::string>{"call:echo", "openid", "read:tools"}));
}

TEST(Profiles, OktaShapedToken) {
  json::object c = json::parse(R"({"iss":"https://o.okta.com/oauth2/default","sub":"a@b","cid":"0oa1","uid":"00u1",
    "scp":["mcp.read","mcp.call"]})").as_object();
  auto p = map_claims(ClaimsProfile::okta, c, "x");
  EXPECT_EQ(p.client_id, "0oa1");
  EXPECT_EQ(p.scopes, (std::set<std::string>{"mcp.call", "mcp.read"}));
  EXPECT_EQ(p.claims.at("uid"), "00u1");
}

TEST_F(Fixture, OpaqueTokensAreIntrospectedWithClientAuthentication) {
  std::string seen_auth, seen_body;
  int calls = 0;
  auto fetch = [&](const http::ClientRequest& r, const http::ClientOptions&) -> Result<http::ClientResponse> {
    ++calls;
    seen_auth = r.headers.find("Authorization") ? *r.headers.find("Authorization") : "";
    seen_body = r.body;
    http::ClientResponse resp;
    resp.status = 200;
    resp.body = seen_body.find("token=good") == 0
                    ? json::serialize(json::object{{"active", true}, {"sub", "bob"}, {"aud", kResource}, {"iss", kIssuer},
                                                   {"exp", t() + 30}, {"scope", "read"}, {"client_id", "c"}})
                    : std::string(R"({"active":false})");
    return resp;
  };
  IssuerSettings s;
  s.name = "opaque";
  s.issuer = kIssuer;
  s.discovery = false;
  s.introspection = IntrospectionSettings{"https://issuer.example/introspect", "rs", "s3cret", std::chrono::seconds(60)};
  TokenVerifier v({s}, fetch, [this] { return now; });
  auto r = v.verify("good-opaque-token", target);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->principal->subject, "bob");
  EXPECT_EQ(r->cache_until, Clock::time_point(std::chrono::seconds(t() + 30))) << "exp is earlier than max_cache";
  EXPECT_EQ(seen_auth, "Basic " + core::base64_encode("rs:s3cret"));
  EXPECT_EQ(seen_body, "token=good-opaque-token&token_type_hint=access_token");
  auto bad = v.verify("bad-opaque-token", target);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().reason, AuthFailureReason::inactive_token);
}

}  // namespace
}  // namespace bastion::auth
