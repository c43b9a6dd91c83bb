#include "authserver/password_hasher.hpp"

#include <argon2.h>
#include <openssl/rand.h>

#include <array>
#include <mutex>
#include <vector>

namespace bastion::authserver {

namespace {
constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;
// Passwords longer than this are refused before hashing: argon2 accepts any length, but a
// megabyte "password" is only a way to burn our CPU.
constexpr std::size_t kMaxPasswordBytes = 1024;
}  // namespace

std::optional<std::string> PasswordHasher::hash(std::string_view password) const {
  if (password.size() > kMaxPasswordBytes) return std::nullopt;
  std::array<unsigned char, kSaltBytes> salt{};
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) return std::nullopt;
  const std::size_t length = argon2_encodedlen(cost_.iterations, cost_.memory_kib, cost_.parallelism, kSaltBytes,
                                               kHashBytes, Argon2_id);
  std::vector<char> encoded(length);
  const int rc = argon2id_hash_encoded(cost_.iterations, cost_.memory_kib, cost_.parallelism, password.data(),
                                       password.size(), salt.data(), salt.size(), kHashBytes, encoded.data(),
                                       encoded.size());
  if (rc != ARGON2_OK) return std::nullopt;
  return std::string(encoded.data());
}

bool PasswordHasher::verify(std::string_view password, const std::string& encoded) const {
  if (password.size() > kMaxPasswordBytes || !looks_like_hash(encoded)) return false;
  return argon2id_verify(encoded.c_str(), password.data(), password.size()) == ARGON2_OK;
}

void PasswordHasher::verify_dummy(std::string_view password) const {
  // One hash of the same cost, made once.
  static std::once_flag once;
  static std::string dummy;
  std::call_once(once, [&] { dummy = hash("bastion-dummy-password").value_or(""); });
  (void)verify(password, dummy);
}

std::string PasswordHasher::random_password() {
  static constexpr char kAlphabet[] = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  constexpr std::size_t kAlphabetSize = sizeof(kAlphabet) - 1;  // 55
  std::string out;
  while (out.size() < 20) {
    unsigned char byte = 0;
    if (RAND_bytes(&byte, 1) != 1) continue;
    // Rejection sampling keeps the distribution uniform.
    if (byte >= 256 - (256 % kAlphabetSize)) continue;
    out += kAlphabet[byte % kAlphabetSize];
  }
  return out;
}

bool PasswordHasher::looks_like_hash(std::string_view encoded) {
  return encoded.starts_with("$argon2id$") && encoded.size() < 512;
}

}  // namespace bastion::authserver
