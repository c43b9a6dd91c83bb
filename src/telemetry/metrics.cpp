#include "telemetry/metrics.hpp"

#include <bit>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace bastion::telemetry {

namespace {

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  // Names starting with "__" are reserved for Prometheus itself; "le" is the histogram's own.
  if (name.empty() || name.starts_with("__") || name == "le") return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::string_view type_name(MetricType type) {
  switch (type) {
    case MetricType::counter: return "counter";
    case MetricType::gauge: return "gauge";
    case MetricType::histogram: return "histogram";
  }
  return "untyped";
}

// name{a="x",b="y"[,extra]} value\n
void append_sample(std::string& out, std::string_view name, const std::vector<std::string>& label_names,
                   const std::vector<std::string>& values, std::string_view extra_label, std::string_view extra_value,
                   double value) {
  out.append(name);
  const bool any = !label_names.empty() || !extra_label.empty();
  if (any) {
    out.push_back('{');
    bool first = true;
    for (std::size_t i = 0; i < label_names.size(); ++i) {
      if (!first) out.push_back(',');
      first = false;
      out.append(label_names[i]);
      out.append("=\"");
      out.append(escape_label_value(i < values.size() ? values[i] : std::string()));
      out.push_back('"');
    }
    if (!extra_label.empty()) {
      if (!first) out.push_back(',');
      out.append(extra_label);
      out.append("=\"");
      out.append(extra_value);
      out.push_back('"');
    }
    out.push_back('}');
  }
  out.push_back(' ');
  out.append(format_value(value));
  out.push_back('\n');
}

}  // namespace

namespace detail {
namespace {
// Bit i set: shard i has an owner. The last shard is never owned (it is the shared one).
std::atomic<std::uint32_t> owned_shards{0};
static_assert(kShards <= 32);

struct ShardOwnership {
  Shard shard{kShards - 1, false};
  ShardOwnership() {
    std::uint32_t taken = owned_shards.load(std::memory_order_relaxed);
    // The lowest free shard, until one is won (a failed exchange reloads `taken`) or none is left.
    for (std::size_t i; (i = static_cast<std::size_t>(std::countr_one(taken))) + 1 < kShards;) {
      // Acquire: this thread's plain updates come after the previous owner's last ones.
      if (owned_shards.compare_exchange_weak(taken, taken | (1u << i), std::memory_order_acquire)) {
        shard = {i, true};
        return;
      }
    }
  }
  ~ShardOwnership() {
    // Release: the next owner sees every update this thread made.
    if (shard.owned) owned_shards.fetch_and(~(1u << shard.index), std::memory_order_release);
  }
};
}  // namespace

Shard this_thread_shard() {
  thread_local const ShardOwnership ownership;
  return ownership.shard;
}
}  // namespace detail

Histogram::Histogram(std::shared_ptr<const std::vector<double>> bounds)
    : bounds_(std::move(bounds)),
      lines_per_shard_((1 + bounds_->size() + 1 + CacheLine::kCells - 1) / CacheLine::kCells),
      lines_(new CacheLine[lines_per_shard_ * detail::kShards]) {}

void Histogram::observe(double value) {
  // Buckets are few (about 15): a linear scan beats a binary search at this size.
  const auto& b = *bounds_;
  std::size_t i = 0;
  while (i < b.size() && value > b[i]) ++i;
  const detail::Shard shard = detail::this_thread_shard();
  detail::add_to(cell(shard.index, 1 + i), 1, shard.owned);
  detail::add_bits_to(cell(shard.index, 0), value, shard.owned);
}

std::uint64_t Histogram::bucket(std::size_t i) const {
  std::uint64_t n = 0;
  for (std::size_t shard = 0; shard < detail::kShards; ++shard) n += cell(shard, 1 + i).load(std::memory_order_relaxed);
  return n;
}

std::uint64_t Histogram::count() const {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i <= bounds_->size(); ++i) n += bucket(i);
  return n;
}

double Histogram::sum() const {
  double s = 0;
  for (std::size_t shard = 0; shard < detail::kShards; ++shard)
    s += std::bit_cast<double>(cell(shard, 0).load(std::memory_order_relaxed));
  return s;
}

const std::vector<double>& http_duration_buckets() {
  // OpenTelemetry semantic conventions, http.server.request.duration (explicit bucket advice).
  static const std::vector<double> b{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10};
  return b;
}

const std::vector<double>& mcp_duration_buckets() {
  // OpenTelemetry MCP semantic conventions, mcp.server.operation.duration (bucket advice).
  static const std::vector<double> b{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300};
  return b;
}

MetricsRegistry::Entry& MetricsRegistry::entry(const std::string& name, const std::string& help, MetricType type,
                                               const std::vector<std::string>& labels) {
  if (!valid_metric_name(name)) throw std::invalid_argument("invalid metric name '" + name + "'");
  for (const auto& l : labels)
    if (!valid_label_name(l)) throw std::invalid_argument("invalid label name '" + l + "' for metric " + name);
  auto [it, inserted] = families_.try_emplace(name);
  Entry& e = it->second;
  if (inserted) {
    e.type = type;
    e.help = help;
    e.labels = labels;
  } else if (e.type != type || e.labels != labels) {
    throw std::invalid_argument("metric " + name + " registered twice with different types or labels");
  }
  return e;
}

CounterFamily& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                        std::vector<std::string> labels) {
  std::lock_guard lock(mutex_);
  Entry& e = entry(name, help, MetricType::counter, labels);
  if (e.collect) throw std::invalid_argument("metric " + name + " is a callback family");
  if (!e.counters) e.counters = std::make_unique<CounterFamily>(labels, [] { return std::make_unique<Counter>(); });
  return *e.counters;
}

GaugeFamily& MetricsRegistry::gauge(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  std::lock_guard lock(mutex_);
  Entry& e = entry(name, help, MetricType::gauge, labels);
  if (e.collect) throw std::invalid_argument("metric " + name + " is a callback family");
  if (!e.gauges) e.gauges = std::make_unique<GaugeFamily>(labels, [] { return std::make_unique<Gauge>(); });
  return *e.gauges;
}

HistogramFamily& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                            std::vector<std::string> labels, std::vector<double> bounds) {
  if (bounds.empty() || !std::is_sorted(bounds.begin(), bounds.end()) ||
      std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end())
    throw std::invalid_argument("histogram " + name + " needs strictly increasing bucket bounds");
  std::lock_guard lock(mutex_);
  Entry& e = entry(name, help, MetricType::histogram, labels);
  if (!e.histograms) {
    auto shared = std::make_shared<const std::vector<double>>(std::move(bounds));
    e.histograms = std::make_unique<HistogramFamily>(labels, [shared] { return std::make_unique<Histogram>(shared); });
  }
  return *e.histograms;
}

void MetricsRegistry::callback(const std::string& name, const std::string& help, MetricType type,
                               std::vector<std::string> labels, Collect collect) {
  if (type == MetricType::histogram) throw std::invalid_argument("callback histograms are not supported: " + name);
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it != families_.end()) throw std::invalid_argument("metric " + name + " registered twice");
  Entry& e = entry(name, help, type, labels);
  e.collect = std::move(collect);
}

std::string MetricsRegistry::expose() const {
  std::string out;
  out.reserve(8192);
  std::lock_guard lock(mutex_);
  for (const auto& [name, e] : families_) {
    out.append("# HELP ").append(name).push_back(' ');
    out.append(escape_help(e.help)).push_back('\n');
    out.append("# TYPE ").append(name).push_back(' ');
    out.append(type_name(e.type)).push_back('\n');
    if (e.collect) {
      std::vector<std::pair<std::vector<std::string>, double>> samples;
      e.collect([&](std::vector<std::string> values, double v) { samples.emplace_back(std::move(values), v); });
      for (const auto& [values, v] : samples) append_sample(out, name, e.labels, values, {}, {}, v);
    } else if (e.counters) {
      e.counters->for_each([&](const auto& values, const Counter& c) { append_sample(out, name, e.labels, values, {}, {}, c.value()); });
    } else if (e.gauges) {
      e.gauges->for_each([&](const auto& values, const Gauge& g) { append_sample(out, name, e.labels, values, {}, {}, g.value()); });
    } else if (e.histograms) {
      const std::string bucket = name + "_bucket";
      e.histograms->for_each([&](const auto& values, const Histogram& h) {
        // Buckets are cumulative in the exposition format; le="+Inf" equals _count.
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < h.bounds().size(); ++i) {
          cumulative += h.bucket(i);
          append_sample(out, bucket, e.labels, values, "le", format_value(h.bounds()[i]), static_cast<double>(cumulative));
        }
        cumulative += h.bucket(h.bounds().size());
        append_sample(out, bucket, e.labels, values, "le", "+Inf", static_cast<double>(cumulative));
        append_sample(out, name + "_sum", e.labels, values, {}, {}, h.sum());
        append_sample(out, name + "_count", e.labels, values, {}, {}, static_cast<double>(cumulative));
      });
    }
  }
  return out;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out.append("\\\\");
    else if (c == '"') out.append("\\\"");
    else if (c == '\n') out.append("\\n");
    else out.push_back(c);
  }
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') out.append("\\\\");
    else if (c == '\n') out.append("\\n");
    else out.push_back(c);
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (ec != std::errc()) return "NaN";
  return std::string(buffer, end);
}

}  // namespace bastion::telemetry
