// Passwords are stored only as salted, memory-hard argon2id hashes in the PHC string format
// ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>"), as OWASP's Password Storage Cheat Sheet
// recommends (argon2id, m=19 MiB, t=2, p=1 is its first configuration).
//
// Cost: one verification takes ~20-40 ms of one core and 19 MiB. It runs on the authorization
// server's worker threads, never on an I/O thread, and login attempts are rate limited, so a
// flood of logins costs bounded CPU and memory (workers x 19 MiB).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bastion::authserver {

struct PasswordCost {
  std::uint32_t memory_kib = 19 * 1024;
  std::uint32_t iterations = 2;
  std::uint32_t parallelism = 1;
};

class PasswordHasher {
 public:
  explicit PasswordHasher(PasswordCost cost = {}) : cost_(cost) {}

  // A PHC string with a fresh 16-byte salt from the CSPRNG; nullopt if argon2 fails (out of
  // memory).
  std::optional<std::string> hash(std::string_view password) const;

  // True when `password` matches the PHC string. A malformed or non-argon2id hash is false
  // (fail closed). The comparison inside libargon2 is constant-time.
  bool verify(std::string_view password, const std::string& encoded) const;

  // Burns the same work as one verify(): used when the user does not exist, so the response
  // time does not reveal which user names exist.
  void verify_dummy(std::string_view password) const;

  // A random password for the first-start admin: 20 characters from an unambiguous alphabet
  // (~110 bits).
  static std::string random_password();

  // True for a string that looks like an argon2id PHC hash (config validation).
  static bool looks_like_hash(std::string_view encoded);

 private:
  PasswordCost cost_;
};

}  // namespace bastion::authserver
