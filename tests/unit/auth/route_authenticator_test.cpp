#include "auth/route_authenticator.hpp"

#include <gtest/gtest.h>

#include <future>
#include <set>
#include <thread>

#include "auth/challenge.hpp"
#include "auth/jwt_support.hpp"
#include "auth/protected_resource_metadata.hpp"
#include "auth/scope_policy.hpp"
#include "auth/verified_token_cache.hpp"

namespace bastion::auth {
namespace {

using namespace testing;
using Clock = std::chrono::system_clock;

http::Request with_auth(std::string value) {
  http::Request r;
  r.method = "POST";
  r.path = "/mcp";
  r.headers.add("Authorization", std::move(value));
  return r;
}

AuthFailureReason failure_of(const http::Request& r) {
  auto v = extract_bearer(r);
  return std::holds_alternative<AuthFailure>(v) ? std::get<AuthFailure>(v).reason : AuthFailureReason::count_;
}

TEST(Bearer, TakesTheTokenFromTheAuthorizationHeaderOnly) {
  const http::Request request = with_auth("Bearer abc.def-_~+/==");  // the token views into it
  auto v = extract_bearer(request);
  ASSERT_TRUE(std::holds_alternative<std::string_view>(v));
  EXPECT_EQ(std::get<std::string_view>(v), "abc.def-_~+/==");
  EXPECT_TRUE(std::holds_alternative<std::string_view>(extract_bearer(with_auth("bEaReR tok"))));
  EXPECT_EQ(failure_of(http::Request{}), AuthFailureReason::missing_token);
  EXPECT_EQ(failure_of(with_auth("Basic dTpw")), AuthFailureReason::missing_token);
  EXPECT_EQ(failure_of(with_auth("Bearer")), AuthFailureReason::malformed_request);
  EXPECT_EQ(failure_of(with_auth("Bearer a b")), AuthFailureReason::malformed_request);
  EXPECT_EQ(failure_of(with_auth("Bearer a=b")), AuthFailureReason::malformed_request);
  EXPECT_EQ(failure_of(with_auth("Bearer a\"b")), AuthFailureReason::malformed_request);
  auto two = with_auth("Bearer a");
  two.headers.add("authorization", "Bearer b");
  EXPECT_EQ(failure_of(two), AuthFailureReason::malformed_request);
  auto query = with_auth("Bearer a");
  query.query = "x=1&access_token=abc";
  EXPECT_EQ(failure_of(query), AuthFailureReason::token_in_query);
  http::Request form;
  form.headers.add("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  form.body = "a=1&access_token=abc";
  EXPECT_EQ(failure_of(form), AuthFailureReason::token_in_body);
  EXPECT_EQ(extract_bearer(form).index(), 1u);
  EXPECT_EQ(std::get<AuthFailure>(extract_bearer(form)).status, 400);
}

TEST(Challenge, QuotesValuesSoNoneCanBreakOut) {
  Challenge c;
  c.resource_metadata = "https://h/.well-known/oauth-protected-resource/mcp";
  c.scopes = {"a", "b"};
  c.error = "invalid_token";
  c.error_description = "say \"hi\"\\\r\nX-Injected: 1";
  EXPECT_EQ(www_authenticate(c),
            "Bearer resource_metadata=\"https://h/.well-known/oauth-protected-resource/mcp\", scope=\"a b\", "
            "error=\"invalid_token\", error_description=\"say \\\"hi\\\"\\\\X-Injected: 1\"");
  EXPECT_EQ(www_authenticate(Challenge{}), "Bearer");
}

TEST(Prm, CanonicalResourceAndMetadataUrl) {
  EXPECT_EQ(canonical_resource("HTTPS://MCP.Example.COM:443/mcp/#frag"), "https://mcp.example.com/mcp");
  EXPECT_EQ(canonical_resource("http://127.0.0.1:8080/mcp"), "http://127.0.0.1:8080/mcp");
  EXPECT_EQ(canonical_resource("https://h/"), "https://h");
  EXPECT_EQ(canonical_resource("ftp://h/x"), std::nullopt);
  EXPECT_EQ(canonical_resource("/relative"), std::nullopt);
  EXPECT_EQ(metadata_url_for("https://h/a/mcp"), "https://h/.well-known/oauth-protected-resource/a/mcp");
  EXPECT_EQ(metadata_url_for("https://h:8443"), "https://h:8443/.well-known/oauth-protected-resource");
  ProtectedResourceMetadata m{"https://h/mcp", {"https://as"}, {"mcp", "offline_access"}, "Name", ""};
  auto doc = boost::json::parse(m.to_json()).as_object();
  EXPECT_EQ(doc.at("resource"), "https://h/mcp");
  EXPECT_EQ(doc.at("scopes_supported"), boost::json::array{"mcp"}) << "offline_access is never advertised";
  EXPECT_EQ(doc.at("bearer_methods_supported"), boost::json::array{"header"});
  EXPECT_FALSE(doc.contains("resource_documentation"));
}

TEST(ScopePolicy, WildcardsAndUnion) {
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("admin_*", "admin_reset"));
  EXPECT_FALSE(glob_match("admin_*", "user_admin_x"));
  EXPECT_TRUE(glob_match("*_write", "db_write"));
  EXPECT_TRUE(glob_match("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXXbYY"));
  EXPECT_FALSE(glob_match("tools/call", "tools/list"));
  ScopePolicySettings s;
  s.route_scopes = {"mcp"};
  s.methods = {{"tools/*", {"tools"}}, {"resources/read", {"read"}}};
  s.tools = {{"admin_*", {"admin"}}, {"*", {"tools"}}};
  s.resources = {{"secret://*", {"secret"}}};
  ScopePolicy p(s);
  EXPECT_EQ(p.required("tools/call", "admin_reset"), (std::vector<std::string>{"mcp", "tools", "admin"}));
  EXPECT_EQ(p.required("tools/list", ""), (std::vector<std::string>{"mcp", "tools"}));
  EXPECT_EQ(p.required("resources/read", "secret://x"), (std::vector<std::string>{"mcp", "read", "secret"}));
  EXPECT_EQ(p.required("ping", ""), (std::vector<std::string>{"mcp"}));
  EXPECT_TRUE(ScopePolicy::satisfied({"mcp", "tools", "admin", "extra"}, p.required("tools/call", "admin_reset")));
  EXPECT_TRUE(p.allows({"mcp", "tools", "admin"}, "tools/call", "admin_reset"));
  EXPECT_FALSE(p.allows({"mcp", "tools"}, "tools/call", "admin_reset"));
  EXPECT_TRUE(p.allows({"mcp", "tools"}, "tools/call", "echo"));
  EXPECT_FALSE(p.allows({"mcp"}, "tools/list", ""));
  EXPECT_TRUE(p.allows({"mcp"}, "ping", ""));
  EXPECT_FALSE(p.allows({"mcp", "read"}, "resources/read", "secret://x"));
  EXPECT_FALSE(ScopePolicy::satisfied({"mcp", "tools"}, p.required("tools/call", "admin_reset")));
}

TEST(VerifiedTokenCache, BoundedAndNeverPastExpiry) {
  VerifiedTokenCache cache(2, std::chrono::seconds(60));
  const auto t0 = Clock::now();
  auto p = std::make_shared<const Principal>();
  cache.insert("a", p, t0 + std::chrono::seconds(10), t0);
  EXPECT_EQ(cache.find("a", t0 + std::chrono::seconds(9)).principal, p);
  EXPECT_EQ(cache.find("a", t0 + std::chrono::seconds(10)).principal, nullptr) << "not at or past exp";
  cache.insert("b", p, t0 + std::chrono::hours(1), t0);
  EXPECT_EQ(cache.find("b", t0 + std::chrono::seconds(61)).principal, nullptr) << "max age bounds a long-lived token";
  cache.insert("c", p, t0 + std::chrono::seconds(30), t0);
  cache.insert("d", p, t0 + std::chrono::seconds(20), t0);
  cache.insert("e", p, t0 + std::chrono::seconds(40), t0);
  EXPECT_LE(cache.size(), 2u);
  EXPECT_EQ(cache.find("d", t0).principal, nullptr) << "the soonest to expire went first";
  EXPECT_EQ(cache.find("e", t0).principal, p);
  VerifiedTokenCache off(0, std::chrono::seconds(60));
  off.insert("a", p, t0 + std::chrono::seconds(10), t0);
  EXPECT_EQ(off.find("a", t0).principal, nullptr);
}

// The route authenticator end to end over a fake JWKS.
struct RouteFixture : ::testing::Test {
  TestKey key = make_ed25519();
  Clock::time_point now = Clock::now();
  std::shared_ptr<TokenVerifier> verifier;
  std::unique_ptr<RouteAuthenticator> route;
  std::vector<std::string> events;
  int fetches = 0;

  void SetUp() override {
    IssuerSettings s;
    s.name = "main";
    s.issuer = "https://as.example";
    s.jwks_uri = "https://as.example/jwks";
    s.algorithms = {JwsAlg::EdDSA};
    auto doc = jwks({public_jwk(key, "k")});
    verifier = std::make_shared<TokenVerifier>(
        std::vector<IssuerSettings>{s},
        [this, doc](const http::ClientRequest&, const http::ClientOptions&) -> Result<http::ClientResponse> {
          ++fetches;
          return http::ClientResponse{200, {}, doc, ""};
        },
        [this] { return now; });
    RouteAuthSettings r;
    r.scopes.route_scopes = {"mcp"};
    r.scopes.tools = {{"admin_*", {"admin"}}};
    route = std::make_unique<RouteAuthenticator>(
        verifier, "/mcp", r,
        [this](const AuthEvent& e) {
          events.push_back(std::string(e.kind == AuthEvent::Kind::authenticated          ? "ok"
                                       : e.kind == AuthEvent::Kind::authorization_denied ? "denied:"
                                                                                          : "failed:") +
                           (e.kind == AuthEvent::Kind::authenticated ? "" : std::string(to_string(e.reason))));
        },
        [this] { return now; });
    route->set_resource("https://MCP.example/mcp");
  }

  std::string token(json::object extra = {}) {
    const auto t = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    json::object c{{"iss", "https://as.example"}, {"sub", "u"}, {"aud", "https://mcp.example/mcp"}, {"exp", t + 60}, {"scope", "mcp"}};
    for (auto& [k, v] : extra) c[k] = v;
    return make_jwt({{"alg", "EdDSA"}, {"kid", "k"}}, c, key);
  }
};

TEST_F(RouteFixture, AuthenticatesCachesAndChallenges) {
  const std::string good = token();
  auto ok = route->authenticate(with_auth("Bearer " + good));
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const Principal>>(ok));
  EXPECT_EQ(std::get<0>(ok)->subject, "u");
  auto again = route->authenticate(with_auth("Bearer " + good));
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const Principal>>(again));
  EXPECT_EQ(route->stats().cache_hits, 1u);

  auto bad = route->authenticate(with_auth("Bearer " + token({{"aud", "https://other/mcp"}})));
  ASSERT_TRUE(std::holds_alternative<http::Response>(bad));
  const auto& r = std::get<http::Response>(bad);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(*r.headers.find("WWW-Authenticate"),
            "Bearer resource_metadata=\"https://mcp.example/.well-known/oauth-protected-resource/mcp\", scope=\"mcp\", "
            "error=\"invalid_token\", error_description=\"The access token is invalid or expired.\"");
  EXPECT_EQ(r.body.find(good), std::string::npos);
  EXPECT_EQ(route->stats().failures[static_cast<std::size_t>(AuthFailureReason::wrong_audience)], 1u);

  // The cache never outlives exp.
  now += std::chrono::seconds(61 + 60);
  auto expired = route->authenticate(with_auth("Bearer " + good));
  ASSERT_TRUE(std::holds_alternative<http::Response>(expired));
  EXPECT_EQ(std::get<http::Response>(expired).status, 401);

  auto missing = route->authenticate(http::Request{});
  ASSERT_TRUE(std::holds_alternative<http::Response>(missing));
  EXPECT_EQ(*std::get<http::Response>(missing).headers.find("WWW-Authenticate"),
            "Bearer resource_metadata=\"https://mcp.example/.well-known/oauth-protected-resource/mcp\", scope=\"mcp\"");
  EXPECT_EQ(events, (std::vector<std::string>{"ok", "ok", "failed:wrong_audience", "failed:expired", "failed:missing_token"}));
}

TEST_F(RouteFixture, RouteScopesToolScopesAndMayUse) {
  auto lacking = route->authenticate(with_auth("Bearer " + token({{"scope", "other"}})));
  ASSERT_TRUE(std::holds_alternative<http::Response>(lacking));
  EXPECT_EQ(std::get<http::Response>(lacking).status, 403);
  EXPECT_NE(std::get<http::Response>(lacking).headers.find("WWW-Authenticate")->find("error=\"insufficient_scope\""),
            std::string::npos);

  Principal p;
  p.scopes = {"mcp"};
  EXPECT_TRUE(route->may_use(&p, ItemKind::tool, "echo"));
  EXPECT_FALSE(route->may_use(&p, ItemKind::tool, "admin_reset"));
  EXPECT_FALSE(route->may_use(nullptr, ItemKind::tool, "echo"));
  auto body = [] { return std::string("body"); };
  EXPECT_FALSE(route->authorize(&p, "tools/call", "echo", body));
  auto denied = route->authorize(&p, "tools/call", "admin_reset", body);
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 403);
  EXPECT_EQ(denied->body, "body");
  EXPECT_NE(denied->headers.find("WWW-Authenticate")->find("scope=\"mcp admin\""), std::string::npos);
  p.scopes.insert("admin");
  EXPECT_FALSE(route->authorize(&p, "tools/call", "admin_reset", body));
}

TEST_F(RouteFixture, MetadataDocument) {
  http::Request get;
  get.method = "GET";
  auto r = route->metadata_response(get);
  EXPECT_EQ(r.status, 200);
  auto doc = boost::json::parse(r.body).as_object();
  EXPECT_EQ(doc.at("resource"), "https://mcp.example/mcp");
  EXPECT_EQ(doc.at("authorization_servers"), boost::json::array{"https://as.example"});
  http::Request post;
  post.method = "POST";
  EXPECT_EQ(route->metadata_response(post).status, 405);
}

TEST(RouteAuthenticatorSetup, UnknownIssuerNameIsRefused) {
  IssuerSettings s;
  s.name = "a";
  s.issuer = "https://as";
  auto v = std::make_shared<TokenVerifier>(std::vector<IssuerSettings>{s}, http::Fetcher{});
  RouteAuthSettings r;
  r.issuers = {"b"};
  EXPECT_THROW(RouteAuthenticator(v, "/mcp", r), std::invalid_argument);
}

}  // namespace
}  // namespace bastion::auth

namespace bastion::auth {
namespace {

// The request path never waits on the network on the calling thread: a token whose key is not
// in the current set is verified on the blocking pool and answered from there.
TEST(RouteAuthenticatorAsync, TokensThatNeedTheNetworkAreVerifiedOnThePool) {
  using namespace testing;
  TestKey key = make_ed25519();
  const auto doc = jwks({public_jwk(key, "k")});
  std::atomic<int> fetches{0};
  std::mutex m;
  std::set<std::thread::id> fetch_threads;
  IssuerSettings s;
  s.name = "main";
  s.issuer = "https://as.example";
  s.jwks_uri = "https://as.example/jwks";
  s.algorithms = {JwsAlg::EdDSA};
  auto verifier = std::make_shared<TokenVerifier>(
      std::vector<IssuerSettings>{s},
      [&](const http::ClientRequest&, const http::ClientOptions&) -> Result<http::ClientResponse> {
        ++fetches;
        std::lock_guard lock(m);
        fetch_threads.insert(std::this_thread::get_id());
        return http::ClientResponse{200, {}, doc, ""};
      });
  core::WorkerPool pool(1, 4);
  RouteAuthSettings r;
  RouteAuthenticator route(verifier, "/mcp", r, {}, {}, &pool);
  route.set_resource("https://mcp.example/mcp");
  const auto t = std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
  const std::string token = make_jwt({{"alg", "EdDSA"}, {"kid", "k"}},
                                     {{"iss", "https://as.example"}, {"sub", "u"}, {"aud", "https://mcp.example/mcp"}, {"exp", t + 60}},
                                     key);
  const http::Request request = with_auth("Bearer " + token);

  // No key set yet: deferred to the pool.
  EXPECT_EQ(verifier->verify(token, VerifyTarget{{0}, {"https://mcp.example/mcp"}}, false).error().reason,
            AuthFailureReason::deferred);
  std::promise<RouteAuthenticator::Outcome> first;
  route.authenticate(request, [&](RouteAuthenticator::Outcome o) { first.set_value(std::move(o)); });
  auto outcome = first.get_future().get();
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const Principal>>(outcome));
  EXPECT_EQ(fetches.load(), 1);
  EXPECT_FALSE(fetch_threads.contains(std::this_thread::get_id())) << "fetched on the calling thread";

  // Keys present and the token cached: answered inline.
  bool inline_answer = false;
  route.authenticate(request, [&](RouteAuthenticator::Outcome o) {
    inline_answer = std::holds_alternative<std::shared_ptr<const Principal>>(o);
  });
  EXPECT_TRUE(inline_answer);
  // A refusal that needs no network is inline too.
  bool refused_inline = false;
  const http::Request bad = with_auth("Bearer " + token + "x");
  route.authenticate(bad, [&](RouteAuthenticator::Outcome o) {
    refused_inline = std::holds_alternative<http::Response>(o) && std::get<http::Response>(o).status == 401;
  });
  EXPECT_TRUE(refused_inline);
  // Shutting down: a token that needs the network is not queued behind issuers any more.
  route.shutdown();
  const std::string unknown_kid = make_jwt({{"alg", "EdDSA"}, {"kid", "k2"}},
                                           {{"iss", "https://as.example"}, {"sub", "u"}, {"aud", "https://mcp.example/mcp"}, {"exp", t + 60}},
                                           key);
  const http::Request later = with_auth("Bearer " + unknown_kid);
  int status = 0;
  route.authenticate(later, [&](RouteAuthenticator::Outcome o) {
    if (auto* r = std::get_if<http::Response>(&o)) status = r->status;
  });
  EXPECT_EQ(status, 503);
  EXPECT_EQ(fetches.load(), 1);
  pool.stop();
}

}  // namespace
}  // namespace bastion::auth

namespace bastion::auth {
namespace {

// Max staleness holds for cached verifications too: once the issuer's key set is too old, a
// token verified earlier is not honoured from the cache.
TEST(RouteAuthenticatorCache, CachedJwtsStopWhenTheIssuersKeysGoStale) {
  using namespace testing;
  TestKey key = make_ed25519();
  const auto doc = jwks({public_jwk(key, "k")});
  bool down = false;
  Clock::time_point now = Clock::now();
  IssuerSettings s;
  s.name = "main";
  s.issuer = "https://as.example";
  s.jwks_uri = "https://as.example/jwks";
  s.algorithms = {JwsAlg::EdDSA};
  s.max_staleness = std::chrono::seconds(600);
  auto verifier = std::make_shared<TokenVerifier>(
      std::vector<IssuerSettings>{s},
      [&](const http::ClientRequest&, const http::ClientOptions&) -> Result<http::ClientResponse> {
        if (down) return fail(1, "down", 503);
        return http::ClientResponse{200, {}, doc, ""};
      },
      [&] { return now; });
  RouteAuthSettings r;
  r.token_cache_max_age = std::chrono::seconds(3600);
  RouteAuthenticator route(verifier, "/mcp", r, {}, [&] { return now; });
  route.set_resource("https://mcp.example/mcp");
  const auto t = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const std::string token = make_jwt({{"alg", "EdDSA"}, {"kid", "k"}},
                                     {{"iss", "https://as.example"}, {"sub", "u"}, {"aud", "https://mcp.example/mcp"}, {"exp", t + 7200}},
                                     key);
  const http::Request request = with_auth("Bearer " + token);
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const Principal>>(route.authenticate(request)));
  down = true;
  now += std::chrono::seconds(300);
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const Principal>>(route.authenticate(request)));
  EXPECT_EQ(route.stats().cache_hits, 1u);
  now += std::chrono::seconds(400);  // 700 s since the last good key set
  auto stale = route.authenticate(request);
  ASSERT_TRUE(std::holds_alternative<http::Response>(stale));
  EXPECT_EQ(std::get<http::Response>(stale).status, 503);
}

}  // namespace
}  // namespace bastion::auth
