#include "core/aead.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <limits>
#include <memory>
#include <stdexcept>

namespace bastion::core {
namespace {

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

int checked_len(std::size_t n) {
  if (n > static_cast<std::size_t>(std::numeric_limits<int>::max())) throw std::length_error("AEAD input too large");
  return static_cast<int>(n);
}

}  // namespace

AeadKey aead_generate_key() {
  AeadKey key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) throw std::runtime_error("CSPRNG failure");
  return key;
}

void secure_wipe(void* data, std::size_t size) { OPENSSL_cleanse(data, size); }

std::string aes256gcm_seal(const AeadKey& key, std::string_view plaintext, std::string_view aad) {
  std::string out(kAeadNonceBytes + plaintext.size() + kAeadTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  // A random 96-bit nonce per message; with one key this stays far below the 2^32 messages
  // SP 800-38D allows for random nonces, and keys rotate.
  if (RAND_bytes(nonce, static_cast<int>(kAeadNonceBytes)) != 1) throw std::runtime_error("CSPRNG failure");

  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) throw std::runtime_error("EVP_CIPHER_CTX_new failed");
  int len = 0;
  auto* ct = nonce + kAeadNonceBytes;
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kAeadNonceBytes), nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce) != 1)
    throw std::runtime_error("AES-256-GCM init failed");
  if (!aad.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(aad), checked_len(aad.size())) != 1)
    throw std::runtime_error("AES-256-GCM aad failed");
  int written = 0;
  if (!plaintext.empty()) {
    if (EVP_EncryptUpdate(ctx.get(), ct, &len, bytes(plaintext), checked_len(plaintext.size())) != 1)
      throw std::runtime_error("AES-256-GCM encrypt failed");
    written = len;
  }
  if (EVP_EncryptFinal_ex(ctx.get(), ct + written, &len) != 1) throw std::runtime_error("AES-256-GCM final failed");
  written += len;
  auto* tag = ct + written;
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kAeadTagBytes), tag) != 1)
    throw std::runtime_error("AES-256-GCM tag failed");
  out.resize(kAeadNonceBytes + static_cast<std::size_t>(written) + kAeadTagBytes);
  return out;
}

std::optional<std::string> aes256gcm_open(const AeadKey& key, std::string_view sealed, std::string_view aad) {
  if (sealed.size() < kAeadNonceBytes + kAeadTagBytes) return std::nullopt;
  const auto* nonce = bytes(sealed);
  std::string_view ct = sealed.substr(kAeadNonceBytes, sealed.size() - kAeadNonceBytes - kAeadTagBytes);
  std::string tag(sealed.substr(sealed.size() - kAeadTagBytes));

  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return std::nullopt;
  std::string out(ct.size(), '\0');
  int len = 0;
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kAeadNonceBytes), nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce) != 1)
    return std::nullopt;
  if (aad.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()) ||
      ct.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    return std::nullopt;
  if (!aad.empty() && EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(aad), static_cast<int>(aad.size())) != 1)
    return std::nullopt;
  int written = 0;
  if (!ct.empty()) {
    if (EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, bytes(ct),
                          static_cast<int>(ct.size())) != 1)
      return std::nullopt;
    written = len;
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kAeadTagBytes), tag.data()) != 1)
    return std::nullopt;
  // The tag is checked here; on mismatch nothing decrypted is returned.
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + written, &len) != 1)
    return std::nullopt;
  out.resize(static_cast<std::size_t>(written + len));
  return out;
}

}  // namespace bastion::core
