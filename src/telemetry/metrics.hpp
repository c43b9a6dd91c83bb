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
#include <atomic>
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

namespace bastion::telemetry {

namespace detail {
// atomic<double>::fetch_add is C++20 but not lock-free everywhere; a CAS loop is.
inline void atomic_add(std::atomic<double>& target, double delta) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + delta, std::memory_order_relaxed)) {
  }
}
}  // namespace detail

class Counter {
 public:
  // Counters only go up (a negative delta is ignored: Prometheus treats a decrease as a reset).
  void inc(double delta = 1) {
    if (delta > 0) detail::atomic_add(value_, delta);
  }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double delta) { detail::atomic_add(value_, delta); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::shared_ptr<const std::vector<double>> bounds);
  void observe(double value);
  const std::vector<double>& bounds() const { return *bounds_; }
  // Non-cumulative count of bucket i (i == bounds().size() is the +Inf bucket).
  std::uint64_t bucket(std::size_t i) const { return counts_[i].load(std::memory_order_relaxed); }
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::shared_ptr<const std::vector<double>> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

enum class MetricType { counter, gauge, histogram };

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
    std::string key;
    for (std::size_t i = 0; i < label_names_.size(); ++i) {
      if (i) key.push_back('\x1f');
      if (i < values.size()) key.append(values[i]);
    }
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
  Series& with() { return with(std::span<const std::string_view>()); }

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
