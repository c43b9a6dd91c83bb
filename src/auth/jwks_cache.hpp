// One issuer's signing keys: an immutable JwksSnapshot behind an atomic shared_ptr (readers on
// the request path never take a lock), refreshed by a background thread on a schedule, refetched
// on an unknown `kid` at most once per configured interval (key rotation without letting a
// stream of made-up kids hammer the issuer), and kept serving from the last good set while the
// issuer is down, up to a maximum staleness; past it no key is served (fail closed).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "auth/jose.hpp"
#include "core/result.hpp"
#include "http/client.hpp"

namespace bastion::auth {

struct JwksSnapshot {
  std::vector<Jwk> keys;
  std::chrono::system_clock::time_point fetched_at;

  bool has_kid(std::string_view kid) const;
};

struct JwksStats {
  std::uint64_t fetches_ok = 0;
  std::uint64_t fetches_failed = 0;
  std::uint64_t unknown_kid_refetches = 0;
  std::uint64_t refetches_throttled = 0;   // unknown kid seen inside the refetch interval
  std::uint64_t keys_skipped = 0;          // keys in fetched sets that could not be imported
  std::size_t keys = 0;                    // in the current snapshot
  std::optional<std::chrono::seconds> key_age;  // since the current snapshot was fetched
  bool stale = false;                      // older than max staleness: not served
};

struct JwksCacheOptions {
  // Where the set lives: a configured jwks_uri, or discovery from the issuer. Called before each
  // fetch until it succeeds once, so an issuer that is down at start-up is found later.
  std::function<Result<std::string>()> locate;
  http::ClientOptions client;
  std::chrono::seconds refresh_interval{300};
  std::chrono::seconds failed_refresh_retry{10};  // next attempt after a failed refresh
  std::chrono::seconds unknown_kid_refetch_interval{30};
  std::chrono::seconds max_staleness{24 * 3600};
};

class JwksCache {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  JwksCache(JwksCacheOptions options, http::Fetcher fetcher, Clock clock = {});
  ~JwksCache();
  JwksCache(const JwksCache&) = delete;
  JwksCache& operator=(const JwksCache&) = delete;

  // Starts the background refresher (first fetch at once). Without it, keys are fetched on
  // first use, rate-limited by the refetch interval.
  void start();
  void stop();

  // The snapshot to verify against: refetched first (synchronously, at most once per refetch
  // interval across all callers) when there is none or when `kid` is set and unknown. nullptr
  // when no usable set exists (never fetched, or older than max staleness).
  std::shared_ptr<const JwksSnapshot> keys_for(std::string_view kid);
  // The current snapshot without any fetch (nullptr as above).
  std::shared_ptr<const JwksSnapshot> current() const;

  // One fetch now; true when a new set was installed. Failures keep the last good set.
  bool refresh();
  JwksStats stats() const;

 private:
  std::chrono::system_clock::time_point now() const;
  bool usable(const JwksSnapshot& snapshot) const;
  void run();

  JwksCacheOptions options_;
  http::Fetcher fetcher_;
  Clock clock_;
  std::atomic<std::shared_ptr<const JwksSnapshot>> snapshot_;

  std::mutex fetch_mutex_;  // one fetch at a time
  std::string jwks_uri_;    // under fetch_mutex_
  // Last on-demand fetch, under fetch_mutex_: one clock for "no set at all" (issuer down at
  // start) and one for unknown kids, so a first fetch does not delay a rotation right after it.
  std::optional<std::chrono::system_clock::time_point> last_empty_fetch_, last_unknown_kid_;

  std::atomic<std::uint64_t> fetches_ok_{0}, fetches_failed_{0}, unknown_kid_refetches_{0}, throttled_{0},
      keys_skipped_{0};

  std::mutex thread_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace bastion::auth
