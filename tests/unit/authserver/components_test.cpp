// The authorization server's parts on their own: parsing helpers, the SQLite store, password
// hashing, signing keys (rotation, persistence, file modes), the client registry (Client ID
// Metadata Documents through a fake fetcher, Dynamic Client Registration and its limits).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "authserver/harness.hpp"
#include "authserver/store.hpp"

namespace bastion::authserver::testing {
namespace {

namespace json = boost::json;

std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("bastion-as-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  ::stat(path.c_str(), &st);
  return st.st_mode & 0777;
}

// ---- helpers ---------------------------------------------------------------------------------

TEST(OAuthCommon, FormParsingRefusesRepeatedParameters) {
  auto ok = parse_form("a=1&b=two+words&c=%2F");
  ASSERT_TRUE(ok);
  EXPECT_EQ(form_value(*ok, "b"), "two words");
  EXPECT_EQ(form_value(*ok, "c"), "/");
  EXPECT_FALSE(parse_form("a=1&a=2"));
  EXPECT_FALSE(parse_form("a=%zz"));
  std::string many;
  for (int i = 0; i < 100; ++i) many += "k" + std::to_string(i) + "=v&";
  EXPECT_FALSE(parse_form(many));
}

TEST(OAuthCommon, PkceS256FollowsRfc7636AppendixB) {
  // RFC 7636 Appendix B example.
  EXPECT_TRUE(pkce_s256_matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
  EXPECT_FALSE(pkce_s256_matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
  EXPECT_FALSE(pkce_s256_matches("short", challenge_for("short")));  // < 43 characters
  EXPECT_FALSE(pkce_s256_matches(std::string(43, ' '), challenge_for(std::string(43, ' '))));
  EXPECT_TRUE(is_valid_s256_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
  EXPECT_FALSE(is_valid_s256_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c="));
}

TEST(OAuthCommon, RedirectUrisAreHttpsOrLoopback) {
  EXPECT_TRUE(is_allowed_redirect_uri("https://app.example/cb"));
  EXPECT_TRUE(is_allowed_redirect_uri("http://127.0.0.1:3000/callback"));
  EXPECT_TRUE(is_allowed_redirect_uri("http://localhost/cb"));
  EXPECT_TRUE(is_allowed_redirect_uri("http://[::1]:9/cb"));
  EXPECT_FALSE(is_allowed_redirect_uri("http://app.example/cb"));
  // Boost.URL 1.81 reads this host as 127.0.0.1; a browser goes to 127.0.0.1.evil.example.
  EXPECT_FALSE(is_allowed_redirect_uri("http://127.0.0.1.evil.example/cb"));
  EXPECT_FALSE(is_allowed_redirect_uri("http://127.0.0.1.evil.example"));
  EXPECT_EQ(uri_host("http://127.0.0.1.evil.example/cb"), "");
  EXPECT_FALSE(is_allowed_redirect_uri("https://app.example/cb#frag"));
  EXPECT_FALSE(is_allowed_redirect_uri("https://user@app.example/cb"));
  EXPECT_FALSE(is_allowed_redirect_uri("javascript:alert(1)"));
  EXPECT_FALSE(is_allowed_redirect_uri("/relative"));
}

TEST(OAuthCommon, CanonicalResource) {
  EXPECT_EQ(canonical_resource("HTTPS://Example.COM:443/mcp"), "https://example.com/mcp");
  EXPECT_EQ(canonical_resource("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
  EXPECT_FALSE(canonical_resource("https://example.com/mcp#x"));
  EXPECT_FALSE(canonical_resource("urn:example"));
  EXPECT_FALSE(canonical_resource(""));
}

TEST(OAuthCommon, ScopesAndEscaping) {
  EXPECT_EQ(parse_scope("b a  b"), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(parse_scope("a\"b"));
  EXPECT_EQ(html_escape("<a href='x'>&\"`"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&#96;");
  EXPECT_EQ(add_query_params("https://a.example/cb?x=1", {{"code", "a b"}}), "https://a.example/cb?x=1&code=a%20b");
}

// ---- store -------------------------------------------------------------------------------------

TEST(Store, MigratesAndSurvivesAReopenWithMode0600) {
  const std::string dir = temp_dir("store");
  const std::string path = dir + "/as.db";
  {
    auto store = Store::open(path);
    ASSERT_TRUE(store) << store.error().message;
    EXPECT_EQ((*store)->schema_version(), Store::kSchemaVersion);
    EXPECT_TRUE((*store)->put_client({"c1", "{}", "", 1}));
    EXPECT_FALSE((*store)->put_client({"c1", "{}", "", 1}));  // ids are unique
    (*store)->put_consent("alice", "c1", "mcp", 1);
    RefreshRecord r{"h1", "f1", "c1", "alice", "mcp", "https://r", 1, 100, false, false};
    EXPECT_TRUE((*store)->put_refresh(r));
  }
  EXPECT_EQ(mode_of(path), 0600u);
  auto store = Store::open(path);
  ASSERT_TRUE(store);
  EXPECT_TRUE((*store)->client("c1"));
  EXPECT_EQ((*store)->consent("alice", "c1"), "mcp");
  EXPECT_TRUE((*store)->refresh("h1"));
  std::filesystem::remove_all(dir);
}

TEST(Store, RefusesADatabaseFromANewerVersion) {
  const std::string dir = temp_dir("newer");
  const std::string path = dir + "/as.db";
  ASSERT_TRUE(Store::open(path));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  // As if a later Bastion had migrated it: we must not write to a schema we do not know.
  sqlite3_exec(db, "PRAGMA user_version = 99;", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  auto store = Store::open(path);
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("newer"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(Store, MarkUsedSucceedsOnceAndFamilyRevocationCoversEveryToken) {
  auto store = Store::open(":memory:");
  ASSERT_TRUE(store);
  auto& s = **store;
  s.put_refresh({"a", "fam", "c", "u", "mcp", "r", 1, 100, false, false});
  s.put_refresh({"b", "fam", "c", "u", "mcp", "r", 1, 100, false, false});
  s.put_refresh({"z", "other", "c", "u", "mcp", "r", 1, 100, false, false});
  EXPECT_TRUE(s.mark_refresh_used("a"));
  EXPECT_FALSE(s.mark_refresh_used("a"));
  EXPECT_EQ(s.revoke_family("fam"), 2u);
  EXPECT_TRUE(s.refresh("b")->revoked);
  EXPECT_FALSE(s.refresh("z")->revoked);
  EXPECT_FALSE(s.mark_refresh_used("b"));  // revoked tokens cannot be used
  s.purge_expired_refresh(101);
  EXPECT_FALSE(s.refresh("a"));
}

// ---- passwords -----------------------------------------------------------------------------------

TEST(PasswordHasher, SaltedArgon2idThatVerifies) {
  PasswordHasher hasher(cheap_cost());
  auto h1 = hasher.hash("secret password");
  auto h2 = hasher.hash("secret password");
  ASSERT_TRUE(h1 && h2);
  EXPECT_TRUE(h1->starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
  EXPECT_NE(*h1, *h2);  // a fresh salt each time
  EXPECT_TRUE(hasher.verify("secret password", *h1));
  EXPECT_FALSE(hasher.verify("secret passworD", *h1));
  EXPECT_FALSE(hasher.verify("secret password", "$2b$10$notargon"));
  EXPECT_FALSE(hasher.verify("secret password", "$argon2id$garbage"));
  EXPECT_FALSE(hasher.verify(std::string(2000, 'x'), *h1));  // over the length limit
  EXPECT_EQ(PasswordHasher::random_password().size(), 20u);
  EXPECT_NE(PasswordHasher::random_password(), PasswordHasher::random_password());
}

TEST(PasswordHasher, DefaultCostIsOwaspsFirstArgon2idSetting) {
  PasswordCost cost;
  EXPECT_EQ(cost.memory_kib, 19u * 1024);
  EXPECT_EQ(cost.iterations, 2u);
  EXPECT_EQ(cost.parallelism, 1u);
}

TEST(FirstStart, CreatesOneAdminWhenThereIsNoUser) {
  std::string user, password;
  Harness h([&](AuthServerOptions& o) {
    o.users.clear();
    o.on_admin_created = [&](const std::string& u, const std::string& p) {
      user = u;
      password = p;
    };
  });
  EXPECT_EQ(user, "admin");
  EXPECT_EQ(password.size(), 20u);
  EXPECT_EQ(h.server->context().store->user_count(), 1u);
  EXPECT_EQ(h.server->context().check_password("admin", password), "admin");
  EXPECT_NE(*h.server->context().store->user_password_hash("admin"), password);  // only the hash is kept
  EXPECT_TRUE(h.saw_event(SecurityEventKind::admin_user_created));
}

TEST(FirstStart, TheGeneratedAdminStopsWorkingOnceUsersAreConfigured) {
  const std::string dir = temp_dir("admin");
  std::string password;
  {
    Harness h([&](AuthServerOptions& o) {
      o.data_dir = dir;
      o.users.clear();
      o.on_admin_created = [&](const std::string&, const std::string& p) { password = p; };
    });
    EXPECT_EQ(h.server->context().check_password("admin", password), "admin");
  }
  Harness h([&](AuthServerOptions& o) { o.data_dir = dir; });  // alice configured now
  EXPECT_FALSE(h.server->context().check_password("admin", password));
  EXPECT_EQ(h.server->context().check_password("alice", kPassword), "alice");
  std::filesystem::remove_all(dir);
}

TEST(FirstStart, NoAdminWhenUsersAreConfigured) {
  bool called = false;
  Harness h([&](AuthServerOptions& o) { o.on_admin_created = [&](const std::string&, const std::string&) { called = true; }; });
  EXPECT_FALSE(called);
  EXPECT_EQ(h.server->context().store->user_count(), 0u);
}

// ---- signing keys --------------------------------------------------------------------------------

TEST(SigningKeys, Es256AndEdDsaSignaturesVerifyAgainstTheJwks) {
  for (auto algorithm : {SigningAlgorithm::es256, SigningAlgorithm::eddsa}) {
    auto store = Store::open(":memory:");
    SigningKeysOptions options;
    options.algorithm = algorithm;
    const auto now = Clock::now();
    auto keys = SigningKeys::open(**store, options, now);
    ASSERT_TRUE(keys) << keys.error().message;
    auto jws = (*keys)->sign("at+jwt", R"({"sub":"a"})", now);
    ASSERT_TRUE(jws);
    const std::string jwks = (*keys)->jwks_json(now);
    EXPECT_TRUE(verify_jws_for_tests(jwks, *jws));
    // A flipped payload byte breaks the signature.
    std::string tampered = *jws;
    tampered[tampered.find('.') + 2] ^= 1;
    EXPECT_FALSE(verify_jws_for_tests(jwks, tampered));
    if (algorithm == SigningAlgorithm::es256) {
      // RFC 7518 §3.4: R || S, 64 bytes, not DER.
      auto sig = core::base64url_decode(jws->substr(jws->rfind('.') + 1));
      EXPECT_EQ(sig->size(), 64u);
      EXPECT_NE(jwks.find("\"crv\":\"P-256\""), std::string::npos);
    } else {
      EXPECT_NE(jwks.find("\"crv\":\"Ed25519\""), std::string::npos);
    }
    EXPECT_EQ(jwks.find("\"d\""), std::string::npos);  // never the private part
  }
}

TEST(SigningKeys, RotationKeepsThePreviousKeyUntilItsTokensExpire) {
  auto store = Store::open(":memory:");
  SigningKeysOptions options;
  options.rotation_period = std::chrono::hours(24);
  options.token_lifetime = std::chrono::minutes(10);
  std::vector<std::string> rotated;
  options.on_rotated = [&](const std::string& kid) { rotated.push_back(kid); };
  auto t = Clock::time_point(std::chrono::seconds(1'800'000'000));
  auto keys = SigningKeys::open(**store, options, t);
  ASSERT_TRUE(keys);
  const std::string first_kid = (*keys)->current_kid();
  auto old_token = (*keys)->sign("at+jwt", "{}", t);
  t += std::chrono::hours(25);  // past the rotation period: the next signature rotates
  auto new_token = (*keys)->sign("at+jwt", "{}", t);
  EXPECT_NE((*keys)->current_kid(), first_kid);
  EXPECT_EQ(rotated, (std::vector<std::string>{(*keys)->current_kid()}));  // the first key is no rotation
  EXPECT_EQ((*keys)->published_key_count(t), 2u);
  EXPECT_TRUE(verify_jws_for_tests((*keys)->jwks_json(t), *old_token));
  EXPECT_TRUE(verify_jws_for_tests((*keys)->jwks_json(t), *new_token));
  t += std::chrono::minutes(12);  // token lifetime + skew allowance passed
  EXPECT_EQ((*keys)->published_key_count(t), 1u);
  EXPECT_FALSE(verify_jws_for_tests((*keys)->jwks_json(t), *old_token));
}

TEST(SigningKeys, PersistInFilesOfMode0600AndLoadAfterARestart) {
  const std::string dir = temp_dir("keys");
  const auto now = Clock::now();
  std::string kid;
  std::string token;
  {
    auto store = Store::open(dir + "/as.db");
    SigningKeysOptions options;
    options.key_dir = dir + "/keys";
    auto keys = SigningKeys::open(**store, options, now);
    ASSERT_TRUE(keys) << keys.error().message;
    kid = (*keys)->current_kid();
    token = *(*keys)->sign("at+jwt", "{}", now);
  }
  const std::string file = dir + "/keys/" + kid + ".pem";
  ASSERT_TRUE(std::filesystem::exists(file));
  EXPECT_EQ(mode_of(file), 0600u);
  EXPECT_EQ(mode_of(dir + "/keys"), 0700u);
  auto store = Store::open(dir + "/as.db");
  SigningKeysOptions options;
  options.key_dir = dir + "/keys";
  auto keys = SigningKeys::open(**store, options, now);
  ASSERT_TRUE(keys);
  EXPECT_EQ((*keys)->current_kid(), kid);
  EXPECT_TRUE(verify_jws_for_tests((*keys)->jwks_json(now), token));
  // A missing key file is a start-up error, never a silent new key.
  std::filesystem::remove(file);
  auto store2 = Store::open(dir + "/as.db");
  EXPECT_FALSE(SigningKeys::open(**store2, options, now));
  std::filesystem::remove_all(dir);
}

TEST(AuthorizationServer, StateSurvivesARestartOfTheDataDirectory) {
  const std::string dir = temp_dir("restart");
  std::string refresh;
  std::string kid;
  {
    Harness h([&](AuthServerOptions& o) { o.data_dir = dir; });
    auto body = json_of(h.redeem(h.code_from(h.sign_in_and_approve(h.authorize_url()))));
    refresh = str(body, "refresh_token");
    kid = h.server->context().keys->current_kid();
    ASSERT_FALSE(refresh.empty());
  }
  Harness h([&](AuthServerOptions& o) { o.data_dir = dir; });
  EXPECT_EQ(h.server->context().keys->current_kid(), kid);
  EXPECT_EQ(h.server->context().store->consent("alice", kClient), "mcp mcp:admin");
  EXPECT_EQ(h.refresh(refresh).status, 200);
  EXPECT_EQ(mode_of(dir), 0700u);
  std::filesystem::remove_all(dir);
}

// ---- Client ID Metadata Documents ------------------------------------------------------------------

constexpr const char* kCimdUrl = "https://app.example/oauth/client.json";

std::string cimd_document(const std::string& client_id = kCimdUrl, const std::string& redirect = kRedirect,
                          const std::string& extra = "") {
  return R"({"client_id":")" + client_id + R"(","client_name":"Example App","redirect_uris":[")" + redirect + R"("])" +
         extra + "}";
}

Result<http::ClientResponse> answer(int status, std::string body) {
  http::ClientResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

std::string cimd_authorize(const Harness& h) {
  std::string url = h.authorize_url();
  url.replace(url.find(std::string("client_id=") + kClient), std::string("client_id=").size() + std::strlen(kClient),
              "client_id=" + enc(kCimdUrl));
  return url;
}

TEST(ClientIdMetadataDocument, AFetchedDocumentDefinesTheClient) {
  Harness h;
  h.fetch = [](const http::ClientRequest& request, const http::ClientOptions&) {
    EXPECT_EQ(request.url, kCimdUrl);
    return answer(200, cimd_document());
  };
  auto page = h.request("GET", cimd_authorize(h));
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_NE(page.body.find("Example App"), std::string::npos);
  // SSRF protection is asked of the outbound client: public addresses only, https only,
  // bounded size and time, redirects re-checked by the client.
  EXPECT_EQ(h.last_fetch_options.address_policy, http::AddressPolicy::public_only);
  EXPECT_FALSE(h.last_fetch_options.allow_http);
  EXPECT_EQ(h.last_fetch_options.max_response_bytes, 5u * 1024);
  EXPECT_EQ(h.last_fetch_options.timeout, std::chrono::milliseconds(3000));
  // Cached: a second authorization does not fetch again.
  h.request("GET", cimd_authorize(h));
  EXPECT_EQ(h.fetches, 1);
  h.now += std::chrono::seconds(301);
  h.request("GET", cimd_authorize(h));
  EXPECT_EQ(h.fetches, 2);
}

TEST(ClientIdMetadataDocument, TheFullFlowWorksForADocumentClient) {
  Harness h;
  h.fetch = [](const http::ClientRequest&, const http::ClientOptions&) { return answer(200, cimd_document()); };
  auto code = h.code_from(h.sign_in_and_approve(cimd_authorize(h)));
  ASSERT_FALSE(code.empty());
  auto token = h.post_form("/oauth/token", "grant_type=authorization_code&code=" + enc(code) + "&code_verifier=" +
                                               kVerifier + "&client_id=" + enc(kCimdUrl), {}, false);
  EXPECT_EQ(token.status, 200) << token.body;
}

TEST(ClientIdMetadataDocument, LoopbackIsAllowedOnlyWithTheDevelopmentFlag) {
  Harness h([](AuthServerOptions& o) { o.cimd.allow_loopback = true; });
  h.fetch = [](const http::ClientRequest&, const http::ClientOptions&) { return answer(200, cimd_document()); };
  h.request("GET", cimd_authorize(h));
  EXPECT_EQ(h.last_fetch_options.address_policy, http::AddressPolicy::public_or_loopback);
}

struct BadDocument {
  const char* name;
  std::function<Result<http::ClientResponse>()> reply;
};

TEST(ClientIdMetadataDocument, EveryBadDocumentIsRefusedWithoutRedirecting) {
  const std::vector<BadDocument> cases = {
      {"private address", [] { return Result<http::ClientResponse>(fail(static_cast<int>(http::ClientErrorCode::address_refused), "address refused")); }},
      {"timeout", [] { return Result<http::ClientResponse>(fail(static_cast<int>(http::ClientErrorCode::timeout), "timed out")); }},
      {"404", [] { return answer(404, "nope"); }},
      {"not json", [] { return answer(200, "<html>"); }},
      {"other client_id", [] { return answer(200, cimd_document("https://evil.example/client.json")); }},
      {"no redirect_uris", [] { return answer(200, R"({"client_id":"https://app.example/oauth/client.json"})"); }},
      {"http redirect", [] { return answer(200, cimd_document(kCimdUrl, "http://app.example/cb")); }},
      {"secret method", [] { return answer(200, cimd_document(kCimdUrl, kRedirect, R"(,"token_endpoint_auth_method":"client_secret_post")")); }},
      {"too large", [] { return answer(200, std::string(6000, ' ') + cimd_document()); }},
      {"deep json", [] { return answer(200, std::string(100, '[') + std::string(100, ']')); }},
  };
  for (const auto& c : cases) {
    Harness h;
    h.fetch = [&](const http::ClientRequest&, const http::ClientOptions&) { return c.reply(); };
    auto r = h.request("GET", cimd_authorize(h));
    EXPECT_EQ(r.status, 400) << c.name;
    EXPECT_EQ(r.headers.find("Location"), nullptr) << c.name;
    EXPECT_TRUE(h.saw_event(SecurityEventKind::client_metadata_refused)) << c.name;
  }
}

TEST(ClientIdMetadataDocument, FailuresAreRememberedAndFetchesPerRequesterAreBounded) {
  Harness h([](AuthServerOptions& o) { o.cimd.fetches_per_minute_per_address = 3; });
  h.fetch = [](const http::ClientRequest&, const http::ClientOptions&) { return answer(404, ""); };
  for (int i = 0; i < 5; ++i) EXPECT_EQ(h.request("GET", cimd_authorize(h)).status, 400);
  EXPECT_EQ(h.fetches, 1);  // the failure is remembered for a minute
  h.now += std::chrono::seconds(61);
  h.request("GET", cimd_authorize(h));
  EXPECT_EQ(h.fetches, 2);
  // Distinct URLs: the requester may cause 3 fetches a minute, then nothing is fetched.
  for (int i = 0; i < 5; ++i) {
    std::string url = h.authorize_url();
    const std::string id = "https://app.example/d" + std::to_string(i) + ".json";
    url.replace(url.find(std::string("client_id=") + kClient), std::string("client_id=").size() + std::strlen(kClient), "client_id=" + enc(id));
    EXPECT_EQ(h.request("GET", url).status, 400);
  }
  EXPECT_EQ(h.fetches, 3);
}

TEST(ClientIdMetadataDocument, RedirectUriNotInTheDocumentIsRefused) {
  Harness h;
  h.fetch = [](const http::ClientRequest&, const http::ClientOptions&) {
    return answer(200, cimd_document(kCimdUrl, "http://127.0.0.1:3000/other"));
  };
  auto r = h.request("GET", cimd_authorize(h));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.headers.find("Location"), nullptr);
}

TEST(ClientIdMetadataDocument, UrlShapeRules) {
  EXPECT_TRUE(ClientRegistry::is_metadata_document_url("https://app.example/client.json"));
  EXPECT_FALSE(ClientRegistry::is_metadata_document_url("http://app.example/client.json"));
  EXPECT_FALSE(ClientRegistry::is_metadata_document_url("https://app.example"));
  EXPECT_FALSE(ClientRegistry::is_metadata_document_url("https://app.example/"));
  EXPECT_FALSE(ClientRegistry::is_metadata_document_url("https://app.example/a/../b"));
  EXPECT_FALSE(ClientRegistry::is_metadata_document_url("https://app.example/c#f"));
  EXPECT_FALSE(ClientRegistry::is_metadata_document_url("https://u:p@app.example/c"));
  EXPECT_FALSE(ClientRegistry::is_metadata_document_url("https://1.2.3.4.evil.example/c"));
}

TEST(ClientIdMetadataDocument, DisabledMeansNoFetch) {
  Harness h([](AuthServerOptions& o) { o.cimd.enabled = false; });
  EXPECT_EQ(h.request("GET", cimd_authorize(h)).status, 400);
  EXPECT_EQ(h.fetches, 0);
  EXPECT_EQ(json_of(h.request("GET", "/.well-known/oauth-authorization-server")).at("client_id_metadata_document_supported"), false);
}

TEST(ClientIdMetadataDocument, CacheIsBounded) {
  Harness h([](AuthServerOptions& o) { o.cimd.max_cached = 2; });
  h.fetch = [](const http::ClientRequest& request, const http::ClientOptions&) { return answer(200, cimd_document(request.url)); };
  for (int i = 0; i < 5; ++i) {
    std::string url = h.authorize_url();
    const std::string id = "https://app.example/c" + std::to_string(i) + ".json";
    url.replace(url.find(std::string("client_id=") + kClient), std::string("client_id=").size() + std::strlen(kClient), "client_id=" + enc(id));
    EXPECT_EQ(h.request("GET", url).status, 200);
  }
  EXPECT_EQ(h.server->context().clients->cached_documents(), 2u);
}

// ---- Dynamic Client Registration ----------------------------------------------------------------

http::Response register_client(Harness& h, const std::string& body) {
  return h.request("POST", "/oauth/register", body, {{"Content-Type", "application/json"}}, false);
}

TEST(DynamicRegistration, RegistersAPublicClientThatCanSignIn) {
  Harness h;
  auto r = register_client(h, R"({"redirect_uris":["http://127.0.0.1:3000/callback"],"token_endpoint_auth_method":"none","client_name":"Dyn","grant_types":["authorization_code","refresh_token"]})");
  ASSERT_EQ(r.status, 201) << r.body;
  auto body = json_of(r);
  const std::string id = str(body, "client_id");
  EXPECT_FALSE(id.empty());
  EXPECT_TRUE(str(body, "client_secret").empty());
  EXPECT_TRUE(h.saw_event(SecurityEventKind::client_registered));
  std::string url = h.authorize_url();
  url.replace(url.find(std::string("client_id=") + kClient), std::string("client_id=").size() + std::strlen(kClient), "client_id=" + id);
  auto code = h.code_from(h.sign_in_and_approve(url));
  ASSERT_FALSE(code.empty());
  auto token = h.post_form("/oauth/token", "grant_type=authorization_code&code=" + enc(code) + "&code_verifier=" +
                                               kVerifier + "&client_id=" + id, {}, false);
  EXPECT_EQ(token.status, 200) << token.body;
}

TEST(DynamicRegistration, ConfidentialClientGetsASecretThatIsStoredOnlyAsADigest) {
  Harness h;
  auto r = register_client(h, R"({"redirect_uris":["https://app.example/cb"]})");
  ASSERT_EQ(r.status, 201);
  auto body = json_of(r);
  const std::string secret = str(body, "client_secret");
  EXPECT_GE(secret.size(), 40u);
  EXPECT_EQ(str(body, "token_endpoint_auth_method"), "client_secret_basic");  // RFC 7591 §2 default
  auto stored = h.server->context().store->client(str(body, "client_id"));
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->metadata_json.find(secret), std::string::npos);
  EXPECT_EQ(stored->secret_hash.find(secret), std::string::npos);
}

TEST(DynamicRegistration, InvalidMetadataIsRefusedWithTheRfc7591Error) {
  Harness h([](AuthServerOptions& o) { o.dcr.per_minute_per_address = 100; });
  EXPECT_EQ(str(json_of(register_client(h, R"({"redirect_uris":["http://app.example/cb"]})")), "error"), "invalid_redirect_uri");
  EXPECT_EQ(str(json_of(register_client(h, R"({"redirect_uris":["http://127.0.0.1.evil.example/cb"]})")), "error"), "invalid_redirect_uri");
  EXPECT_EQ(str(json_of(register_client(h, R"({"redirect_uris":[]})")), "error"), "invalid_redirect_uri");
  EXPECT_EQ(str(json_of(register_client(h, R"({"redirect_uris":["https://a.example/cb"],"grant_types":["client_credentials"]})")), "error"), "invalid_client_metadata");
  EXPECT_EQ(str(json_of(register_client(h, R"({"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt"})")), "error"), "invalid_client_metadata");
  EXPECT_EQ(str(json_of(register_client(h, "not json")), "error"), "invalid_client_metadata");
  EXPECT_EQ(str(json_of(register_client(h, R"({"redirect_uris":["https://a.example/cb"],"client_name":"bad\u0007name"})")), "error"), "invalid_client_metadata");
}

TEST(DynamicRegistration, RateAndCountAreLimited) {
  Harness h([](AuthServerOptions& o) {
    o.dcr.per_minute_per_address = 100;
    o.dcr.per_minute = 3;
  });
  const std::string body = R"({"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"none"})";
  for (int i = 0; i < 3; ++i) EXPECT_EQ(register_client(h, body).status, 201);
  auto limited = register_client(h, body);
  EXPECT_EQ(limited.status, 429);
  EXPECT_TRUE(h.saw_event(SecurityEventKind::client_registration_refused));

  Harness per_address([](AuthServerOptions& o) { o.dcr.per_minute_per_address = 2; });
  EXPECT_EQ(register_client(per_address, body).status, 201);
  EXPECT_EQ(register_client(per_address, body).status, 201);
  EXPECT_EQ(register_client(per_address, body).status, 429);

  Harness capped([](AuthServerOptions& o) { o.dcr.max_clients = 2; });
  EXPECT_EQ(register_client(capped, body).status, 201);
  EXPECT_EQ(register_client(capped, body).status, 201);
  EXPECT_EQ(register_client(capped, body).status, 429);
}

TEST(DynamicRegistration, DisabledIsRefusedAndNotAdvertised) {
  Harness h([](AuthServerOptions& o) { o.dcr.enabled = false; });
  EXPECT_EQ(register_client(h, R"({"redirect_uris":["https://a.example/cb"]})").status, 403);
  EXPECT_FALSE(json_of(h.request("GET", "/.well-known/oauth-authorization-server")).contains("registration_endpoint"));
}

TEST(DynamicRegistration, OversizedBodyIsRefused) {
  Harness h;
  EXPECT_EQ(register_client(h, std::string(20'000, ' ')).status, 413);
}

}  // namespace
}  // namespace bastion::authserver::testing
