// Sealed MRTR requestState: round trip, tampering, binding, expiry and key rotation.
#include <gtest/gtest.h>

#include "core/aead.hpp"
#include "core/base64.hpp"
#include "core/sha256.hpp"
#include "jsonrpc/error_codes.hpp"
#include "mcp/request_state.hpp"

namespace json = boost::json;
using namespace bastion;
using namespace std::chrono_literals;
using mcp::RequestBinding;
using mcp::RequestStateSealer;

namespace {

std::string key_of(char fill) { return core::base64_encode(std::string(32, fill)); }

RequestBinding binding(std::string method = "tools/call", std::string principal = {}) {
  return RequestBinding{std::move(method), mcp::params_digest(json::parse(R"({"name":"t","arguments":{"a":1}})").as_object()),
                        std::move(principal)};
}

// A clock the test moves by hand.
struct FakeClock {
  RequestStateSealer::Clock::time_point now = RequestStateSealer::Clock::now();
  std::function<RequestStateSealer::Clock::time_point()> fn() {
    return [this] { return now; };
  }
};

}  // namespace

TEST(Aead, SealsAndOpensWithTheSameKeyAndAssociatedData) {
  core::AeadKey key = core::aead_generate_key();
  std::string sealed = core::aes256gcm_seal(key, "secret", "aad");
  EXPECT_EQ(sealed.size(), core::kAeadNonceBytes + 6 + core::kAeadTagBytes);
  EXPECT_EQ(core::aes256gcm_open(key, sealed, "aad"), "secret");
  EXPECT_FALSE(core::aes256gcm_open(key, sealed, "other aad"));
  EXPECT_FALSE(core::aes256gcm_open(core::aead_generate_key(), sealed, "aad"));
  std::string flipped = sealed;
  flipped[core::kAeadNonceBytes] ^= 1;
  EXPECT_FALSE(core::aes256gcm_open(key, flipped, "aad"));
  EXPECT_FALSE(core::aes256gcm_open(key, sealed.substr(0, 10), "aad"));
  // Fresh nonce every time.
  EXPECT_NE(core::aes256gcm_seal(key, "secret", "aad"), sealed);
  EXPECT_EQ(core::aes256gcm_open(key, core::aes256gcm_seal(key, "", ""), ""), "");
}

TEST(Sha256, KnownVector) {
  EXPECT_EQ(core::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(RequestState, RoundTripsTheHandlersState) {
  RequestStateSealer sealer({key_of('a')}, 10min);
  EXPECT_FALSE(sealer.generated_key());
  std::string token = sealer.seal(binding(), R"({"step":2})");
  EXPECT_EQ(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."), std::string::npos)
      << "URL-safe ASCII only: " << token;
  EXPECT_EQ(token.find(R"("step")"), std::string::npos) << "the state is encrypted, not just signed";
  auto opened = sealer.open(binding(), token);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(*opened, R"({"step":2})");
  // Each seal is different (random nonce), so two rounds never share a token.
  EXPECT_NE(sealer.seal(binding(), R"({"step":2})"), token);
}

TEST(RequestState, TamperedTokensAreInvalidParams) {
  RequestStateSealer sealer({key_of('a')}, 10min);
  std::string token = sealer.seal(binding(), "state");
  std::vector<std::string> bad = {token + "-TAMPERED", token.substr(0, token.size() - 2), "", "v1", "v1..", "v2" + token.substr(2),
                                  "not a token at all", token + "="};
  std::string flipped = token;
  flipped[flipped.size() - 5] = flipped[flipped.size() - 5] == 'A' ? 'B' : 'A';
  bad.push_back(flipped);
  for (const auto& t : bad) {
    auto opened = sealer.open(binding(), t);
    ASSERT_FALSE(opened) << t;
    EXPECT_EQ(opened.error().code, jsonrpc::kInvalidParams);
    EXPECT_EQ(opened.error().http_status, 400);
  }
}

TEST(RequestState, IsBoundToMethodParamsAndPrincipal) {
  RequestStateSealer sealer({key_of('a')}, 10min);
  std::string token = sealer.seal(binding("tools/call", "alice"), "state");
  EXPECT_TRUE(sealer.open(binding("tools/call", "alice"), token));
  EXPECT_FALSE(sealer.open(binding("prompts/get", "alice"), token));
  EXPECT_FALSE(sealer.open(binding("tools/call", "bob"), token));
  EXPECT_FALSE(sealer.open(binding("tools/call", ""), token));
  RequestBinding other = binding("tools/call", "alice");
  other.params_digest = mcp::params_digest(json::parse(R"({"name":"t","arguments":{"a":2}})").as_object());
  EXPECT_FALSE(sealer.open(other, token));
}

TEST(RequestState, ExpiresAfterItsLifetime) {
  FakeClock clock;
  RequestStateSealer sealer({key_of('a')}, 10min, clock.fn());
  std::string token = sealer.seal(binding(), "state");
  clock.now += 9min;
  EXPECT_TRUE(sealer.open(binding(), token));
  clock.now += 61s;
  auto opened = sealer.open(binding(), token);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, jsonrpc::kInvalidParams);
  EXPECT_NE(opened.error().message.find("expired"), std::string::npos);
}

TEST(RequestState, KeyRingRotation) {
  RequestStateSealer old_ring({key_of('a')}, 10min);
  RequestStateSealer rotated({key_of('b'), key_of('a')}, 10min);
  RequestStateSealer retired({key_of('b')}, 10min);
  std::string old_token = old_ring.seal(binding(), "old");
  // Every key of the ring opens; the token names its key.
  EXPECT_EQ(rotated.open(binding(), old_token).value_or(""), "old");
  EXPECT_FALSE(retired.open(binding(), old_token));
  // The first key seals.
  std::string new_token = rotated.seal(binding(), "new");
  EXPECT_EQ(retired.open(binding(), new_token).value_or(""), "new");
  EXPECT_FALSE(old_ring.open(binding(), new_token));
  EXPECT_NE(new_token.substr(0, new_token.rfind('.')), old_token.substr(0, old_token.rfind('.')));
}

TEST(RequestState, RefusesMalformedKeysAndGeneratesOneWhenNoneIsConfigured) {
  EXPECT_THROW(RequestStateSealer({"not base64!"}, 10min), std::invalid_argument);
  EXPECT_THROW(RequestStateSealer({core::base64_encode(std::string(16, 'x'))}, 10min), std::invalid_argument);
  EXPECT_THROW(RequestStateSealer({key_of('a'), key_of('a')}, 10min), std::invalid_argument);
  EXPECT_THROW(RequestStateSealer({key_of('a')}, 0ms), std::invalid_argument);
  RequestStateSealer generated({}, 10min);
  EXPECT_TRUE(generated.generated_key());
  EXPECT_EQ(generated.open(binding(), generated.seal(binding(), "x")).value_or(""), "x");
  // Two processes without configured keys do not understand each other.
  RequestStateSealer other({}, 10min);
  EXPECT_FALSE(other.open(binding(), generated.seal(binding(), "x")));
}

TEST(RequestState, ParamsDigestIgnoresRoundTripFieldsAndMemberOrder) {
  auto d = [](std::string_view text) { return mcp::params_digest(json::parse(text).as_object()); };
  std::string base = d(R"({"name":"t","arguments":{"a":1,"b":[1,2,{"x":"y"}]}})");
  EXPECT_EQ(base.size(), 64u);
  EXPECT_EQ(base, d(R"({"arguments":{"b":[1,2,{"x":"y"}],"a":1},"name":"t"})"));
  EXPECT_EQ(base, d(R"({"name":"t","arguments":{"a":1,"b":[1,2,{"x":"y"}]},"_meta":{"k":1},"inputResponses":{},"requestState":"s"})"));
  EXPECT_NE(base, d(R"({"name":"t","arguments":{"a":1,"b":[2,1,{"x":"y"}]}})"));
  EXPECT_NE(base, d(R"({"name":"u","arguments":{"a":1,"b":[1,2,{"x":"y"}]}})"));
}

TEST(RequestState, PrincipalBinding) {
  EXPECT_EQ(mcp::principal_binding(nullptr), "");
  Principal a{"https://issuer", "alice", "client", {}, {}, {}};
  Principal b{"https://other", "alice", "client", {}, {}, {}};
  EXPECT_NE(mcp::principal_binding(&a), mcp::principal_binding(&b));
  EXPECT_NE(mcp::principal_binding(&a), "");
}
