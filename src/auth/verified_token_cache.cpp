#include "auth/verified_token_cache.hpp"

#include <cstring>

namespace bastion::auth {

VerifiedTokenCache::VerifiedTokenCache(std::size_t max_entries, std::chrono::seconds max_age)
    : max_entries_(max_entries), max_age_(max_age) {}

std::size_t VerifiedTokenCache::DigestHash::operator()(const core::Sha256Digest& d) const {
  std::size_t h = 0;
  std::memcpy(&h, d.data(), sizeof h);  // already uniformly distributed
  return h;
}

VerifiedTokenCache::Hit VerifiedTokenCache::find(std::string_view token, TimePoint now) {
  if (max_entries_ == 0) return {};
  const auto key = core::sha256(token);
  std::shared_lock lock(mutex_);
  auto it = entries_.find(key);
  // An expired entry is not served; insert() sweeps it out later.
  if (it == entries_.end() || now >= it->second.until) return {};
  return Hit{it->second.principal, it->second.jwks_issuer};
}

void VerifiedTokenCache::insert(std::string_view token, std::shared_ptr<const Principal> principal, TimePoint until,
                                TimePoint now, int jwks_issuer) {
  if (max_entries_ == 0) return;
  until = std::min(until, now + max_age_);
  if (until <= now) return;
  const auto key = core::sha256(token);
  std::lock_guard lock(mutex_);
  if (entries_.size() >= max_entries_ && !entries_.contains(key)) evict_locked(now);
  entries_[key] = Entry{std::move(principal), until, jwks_issuer};
}

void VerifiedTokenCache::evict_locked(TimePoint now) {
  // Expired entries first; if none, the one that expires soonest (bounded, O(n) only when full).
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (now >= it->second.until) it = entries_.erase(it);
    else ++it;
  }
  if (entries_.size() < max_entries_) return;
  auto victim = entries_.begin();
  for (auto it = entries_.begin(); it != entries_.end(); ++it)
    if (it->second.until < victim->second.until) victim = it;
  if (victim != entries_.end()) entries_.erase(victim);
}

std::size_t VerifiedTokenCache::size() const {
  std::shared_lock lock(mutex_);
  return entries_.size();
}

}  // namespace bastion::auth
