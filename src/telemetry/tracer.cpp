#include "telemetry/tracer.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace bastion::telemetry {

std::uint64_t unix_nanos(std::chrono::system_clock::time_point t) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

std::uint64_t unix_nanos(std::chrono::steady_clock::time_point t) {
  thread_local std::chrono::steady_clock::time_point anchor_steady{};
  thread_local std::int64_t offset = 0;  // system minus steady, in nanoseconds
  if (anchor_steady == std::chrono::steady_clock::time_point{} || t - anchor_steady > std::chrono::seconds(1) ||
      t < anchor_steady) {
    anchor_steady = std::chrono::steady_clock::now();
    const auto system = std::chrono::system_clock::now();
    offset = std::chrono::duration_cast<std::chrono::nanoseconds>(system.time_since_epoch()).count() -
             std::chrono::duration_cast<std::chrono::nanoseconds>(anchor_steady.time_since_epoch()).count();
  }
  const std::int64_t nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count() + offset;
  return nanos > 0 ? static_cast<std::uint64_t>(nanos) : 0;
}

namespace {

// The data of recorded spans, kept per thread once exported and reused by the next recorded
// span: a SpanData and its attribute vector were two allocations and two frees per span, and a
// sampled request records three or four spans. A span ended on another thread than the one
// that started it leaves its data to that thread's pool.
class SpanDataPool {
 public:
  std::unique_ptr<SpanData> take() {
    if (free_.empty()) {
      auto data = std::make_unique<SpanData>();
      data->attributes.reserve(12);  // a request span has 9 to 11, an operation span up to 8
      return data;
    }
    auto data = std::move(free_.back());
    free_.pop_back();
    return data;
  }
  // Keeps `data` (cleared, its memory kept) unless the pool is full.
  void give(std::unique_ptr<SpanData> data) {
    if (free_.size() >= kMaxFree) return;
    SpanData& d = *data;
    d.trace_id = TraceId();
    d.span_id = SpanId();
    d.parent_span_id = SpanId();
    d.tracestate.clear();
    d.name.clear();
    d.kind = SpanKind::internal;
    d.start_unix_nano = d.end_unix_nano = 0;
    d.attributes.clear();
    d.status = SpanStatus::unset;
    d.status_message.clear();
    free_.push_back(std::move(data));
  }

 private:
  static constexpr std::size_t kMaxFree = 16;
  std::vector<std::unique_ptr<SpanData>> free_;
};

SpanDataPool& span_data_pool() {
  thread_local SpanDataPool pool;
  return pool;
}

}  // namespace

Span& Span::operator=(Span&& other) noexcept {
  if (this != &other) {
    end();
    context_ = std::move(other.context_);
    data_ = std::move(other.data_);
    sink_ = std::move(other.sink_);
  }
  return *this;
}

void Span::end_recording(std::uint64_t end_unix_nano) {
  data_->end_unix_nano = end_unix_nano ? end_unix_nano : unix_nanos();
  if (data_->end_unix_nano < data_->start_unix_nano) data_->end_unix_nano = data_->start_unix_nano;
  auto data = std::move(data_);
  if (sink_) sink_->export_span(*data);
  span_data_pool().give(std::move(data));
}

Tracer::Tracer(double sample_ratio, std::shared_ptr<SpanSink> sink)
    : ratio_(std::clamp(sample_ratio, 0.0, 1.0)), sink_(std::move(sink)) {
  // TraceIdRatioBased: sampled when the low 64 bits of the trace id fall below ratio * 2^64.
  const long double scaled = static_cast<long double>(ratio_) * 18446744073709551616.0L;
  threshold_ = ratio_ >= 1.0 ? UINT64_MAX : static_cast<std::uint64_t>(std::floor(scaled));
}

bool Tracer::sample_new_trace(std::string_view trace_id) const {
  if (ratio_ >= 1.0) return true;
  if (ratio_ <= 0.0 || trace_id.size() != 32) return false;
  std::uint64_t low = 0;
  std::from_chars(trace_id.data() + 16, trace_id.data() + 32, low, 16);
  return sample_new_trace(low);
}

bool Tracer::sample_new_trace(std::uint64_t low_bits) const {
  if (ratio_ >= 1.0) return true;
  return ratio_ > 0.0 && low_bits < threshold_;
}

void Tracer::start_in(Span& span, std::string name, SpanKind kind, const TraceContext* parent,
                      std::uint64_t start_unix_nano, const SpanId* span_id) const {
  span.end();  // a span started before ends here, as when another is assigned to it
  const bool child = parent && parent->valid();
  std::uint64_t low_bits = 0;
  span.context_.trace_id = child ? parent->trace_id : new_trace_id(low_bits);
  span.context_.span_id = span_id && !span_id->empty() ? *span_id : new_span_id();
  // A parent's decision is passed on even when we record nothing ourselves, so downstream
  // services still agree on it (W3C Trace Context §3.2.2.5.1).
  span.context_.sampled = child ? parent->sampled : (sink_ && sample_new_trace(low_bits));
  if (child) {
    span.context_.tracestate = parent->tracestate;
    span.context_.baggage = parent->baggage;
  }
  if (!span.context_.sampled || !sink_) return;
  span.data_ = span_data_pool().take();
  span.data_->trace_id = span.context_.trace_id;
  span.data_->span_id = span.context_.span_id;
  if (child) span.data_->parent_span_id = parent->span_id;
  span.data_->tracestate = span.context_.tracestate;
  span.data_->name = std::move(name);
  span.data_->kind = kind;
  span.data_->start_unix_nano = start_unix_nano ? start_unix_nano : unix_nanos();
  span.sink_ = sink_;
}

void Tracer::start_child_in(Span& span, std::string name, SpanKind kind, const TraceContext& parent,
                            std::uint64_t start_unix_nano) const {
  if (parent.sampled && sink_) {
    start_in(span, std::move(name), kind, &parent, start_unix_nano);
    return;
  }
  span.end();
  span.context_ = parent;
}

}  // namespace bastion::telemetry
