#include "core/sha256.hpp"

// OpenSSL's direct SHA-256 functions, deprecated since 3.0 in favour of EVP but still built:
// re-initialising an EVP context takes the engine table's lock and frees and allocates the
// provider's state on every digest, which showed on the request path (the argument digest of
// every tools/call; bench/telemetry/compare.sh: -50 to -150 ns per request with cold caches, and
// half the digest's share of the loaded server's CPU). These
// are the same SHA-NI/AVX code without the dispatch. They bypass OpenSSL's providers, so a
// FIPS provider configuration does not apply to these digests (none of them protects a secret:
// PKCE S256 and key ids are public-input hashes, the rest are pseudonyms for logs, keyed where
// their input could be guessed).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>

#ifdef OPENSSL_NO_DEPRECATED_3_0
#error "Bastion needs OpenSSL built with its 3.0-deprecated APIs (SHA256_Init) for core/sha256.cpp"
#endif

#include <algorithm>
#include <new>
#include <stdexcept>

#include "core/hex.hpp"

namespace bastion::core {

namespace {

static_assert(sizeof(SHA256_CTX) <= 112 && alignof(SHA256_CTX) <= 8, "Sha256Stream::state_ must hold a SHA256_CTX");

SHA256_CTX* context(unsigned char* state) { return std::launder(reinterpret_cast<SHA256_CTX*>(state)); }
const SHA256_CTX* context(const unsigned char* state) {
  return std::launder(reinterpret_cast<const SHA256_CTX*>(state));
}

[[noreturn]] void sha256_failed() { throw std::runtime_error("SHA-256 failed"); }

}  // namespace

Sha256Stream::Sha256Stream() {
  // SHA256_CTX is a plain C struct: placement-new value-initialises it before SHA256_Init.
  if (SHA256_Init(new (state_) SHA256_CTX{}) != 1) sha256_failed();
}

// SHA256_CTX holds no pointers: a copy of it is a stream of its own.
Sha256Stream::Sha256Stream(const Sha256Stream& other) { new (state_) SHA256_CTX(*context(other.state_)); }

void Sha256Stream::update(std::string_view data) {
  if (SHA256_Update(context(state_), data.data(), data.size()) != 1) sha256_failed();
}

Sha256Digest Sha256Stream::finish() {
  Sha256Digest out{};
  if (SHA256_Final(out.data(), context(state_)) != 1) sha256_failed();
  return out;
}

Sha256Digest sha256(std::string_view data) {
  Sha256Stream stream;
  stream.update(data);
  return stream.finish();
}

HmacSha256::HmacSha256(std::string_view key) {
  constexpr std::size_t kBlockBytes = 64;
  std::array<unsigned char, kBlockBytes> block{};
  if (key.size() > kBlockBytes) {
    const Sha256Digest hashed = sha256(key);
    std::copy(hashed.begin(), hashed.end(), block.begin());
  } else {
    std::copy(key.begin(), key.end(), block.begin());
  }
  const auto absorb = [&block](Sha256Stream& stream, unsigned char pad) {
    std::array<unsigned char, kBlockBytes> padded;
    for (std::size_t i = 0; i < kBlockBytes; ++i) padded[i] = static_cast<unsigned char>(block[i] ^ pad);
    stream.update(std::string_view(reinterpret_cast<const char*>(padded.data()), padded.size()));
    OPENSSL_cleanse(padded.data(), padded.size());
  };
  absorb(inner_, 0x36);
  absorb(outer_, 0x5c);
  OPENSSL_cleanse(block.data(), block.size());
}

Sha256Digest HmacSha256::Stream::finish() {
  const Sha256Digest inner = inner_.finish();
  Sha256Stream outer = key_.outer_;
  outer.update(std::string_view(reinterpret_cast<const char*>(inner.data()), inner.size()));
  return outer.finish();
}

Sha256Digest HmacSha256::digest(std::string_view message) const {
  Stream stream(*this);
  stream.update(message);
  return stream.finish();
}

std::string sha256_hex(std::string_view data) {
  const Sha256Digest digest = sha256(data);
  std::string out(2 * digest.size(), '\0');
  hex_into(digest.data(), digest.size(), out.data());
  return out;
}

}  // namespace bastion::core
