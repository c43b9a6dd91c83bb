// Metrics: counters, gauges and histograms with fixed label sets, exposed in the Prometheus text
// format (version 0.0.4, https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Hot path: a series is found once per label-value combination under a shared (reader) lock and
// then updated with relaxed atomics; callers that know their label values up front keep the
// returned reference (it stays valid as long as the registry). New combinations take the writer
// lock once. Callback families are evaluated at scrape time only (sessions, streams, process).
//
// Label values are whatever the caller passes: never pass anything secret or unbounded (a
// token, a query string, a raw argument). docs/operations.md lists every metric.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/short_text.hpp"

namespace bastion::telemetry {

namespace detail {
// atomic<double>::fetch_add is C++20 but not lock-free everywhere; a CAS loop is.
inline void atomic_add(std::atomic<double>& target, double delta) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + delta, std::memory_order_relaxed)) {
  }
}
// The same for a double kept as its bits in an integer cell (a histogram's sum, stored among
// its counts).
inline void atomic_add_bits(std::atomic<std::uint64_t>& bits, double delta) {
  std::uint64_t current = bits.load(std::memory_order_relaxed);
  while (!bits.compare_exchange_weak(current, std::bit_cast<std::uint64_t>(std::bit_cast<double>(current) + delta),
                                     std::memory_order_relaxed)) {
  }
}

// Series values are sharded: each thread updates its own cache line, a scrape adds the shards
// up. Two I/O threads bumping one shared atomic would pass its cache line back and forth on
// every request (measured with bench/run.sh).
//
// A thread owns a shard while it lives, as long as fewer than kShards threads update metrics at
// once: the owner updates it with a plain load and store, no locked instruction. (A request
// makes about ten updates; a locked one waits for its cache line, which the rest of the request
// has usually pushed out, while a plain store goes to the store buffer and the thread goes on.)
// Threads beyond that share the last shard and update it atomically. A shard freed by an
// exiting thread keeps its counts and goes to the next thread.
inline constexpr std::size_t kShards = 8;
struct Shard {
  std::size_t index;
  bool owned;  // by this thread alone: plain updates
};
Shard this_thread_shard();

// `cell` += delta: a plain update on an owned shard, an atomic one on the shared shard.
inline void add_to(std::atomic<std::uint64_t>& cell, std::uint64_t delta, bool owned) {
  if (owned) cell.store(cell.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
  else cell.fetch_add(delta, std::memory_order_relaxed);
}
inline void add_to(std::atomic<double>& cell, double delta, bool owned) {
  if (owned) cell.store(cell.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
  else atomic_add(cell, delta);
}
inline void add_bits_to(std::atomic<std::uint64_t>& bits, double delta, bool owned) {
  if (owned)
    bits.store(std::bit_cast<std::uint64_t>(std::bit_cast<double>(bits.load(std::memory_order_relaxed)) + delta),
               std::memory_order_relaxed);
  else atomic_add_bits(bits, delta);
}

struct alignas(64) PaddedDouble {
  std::atomic<double> value{0};
};

// One sharded value: adds go to this thread's shard, reads sum every shard.
class ShardedSum {
 public:
  void add(double delta) {
    const Shard shard = this_thread_shard();
    add_to(shards_[shard.index].value, delta, shard.owned);
  }
  void set(double v) {
    shards_[0].value.store(v, std::memory_order_relaxed);
    for (std::size_t i = 1; i < kShards; ++i) shards_[i].value.store(0, std::memory_order_relaxed);
  }
  double value() const {
    double sum = 0;
    for (const auto& s : shards_) sum += s.value.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  PaddedDouble shards_[kShards];
};
}  // namespace detail

class Counter {
 public:
  // Counters only go up (a negative delta is ignored: Prometheus treats a decrease as a reset).
  void inc(double delta = 1) {
    if (delta > 0) sum_.add(delta);
  }
  double value() const { return sum_.value(); }

 private:
  detail::ShardedSum sum_;
};

class Gauge {
 public:
  // set() is for gauges that are only set, add() for those only added to; mixing the two on one
  // gauge concurrently may lose an add.
  void set(double v) { sum_.set(v); }
  void add(double delta) { sum_.add(delta); }
  double value() const { return sum_.value(); }

 private:
  detail::ShardedSum sum_;
};

// On a cache line of its own: every observe() on every thread reads the pointers below, and a
// heap neighbour that one thread writes would make the other threads' reads miss.
class alignas(64) Histogram {
 public:
  explicit Histogram(std::shared_ptr<const std::vector<double>> bounds);
  void observe(double value);
  const std::vector<double>& bounds() const { return *bounds_; }
  // Non-cumulative count of bucket i (i == bounds().size() is the +Inf bucket).
  std::uint64_t bucket(std::size_t i) const;
  std::uint64_t count() const;
  double sum() const;

 private:
  // Per shard, one run of cells: the sum (a double's bits), then a count per bucket. Runs start
  // on a cache line and fill whole lines, in a block of their own: a shard's lines hold nothing
  // another thread writes. (Counts allocated one array per shard, next to other heap objects,
  // shared lines with whatever came next; under bench/run.sh's load observe() then spent 0.24 to
  // 0.50 us per request in its two atomic updates, against 30 ns with warm, unshared lines.) The
  // sum shares its line with the first buckets, where short requests land.
  struct alignas(64) CacheLine {
    static constexpr std::size_t kCells = 8;
    std::atomic<std::uint64_t> cells[kCells]{};
  };
  std::atomic<std::uint64_t>& cell(std::size_t shard, std::size_t i) const {
    return lines_[shard * lines_per_shard_ + i / CacheLine::kCells].cells[i % CacheLine::kCells];
  }

  std::shared_ptr<const std::vector<double>> bounds_;
  std::size_t lines_per_shard_;  // 1 + buckets cells, rounded up to whole lines
  std::unique_ptr<CacheLine[]> lines_;
};

enum class MetricType { counter, gauge, histogram };

namespace detail {
using core::load_word;
// The n <= 8 bytes at p as one word, by loads of fixed size (a memcpy of n bytes is a call):
// overlapping halves from 4 bytes up, first, middle and last byte below. The caller mixes n in
// too, so overlaps cannot make two values of different lengths alike.
inline std::uint64_t load_bytes(const char* p, std::size_t n) {
  if (n == 8) return load_word<std::uint64_t>(p);
  if (n >= 4) return load_word<std::uint32_t>(p) | std::uint64_t{load_word<std::uint32_t>(p + n - 4)} << 32;
  if (n == 0) return 0;
  return std::uint64_t{static_cast<unsigned char>(p[0])} | std::uint64_t{static_cast<unsigned char>(p[n / 2])} << 8 |
         std::uint64_t{static_cast<unsigned char>(p[n - 1])} << 16;
}
inline std::uint64_t mix(std::uint64_t h, std::uint64_t word) {
  h = (h ^ word) * 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 29);
}
// A label value's contribution to a series' cache slot: inline multiply-and-xor steps over its
// 8-byte words (values are short: methods, routes, codes, tool names). std::hash was a call
// into libstdc++'s general byte hash per label, several labels per series, several series per
// request. Quality only spreads the cache's slots: a hit is confirmed against the whole key.
inline std::uint64_t hash_label(std::uint64_t h, std::string_view v) {
  h = mix(h, v.size());
  std::size_t i = 0;
  for (; v.size() - i > 8; i += 8) h = mix(h, load_bytes(v.data() + i, 8));
  return mix(h, load_bytes(v.data() + i, v.size() - i));
}
}  // namespace detail

// One metric name with its label names; one series per label-value combination.
template <class Series>
class Family {
 public:
  using Factory = std::function<std::unique_ptr<Series>()>;
  Family(std::vector<std::string> label_names, Factory factory)
      : label_names_(std::move(label_names)), factory_(std::move(factory)) {}

  // The series for these label values (as many as label names; missing ones are empty,
  // extra ones ignored). The reference stays valid for the registry's lifetime.
  Series& with(std::initializer_list<std::string_view> values) {
    return with(std::span<const std::string_view>(values.begin(), values.size()));
  }
  Series& with(std::span<const std::string_view> values) {
    // A per-thread, direct-mapped cache in front of the shared lock (whose word every reader
    // writes). A hit allocates nothing: every request resolves several series, and building a
    // key string per lookup showed in the request path's profile. Slots are tagged with this
    // family's unique id, so an entry can never point into another registry's family.
    struct Slot {
      std::uint64_t family = 0;
      std::uint64_t hash = 0;
      std::string key;
      Series* series = nullptr;
    };
    thread_local std::array<Slot, 256> slots;
    std::uint64_t hash = id_ * 0x9e3779b97f4a7c15ull;
    for (std::size_t i = 0; i < label_names_.size(); ++i) hash = detail::hash_label(hash, value_at(values, i));
    Slot& slot = slots[hash % slots.size()];
    if (slot.series && slot.family == id_ && slot.hash == hash && key_matches(slot.key, values)) return *slot.series;
    std::string key;
    for (std::size_t i = 0; i < label_names_.size(); ++i) {
      if (i) key.push_back('\x1f');
      key.append(value_at(values, i));
    }
    Series& found = lookup(key, values);
    slot.family = id_;
    slot.hash = hash;
    slot.key = std::move(key);
    slot.series = &found;
    return found;
  }
  Series& with() { return with(std::span<const std::string_view>()); }

  // The series one call site resolved last on this thread, with the label values it resolved it
  // for: a request mostly repeats the last one's labels (route, method, status, tool), and
  // comparing a few short strings costs a fraction of a lookup (hashing, the cache's slot, its
  // key check), which ran twice per request. The caller keeps one per call site and thread.
  template <std::size_t N>
  struct Last {
    std::uint64_t family = 0;
    std::array<std::string, N> values;
    Series* series = nullptr;
  };
  template <std::size_t N>
  Series& with(Last<N>& last, const std::array<std::string_view, N>& values) {
    if (last.series && last.family == id_ &&
        std::equal(values.begin(), values.end(), last.values.begin(),
                   [](std::string_view a, std::string_view b) { return core::same_text(a, b); }))
      return *last.series;
    Series& found = with(std::span<const std::string_view>(values));
    last.family = id_;
    for (std::size_t i = 0; i < N; ++i) last.values[i].assign(values[i]);
    last.series = &found;
    return found;
  }

 private:
  static std::string_view value_at(std::span<const std::string_view> values, std::size_t i) {
    return i < values.size() ? values[i] : std::string_view();
  }
  // Whether `key` (values joined by \x1f) holds exactly these label values.
  bool key_matches(std::string_view key, std::span<const std::string_view> values) const {
    for (std::size_t i = 0; i < label_names_.size(); ++i) {
      if (i) {
        if (key.empty() || key.front() != '\x1f') return false;
        key.remove_prefix(1);
      }
      const std::string_view v = value_at(values, i);
      if (key.substr(0, v.size()) != v) return false;
      key.remove_prefix(v.size());
    }
    return key.empty();
  }

  Series& lookup(const std::string& key, std::span<const std::string_view> values) {
    {
      std::shared_lock lock(mutex_);
      auto it = series_.find(key);
      if (it != series_.end()) return *it->second.series;
    }
    std::unique_lock lock(mutex_);
    auto& entry = series_[key];
    if (!entry.series) {
      entry.series = factory_();
      for (std::size_t i = 0; i < label_names_.size(); ++i)
        entry.values.emplace_back(i < values.size() ? std::string(values[i]) : std::string());
    }
    return *entry.series;
  }

 public:
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Calls fn(label values, series) for every series, in label-value order.
  template <class Fn>
  void for_each(Fn&& fn) const {
    std::shared_lock lock(mutex_);
    std::vector<const Entry*> sorted;
    sorted.reserve(series_.size());
    for (const auto& [_, e] : series_) sorted.push_back(&e);
    std::sort(sorted.begin(), sorted.end(), [](const Entry* a, const Entry* b) { return a->values < b->values; });
    for (const Entry* e : sorted) fn(e->values, *e->series);
  }

 private:
  struct Entry {
    std::vector<std::string> values;
    std::unique_ptr<Series> series;
  };
  static std::uint64_t next_id() {
    static std::atomic<std::uint64_t> counter{1};
    return counter.fetch_add(1, std::memory_order_relaxed);
  }
  const std::uint64_t id_ = next_id();
  std::vector<std::string> label_names_;
  Factory factory_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, Entry> series_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// What a scrape-time callback reports: one value per label-value combination.
using Emit = std::function<void(std::vector<std::string> label_values, double value)>;
using Collect = std::function<void(const Emit&)>;

// Bucket bounds, in seconds, that the OpenTelemetry semantic conventions recommend for
// http.server.request.duration and for mcp.server.operation.duration.
const std::vector<double>& http_duration_buckets();
const std::vector<double>& mcp_duration_buckets();

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Get-or-create. Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
  // [a-zA-Z_][a-zA-Z0-9_]* (not starting with "__"); asking again for an existing name with
  // another type or other label names is a wiring bug (std::invalid_argument).
  CounterFamily& counter(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
  GaugeFamily& gauge(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
  HistogramFamily& histogram(const std::string& name, const std::string& help, std::vector<std::string> labels,
                             std::vector<double> bounds);

  // A family whose values are read when /metrics is scraped (`type` counter or gauge).
  void callback(const std::string& name, const std::string& help, MetricType type, std::vector<std::string> labels,
                Collect collect);

  // The whole registry in the Prometheus text format, families sorted by name.
  std::string expose() const;

 private:
  struct Entry {
    MetricType type;
    std::string help;
    std::vector<std::string> labels;
    std::unique_ptr<CounterFamily> counters;
    std::unique_ptr<GaugeFamily> gauges;
    std::unique_ptr<HistogramFamily> histograms;
    Collect collect;
  };
  Entry& entry(const std::string& name, const std::string& help, MetricType type, const std::vector<std::string>& labels);

  mutable std::mutex mutex_;
  std::map<std::string, Entry> families_;
};

// Exposition helpers, exposed for tests.
std::string escape_label_value(std::string_view value);  // backslash, double quote, newline
std::string escape_help(std::string_view help);          // backslash, newline
std::string format_value(double value);                  // +Inf, -Inf, NaN, shortest round-trip otherwise

// The content type of expose()'s output.
inline constexpr std::string_view kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace bastion::telemetry
