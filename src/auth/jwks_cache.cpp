#include "auth/jwks_cache.hpp"

#include <algorithm>

#include "core/thread_name.hpp"

namespace bastion::auth {

bool JwksSnapshot::has_kid(std::string_view kid) const {
  return std::any_of(keys.begin(), keys.end(), [&](const Jwk& k) { return k.kid == kid; });
}

JwksCache::JwksCache(JwksCacheOptions options, http::Fetcher fetcher, Clock clock)
    : options_(std::move(options)), fetcher_(std::move(fetcher)), clock_(std::move(clock)) {}

JwksCache::~JwksCache() { stop(); }

std::chrono::system_clock::time_point JwksCache::now() const {
  return clock_ ? clock_() : std::chrono::system_clock::now();
}

bool JwksCache::usable(const JwksSnapshot& s) const { return now() - s.fetched_at <= options_.max_staleness; }

std::shared_ptr<const JwksSnapshot> JwksCache::current() const {
  auto s = snapshot_.load();
  if (!s || !usable(*s)) return nullptr;
  return s;
}

bool JwksCache::refresh() {
  std::lock_guard lock(fetch_mutex_);
  if (jwks_uri_.empty()) {
    if (!options_.locate) {
      ++fetches_failed_;
      return false;
    }
    auto located = options_.locate();
    if (!located || located->empty()) {
      ++fetches_failed_;
      return false;
    }
    jwks_uri_ = *located;
  }
  http::ClientRequest request;
  request.url = jwks_uri_;
  request.headers.set("Accept", "application/jwk-set+json, application/json");
  auto response = fetcher_(request, options_.client);
  if (!response || response->status != 200) {
    ++fetches_failed_;
    return false;
  }
  std::size_t skipped = 0;
  auto keys = import_jwk_set(response->body, &skipped);
  keys_skipped_ += skipped;
  // An empty or unreadable set is a failed refresh, not a reason to drop working keys.
  if (!keys || keys->empty()) {
    ++fetches_failed_;
    return false;
  }
  auto snapshot = std::make_shared<JwksSnapshot>();
  snapshot->keys = std::move(*keys);
  snapshot->fetched_at = now();
  snapshot_.store(std::move(snapshot));
  ++fetches_ok_;
  return true;
}

std::shared_ptr<const JwksSnapshot> JwksCache::keys_for(std::string_view kid) {
  auto s = current();
  if (s && (kid.empty() || s->has_kid(kid))) return s;
  {
    std::lock_guard lock(fetch_mutex_);
    // Another caller may have refetched while this one waited.
    auto again = current();
    if (again && (kid.empty() || again->has_kid(kid))) return again;
    const auto t = now();
    auto& last = again ? last_unknown_kid_ : last_empty_fetch_;
    if (last && t - *last < options_.unknown_kid_refetch_interval) {
      ++throttled_;
      return again;
    }
    last = t;
    if (again) ++unknown_kid_refetches_;
  }
  refresh();
  return current();
}

JwksStats JwksCache::stats() const {
  JwksStats out;
  out.fetches_ok = fetches_ok_;
  out.fetches_failed = fetches_failed_;
  out.unknown_kid_refetches = unknown_kid_refetches_;
  out.refetches_throttled = throttled_;
  out.keys_skipped = keys_skipped_;
  if (auto s = snapshot_.load()) {
    out.keys = s->keys.size();
    out.key_age = std::chrono::duration_cast<std::chrono::seconds>(now() - s->fetched_at);
    out.stale = !usable(*s);
  }
  return out;
}

void JwksCache::start() {
  std::lock_guard lock(thread_mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    core::name_this_thread("jwks-refresh");
    run();
  });
}

void JwksCache::stop() {
  {
    std::lock_guard lock(thread_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void JwksCache::run() {
  for (;;) {
    const bool ok = refresh();
    std::unique_lock lock(thread_mutex_);
    const auto wait = ok ? options_.refresh_interval : std::min(options_.refresh_interval, options_.failed_refresh_retry);
    if (wake_.wait_for(lock, std::max(wait, std::chrono::seconds(1)), [this] { return stopping_; })) return;
  }
}

}  // namespace bastion::auth
