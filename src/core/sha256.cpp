#include "core/sha256.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace bastion::core {

Sha256Digest sha256(std::string_view data) {
  Sha256Digest out{};
  unsigned int len = 0;
  // Fetched once: EVP_sha256() makes OpenSSL 3 look the implementation up on every call
  // (an implicit fetch, with locks), which shows on paths that digest per request.
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  // One context per thread, reused: EVP_Digest would allocate and free one per call.
  struct Context {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Context() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Context context;
  // These only fail when OpenSSL cannot provide the algorithm at all.
  if (!md || !context.ctx || EVP_DigestInit_ex2(context.ctx, md, nullptr) != 1 ||
      EVP_DigestUpdate(context.ctx, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(context.ctx, out.data(), &len) != 1 || len != out.size())
    throw std::runtime_error("SHA-256 failed");
  return out;
}

void append_sha256_hex(std::string& out, std::string_view data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  const auto d = sha256(data);
  char hex[2 * std::tuple_size_v<Sha256Digest>];
  for (std::size_t i = 0; i < d.size(); ++i) {
    hex[2 * i] = kDigits[d[i] >> 4];
    hex[2 * i + 1] = kDigits[d[i] & 0xf];
  }
  out.append(hex, sizeof hex);
}

std::string sha256_hex(std::string_view data) {
  std::string out;
  append_sha256_hex(out, data);
  return out;
}

}  // namespace bastion::core
