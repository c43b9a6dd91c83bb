// Uncached token verification per core (Google Benchmark): the whole TokenVerifier path for one
// JWT (limits, base64url, strict JSON, key lookup in the JWKS snapshot, OpenSSL verify, claim
// checks, Principal mapping), next to the bare OpenSSL signature check of the same token.
// bench/auth/run.sh compares these with `openssl speed` in the same run. One thread: per core.
#include <benchmark/benchmark.h>

#include "auth/jwt_support.hpp"
#include "auth/profiles.hpp"
#include "auth/route_authenticator.hpp"
#include "auth/token_verifier.hpp"

namespace {

using namespace bastion;
using namespace bastion::auth;
using namespace bastion::auth::testing;

struct Setup {
  TestKey key;
  std::string alg;
  std::shared_ptr<TokenVerifier> verifier;
  VerifyTarget target;
  std::string token;
  std::shared_ptr<const JwksSnapshot> snapshot;

  Setup(TestKey k, std::string a) : key(std::move(k)), alg(std::move(a)) {
    const std::string doc = jwks({public_jwk(key, "k1")});
    IssuerSettings s;
    s.name = "bench";
    s.issuer = "https://issuer.bench";
    s.jwks_uri = "https://issuer.bench/jwks";
    s.algorithms = {*parse_alg(alg)};
    verifier = std::make_shared<TokenVerifier>(
        std::vector<IssuerSettings>{s},
        [doc](const http::ClientRequest&, const http::ClientOptions&) -> Result<http::ClientResponse> {
          return http::ClientResponse{200, {}, doc, ""};
        });
    target = VerifyTarget{{0}, {"https://mcp.bench/mcp"}};
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    token = make_jwt({{"alg", alg}, {"kid", "k1"}, {"typ", "at+jwt"}},
                     {{"iss", "https://issuer.bench"}, {"sub", "user-1234"}, {"aud", "https://mcp.bench/mcp"},
                      {"exp", now + 3600}, {"iat", now}, {"client_id", "bench-client"}, {"scope", "mcp tools:call"},
                      {"jti", "0123456789abcdef"}},
                     key);
    if (!verifier->verify(token, target)) throw std::runtime_error("setup token does not verify");
  }
};

Setup& setup_for(const std::string& alg) {
  static Setup rs(make_rsa(2048), "RS256");
  static Setup es(make_ec("P-256"), "ES256");
  static Setup ed(make_ed25519(), "EdDSA");
  return alg == "RS256" ? rs : alg == "ES256" ? es : ed;
}

void verify_token(benchmark::State& state, const std::string& alg) {
  Setup& s = setup_for(alg);
  for (auto _ : state) {
    auto r = s.verifier->verify(s.token, s.target);
    benchmark::DoNotOptimize(r);
    if (!r) state.SkipWithError("verification failed");
  }
  state.SetItemsProcessed(state.iterations());
}

void openssl_verify(benchmark::State& state, const std::string& alg) {
  Setup& s = setup_for(alg);
  auto jws = parse_compact_jws(s.token, JoseLimits{});
  auto jwk = import_jwk(public_jwk(s.key, "k1"));
  const JwsAlg a = *parse_alg(alg);
  for (auto _ : state) {
    bool ok = verify_signature(a, jwk->key.get(), jws->signing_input, jws->signature);
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
}

void openssl_verify_prepared(benchmark::State& state, const std::string& alg) {
  Setup& s = setup_for(alg);
  auto jws = parse_compact_jws(s.token, JoseLimits{});
  auto jwk = import_jwk(public_jwk(s.key, "k1"));
  const JwsAlg a = *parse_alg(alg);
  for (auto _ : state) {
    bool ok = verify_signature(a, *jwk, jws->signing_input, jws->signature);
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
}
// The non-cryptographic part alone: limits, base64url, strict JSON of header and claims.
void parse_only(benchmark::State& state) {
  Setup& s = setup_for("RS256");
  for (auto _ : state) {
    auto jws = parse_compact_jws(s.token, JoseLimits{});
    benchmark::DoNotOptimize(jws);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(parse_only);

// What an authenticated request costs a route once its token is cached (the steady state of a
// client): bearer extraction, the SHA-256 cache lookup, the route's scopes, then the per-request
// scope policy of a tools/call. Threads share one authenticator, as the I/O threads do.
void authenticate_cached(benchmark::State& state) {
  static RouteAuthenticator* route = [] {
    Setup& s = setup_for("EdDSA");
    RouteAuthSettings settings;
    settings.scopes.route_scopes = {"mcp"};
    settings.scopes.tools = {{"admin_*", {"admin"}}};
    auto* r = new RouteAuthenticator(s.verifier, "/mcp", settings);
    r->set_resource("https://mcp.bench/mcp");
    return r;
  }();
  http::Request request;
  request.method = "POST";
  request.path = "/mcp";
  request.headers.add("Host", "127.0.0.1:8080");
  request.headers.add("Content-Type", "application/json");
  request.headers.add("Accept", "application/json, text/event-stream");
  request.headers.add("Mcp-Session-Id", "0123456789abcdef0123456789abcdef");
  request.headers.add("Authorization", "Bearer " + setup_for("EdDSA").token);
  for (auto _ : state) {
    auto outcome = route->authenticate(request);
    auto* p = std::get_if<std::shared_ptr<const Principal>>(&outcome);
    if (!p) {
      state.SkipWithError("not authenticated");
      break;
    }
    auto denied = route->authorize(p->get(), "tools/call", "echo", {});
    benchmark::DoNotOptimize(denied);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(authenticate_cached)->Threads(1)->Threads(2);

BENCHMARK_CAPTURE(openssl_verify_prepared, RS256, std::string("RS256"));
BENCHMARK_CAPTURE(openssl_verify_prepared, ES256, std::string("ES256"));

BENCHMARK_CAPTURE(verify_token, RS256, std::string("RS256"));
BENCHMARK_CAPTURE(verify_token, ES256, std::string("ES256"));
BENCHMARK_CAPTURE(verify_token, EdDSA, std::string("EdDSA"));
BENCHMARK_CAPTURE(openssl_verify, RS256, std::string("RS256"));
BENCHMARK_CAPTURE(openssl_verify, ES256, std::string("ES256"));
BENCHMARK_CAPTURE(openssl_verify, EdDSA, std::string("EdDSA"));

}  // namespace

BENCHMARK_MAIN();
