// A bounded fixed-window counter per key (login attempts per user and per address, client
// registrations per address and in total). The map never holds more than `max_keys` entries:
// expired windows are dropped first, and when every slot is live a new key is refused (fail
// closed: under a flood of distinct keys we refuse rather than forget who was limited).
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace bastion::authserver {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  RateLimiter(std::size_t limit, std::chrono::seconds window, std::size_t max_keys)
      : limit_(limit), window_(window), max_keys_(max_keys) {}

  // Counts one event for `key`; false when the key already used its `limit` in this window.
  bool allow(const std::string& key, Clock::time_point now) {
    std::lock_guard lock(mutex_);
    auto it = counts_.find(key);
    if (it != counts_.end() && now - it->second.start >= window_) {
      it->second = Window{now, 0};
    }
    if (it == counts_.end()) {
      if (counts_.size() >= max_keys_) sweep(now);
      if (counts_.size() >= max_keys_) return false;
      it = counts_.emplace(key, Window{now, 0}).first;
    }
    if (it->second.count >= limit_) return false;
    ++it->second.count;
    return true;
  }

  // True when `key` has used up its window (without counting anything).
  bool exhausted(const std::string& key, Clock::time_point now) {
    std::lock_guard lock(mutex_);
    auto it = counts_.find(key);
    return it != counts_.end() && now - it->second.start < window_ && it->second.count >= limit_;
  }

  void reset(const std::string& key) {
    std::lock_guard lock(mutex_);
    counts_.erase(key);
  }

  std::size_t size() {
    std::lock_guard lock(mutex_);
    return counts_.size();
  }

 private:
  struct Window {
    Clock::time_point start;
    std::size_t count = 0;
  };
  void sweep(Clock::time_point now) {
    for (auto it = counts_.begin(); it != counts_.end();) {
      if (now - it->second.start >= window_) it = counts_.erase(it);
      else ++it;
    }
  }

  std::mutex mutex_;
  std::size_t limit_;
  std::chrono::seconds window_;
  std::size_t max_keys_;
  std::unordered_map<std::string, Window> counts_;
};

}  // namespace bastion::authserver
