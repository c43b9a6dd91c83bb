// Tokens already verified on one route: keyed by the SHA-256 of the token (the token itself is
// not kept), bounded in entries, and never served past the token's `exp` or a maximum age (so
// a key removed from the JWKS stops being honoured within that age).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string_view>
#include <unordered_map>

#include "bastion/types.hpp"
#include "core/sha256.hpp"

namespace bastion::auth {

class VerifiedTokenCache {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  VerifiedTokenCache(std::size_t max_entries, std::chrono::seconds max_age);

  struct Hit {
    std::shared_ptr<const Principal> principal;
    int jwks_issuer = -1;  // the issuer whose key set verified it; -1: introspected
  };
  Hit find(std::string_view token, TimePoint now);
  // `until`: the earliest moment the entry must be gone (exp, or an introspection bound).
  void insert(std::string_view token, std::shared_ptr<const Principal> principal, TimePoint until, TimePoint now,
              int jwks_issuer = -1);
  std::size_t size() const;

 private:
  struct DigestHash {
    std::size_t operator()(const core::Sha256Digest& d) const;
  };
  struct Entry {
    std::shared_ptr<const Principal> principal;
    TimePoint until;
    int jwks_issuer;
  };
  void evict_locked(TimePoint now);

  const std::size_t max_entries_;
  const std::chrono::seconds max_age_;
  mutable std::shared_mutex mutex_;  // shared for lookups (every request), exclusive to change
  std::unordered_map<core::Sha256Digest, Entry, DigestHash> entries_;
};

}  // namespace bastion::auth
