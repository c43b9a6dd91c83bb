#include "core/sha256.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace bastion::core {

struct Sha256Stream::Context {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool busy = false;
  ~Context() { EVP_MD_CTX_free(ctx); }
};

namespace {

[[noreturn]] void sha256_failed() { throw std::runtime_error("SHA-256 failed"); }

}  // namespace

Sha256Stream::Sha256Stream() {
  // One context per thread, reused: a fresh one allocates twice (the context and OpenSSL's
  // algorithm state) on paths that digest per request.
  thread_local Context shared;
  owned_ = shared.busy;
  context_ = owned_ ? new Context : &shared;
  context_->busy = true;
  // Fetched once: EVP_sha256() makes OpenSSL 3 look the implementation up on every call
  // (an implicit fetch, with locks), which shows on paths that digest per request.
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  // These only fail when OpenSSL cannot provide the algorithm at all.
  if (!md || !context_->ctx || EVP_DigestInit_ex2(context_->ctx, md, nullptr) != 1) {
    context_->busy = false;
    if (owned_) delete context_;
    sha256_failed();
  }
}

Sha256Stream::~Sha256Stream() {
  context_->busy = false;
  if (owned_) delete context_;
}

void Sha256Stream::update(std::string_view data) {
  if (EVP_DigestUpdate(context_->ctx, data.data(), data.size()) != 1) sha256_failed();
}

Sha256Digest Sha256Stream::finish() {
  Sha256Digest out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(context_->ctx, out.data(), &len) != 1 || len != out.size()) sha256_failed();
  return out;
}

Sha256Digest sha256(std::string_view data) {
  Sha256Stream stream;
  stream.update(data);
  return stream.finish();
}

void sha256_hex_into(const Sha256Digest& digest, char* out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (std::size_t i = 0; i < digest.size(); ++i) {
    out[2 * i] = kDigits[digest[i] >> 4];
    out[2 * i + 1] = kDigits[digest[i] & 0xf];
  }
}

std::string sha256_hex(std::string_view data) {
  std::string out(2 * std::tuple_size_v<Sha256Digest>, '\0');
  sha256_hex_into(sha256(data), out.data());
  return out;
}

}  // namespace bastion::core
