// Spans and the tracer that samples and hands finished spans to a sink (the OTLP exporter).
// A span that is not sampled records nothing and costs two branches; its context (ids, the
// unsampled flag) is still propagated so downstream services agree (W3C Trace Context §3.2.2.5).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "telemetry/trace_context.hpp"

namespace bastion::telemetry {

// OTLP SpanKind values (opentelemetry/proto/trace/v1/trace.proto).
enum class SpanKind { internal = 1, server = 2, client = 3, producer = 4, consumer = 5 };

using AttributeValue = std::variant<std::string, std::int64_t, double, bool>;
// Keys are semantic-convention names written in the code (string literals): kept by view, so
// that a recorded span does not copy each name.
using Attributes = std::vector<std::pair<std::string_view, AttributeValue>>;

// OTLP Status.code: 0 unset, 1 ok, 2 error.
enum class SpanStatus { unset = 0, ok = 1, error = 2 };

struct SpanData {
  TraceId trace_id;
  SpanId span_id;
  SpanId parent_span_id;  // empty for a root span
  std::string tracestate;
  std::string name;
  SpanKind kind = SpanKind::internal;
  std::uint64_t start_unix_nano = 0;
  std::uint64_t end_unix_nano = 0;
  Attributes attributes;
  SpanStatus status = SpanStatus::unset;
  std::string status_message;
};

class SpanSink {
 public:
  virtual ~SpanSink() = default;
  // Must not block: called on request threads when a span ends. The span's data is the
  // caller's again when the call returns (the tracer reuses it for a later span).
  virtual void export_span(const SpanData& span) = 0;
};

std::uint64_t unix_nanos(std::chrono::system_clock::time_point t = std::chrono::system_clock::now());
// The Unix time of a steady-clock reading the caller already has (one clock read saved on the
// request path): the steady clock plus a per-thread offset to the system clock, re-read every
// second so that a stepped or slewed system clock is followed within a second.
std::uint64_t unix_nanos(std::chrono::steady_clock::time_point t);

class Span {
 public:
  Span() = default;
  Span(Span&&) noexcept = default;
  Span& operator=(Span&& other) noexcept;
  ~Span() { end(); }

  bool recording() const { return data_ != nullptr; }
  // The context children and outbound calls carry (valid even when not recording, as long as
  // the span was started by a tracer).
  const TraceContext& context() const { return context_; }

  // `key` is a string literal (see Attributes).
  void set(std::string_view key, AttributeValue value) {
    if (data_) data_->attributes.emplace_back(key, std::move(value));
  }
  void set_error(std::string message) {
    if (!data_) return;
    data_->status = SpanStatus::error;
    data_->status_message = std::move(message);
  }
  void set_name(std::string name) {
    if (data_) data_->name = std::move(name);
  }
  // Ends the span (idempotent); `end` defaults to now. Inline: most spans record nothing, and
  // the request path ends or replaces several per request.
  void end(std::uint64_t end_unix_nano = 0) {
    if (data_) end_recording(end_unix_nano);
  }

 private:
  friend class Tracer;
  void end_recording(std::uint64_t end_unix_nano);
  TraceContext context_;
  std::unique_ptr<SpanData> data_;
  std::shared_ptr<SpanSink> sink_;
};

class Tracer {
 public:
  // `sample_ratio` in [0, 1] for traces that start here; a parent's sampled flag is obeyed
  // (OpenTelemetry ParentBased(TraceIdRatioBased) sampler). Null sink: nothing is recorded.
  Tracer(double sample_ratio, std::shared_ptr<SpanSink> sink);

  // A new span: child of `parent` when it is valid, else the root of a new trace.
  Span start(std::string name, SpanKind kind, const TraceContext* parent, std::uint64_t start_unix_nano = 0) const {
    Span span;
    start_in(span, std::move(name), kind, parent, start_unix_nano);
    return span;
  }
  // The same, started in `span` (a span started in it before ends first): for a span that is a
  // member of a per-request object, without moving a whole span into it (its context, ids and
  // handles) and destroying the moved-from one, twice per request. `span_id`, when given, is the
  // id the span takes (a random one drawn earlier, see RequestRecord's request id) instead of a
  // new one.
  void start_in(Span& span, std::string name, SpanKind kind, const TraceContext* parent,
                std::uint64_t start_unix_nano = 0, const SpanId* span_id = nullptr) const;

  // A child of `parent` (valid) in `span`, for a span that only ever has children of its own
  // in this process or downstream (an MCP operation under its request). When it would not be
  // recorded (the parent is not sampled, or nothing records), it carries the parent's context
  // instead of a new span id: an id of an unrecorded span appears in no trace, and what runs
  // under it downstream inherits the unsampled flag and is not recorded either (W3C Trace
  // Context §3.2.2.5). A recorded child is started as start_in() starts it.
  void start_child_in(Span& span, std::string name, SpanKind kind, const TraceContext& parent,
                      std::uint64_t start_unix_nano = 0) const;

  bool enabled() const { return sink_ != nullptr; }
  double sample_ratio() const { return ratio_; }
  // The ratio decision for a new trace id (exposed for tests).
  bool sample_new_trace(std::string_view trace_id) const;
  bool sample_new_trace(std::uint64_t low_bits) const;  // the id's low 64 bits

 private:
  double ratio_;
  std::uint64_t threshold_;
  std::shared_ptr<SpanSink> sink_;
};

}  // namespace bastion::telemetry
