#include "telemetry/otlp_exporter.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <cmath>
#include <variant>

#include "core/json_text.hpp"
#include "core/thread_name.hpp"

namespace bastion::telemetry {

namespace {

// Written straight into the body: the I/O threads encode every sampled span, and a tree of
// json::objects per span cost more than the spans themselves. Like the request line (log.cpp's
// JsonLine), a span is sized by a bound first and then written in one pass into that memory:
// appending piece by piece to a std::string checked its capacity and called memcpy for every
// piece, about 4,400 instructions per span under callgrind.
struct SpanWriter {
  char* at;
  void raw(std::string_view s) { at = core::copy_bytes(at, s.data(), s.size()); }
  void put(char c) { *at++ = c; }
  // A JSON string of text from outside the code (names, tracestate, attribute values).
  void string(std::string_view s) { at = core::write_json_string(at, s); }
  template <class Integer>
  void decimal(Integer value) {
    at = std::to_chars(at, at + kNumberBound, value).ptr;
  }
  static constexpr std::size_t kNumberBound = 32;  // the shortest form of any double or int64
};

constexpr std::size_t kAnyValueBound = 48;  // {"doubleValue":<32>} or {"intValue":"<20>"}, and more
std::size_t any_value_bound(const AttributeValue& v) {
  if (const auto* text = std::get_if<std::string>(&v)) return 16 + core::json_string_bound(text->size());
  return kAnyValueBound;
}

void write_any_value(SpanWriter& w, const AttributeValue& v) {
  std::visit(
      [&w](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          w.raw("{\"stringValue\":");
          w.string(x);
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          // int64 values are strings in OTLP JSON (proto3 JSON mapping of int64).
          w.raw("{\"intValue\":\"");
          w.decimal(x);
          w.put('"');
        } else if constexpr (std::is_same_v<T, double>) {
          w.raw("{\"doubleValue\":");
          // JSON has no NaN or infinity; proto3 JSON spells them as strings.
          if (std::isnan(x)) w.raw("\"NaN\"");
          else if (std::isinf(x)) w.raw(x > 0 ? "\"Infinity\"" : "\"-Infinity\"");
          else w.decimal(x);
        } else {
          w.raw("{\"boolValue\":");
          w.raw(x ? "true" : "false");
        }
        w.put('}');
      },
      v);
}

// Keys are semantic-convention names written in the code (see Attributes): copied as they are.
std::size_t attributes_bound(const Attributes& attributes) {
  std::size_t n = 2;
  for (const auto& [key, value] : attributes) n += 24 + key.size() + any_value_bound(value);
  return n;
}

void write_attributes(SpanWriter& w, const Attributes& attributes) {
  w.put('[');
  bool first = true;
  for (const auto& [key, value] : attributes) {
    if (!first) w.put(',');
    first = false;
    w.raw("{\"key\":\"");
    w.raw(key);
    w.raw("\",\"value\":");
    write_any_value(w, value);
    w.put('}');
  }
  w.put(']');
}

// "name":"<decimal>": OTLP JSON carries fixed64 times as strings.
void write_time(SpanWriter& w, std::string_view name, std::uint64_t unix_nano) {
  w.raw(",\"");
  w.raw(name);
  w.raw("\":\"");
  w.at = core::write_decimal(w.at, unix_nano);
  w.put('"');
}

// The fixed text of a span (keys, quotes, kind, two times, the status code) takes less.
constexpr std::size_t kSpanFixedBound = 384;
std::size_t span_json_bound(const SpanData& s) {
  return kSpanFixedBound + s.trace_id.view().size() + s.span_id.view().size() + s.parent_span_id.view().size() +
         core::json_string_bound(s.tracestate.size()) + core::json_string_bound(s.name.size()) +
         attributes_bound(s.attributes) + core::json_string_bound(s.status_message.size());
}

char* write_span_json(char* out, const SpanData& s) {
  SpanWriter w{out};
  // Ids are lowercase hex we made or checked; names and states go through the escaper.
  w.raw("{\"traceId\":\"");
  w.raw(s.trace_id.view());
  w.raw("\",\"spanId\":\"");
  w.raw(s.span_id.view());
  w.put('"');
  if (!s.parent_span_id.empty()) {
    w.raw(",\"parentSpanId\":\"");
    w.raw(s.parent_span_id.view());
    w.put('"');
  }
  if (!s.tracestate.empty()) {
    w.raw(",\"traceState\":");
    w.string(s.tracestate);
  }
  w.raw(",\"name\":");
  w.string(s.name);
  w.raw(",\"kind\":");
  w.decimal(static_cast<int>(s.kind));
  write_time(w, "startTimeUnixNano", s.start_unix_nano);
  write_time(w, "endTimeUnixNano", s.end_unix_nano);
  w.raw(",\"attributes\":");
  write_attributes(w, s.attributes);
  if (s.status != SpanStatus::unset) {
    w.raw(",\"status\":{\"code\":");
    w.decimal(static_cast<int>(s.status));
    if (!s.status_message.empty()) {
      w.raw(",\"message\":");
      w.string(s.status_message);
    }
    w.put('}');
  }
  w.put('}');
  return w.at;
}

// Appends what `write` writes into at most `bound` bytes.
template <class Write>
void append_bounded(std::string& out, std::size_t bound, Write&& write) {
  const std::size_t at = out.size();
  out.resize_and_overwrite(at + bound, [&](char* p, std::size_t) { return static_cast<std::size_t>(write(p + at) - p); });
}

void append_attributes(std::string& out, const Attributes& attributes) {
  append_bounded(out, attributes_bound(attributes), [&](char* p) {
    SpanWriter w{p};
    write_attributes(w, attributes);
    return w.at;
  });
}

}  // namespace

void append_span_json(std::string& out, const SpanData& s) {
  append_bounded(out, span_json_bound(s), [&](char* p) { return write_span_json(p, s); });
}

namespace {

constexpr std::string_view kEnvelopeClose = "]}]}]}";

// The ExportTraceServiceRequest up to the opening of its spans array.
std::string envelope_open(const std::string& service_name, const std::string& service_version) {
  std::string out;
  Attributes resource{{"service.name", service_name}, {"telemetry.sdk.name", std::string("bastion")},
                      {"telemetry.sdk.language", std::string("cpp")}};
  if (!service_version.empty()) resource.emplace_back("service.version", service_version);
  out += "{\"resourceSpans\":[{\"resource\":{\"attributes\":";
  append_attributes(out, resource);
  out += "},\"scopeSpans\":[{\"scope\":{\"name\":\"bastion\",\"version\":";
  core::append_json_string(out, service_version);
  out += "},\"spans\":[";
  return out;
}

}  // namespace

std::string otlp_json(const std::vector<SpanData>& spans, const std::string& service_name,
                      const std::string& service_version) {
  std::string out = envelope_open(service_name, service_version);
  for (std::size_t i = 0; i < spans.size(); ++i) {
    if (i) out.push_back(',');
    append_span_json(out, spans[i]);
  }
  out += kEnvelopeClose;
  return out;
}

OtlpExporter::OtlpExporter(OtlpOptions options, http::Fetcher fetcher, MetricsRegistry& metrics)
    : options_(std::move(options)),
      envelope_open_(envelope_open(options_.service_name, options_.service_version)),
      envelope_close_(kEnvelopeClose),
      fetcher_(std::move(fetcher)),
      exported_(metrics.counter("bastion_otlp_spans_exported_total", "Spans the OTLP collector accepted.").with()),
      dropped_queue_full_(metrics
                              .counter("bastion_otlp_spans_dropped_total",
                                       "Spans dropped before reaching the collector, by reason.", {"reason"})
                              .with({"queue_full"})),
      dropped_export_failed_(metrics
                                 .counter("bastion_otlp_spans_dropped_total",
                                          "Spans dropped before reaching the collector, by reason.", {"reason"})
                                 .with({"export_failed"})),
      export_requests_failed_(
          metrics.counter("bastion_otlp_export_failures_total", "OTLP export requests that failed (any reason).")
              .with()),
      queue_gauge_(metrics.gauge("bastion_otlp_queue_spans", "Spans waiting in the OTLP export queue.").with()) {
  thread_ = std::thread([this] {
    core::name_this_thread("otlp-export");
    run();
  });
}

OtlpExporter::~OtlpExporter() { shutdown(); }

void OtlpExporter::export_span(const SpanData& span) {
  // Encoded outside the lock (per thread, the buffer keeps its capacity), appended under it.
  thread_local std::string encoded;
  encoded.clear();
  append_span_json(encoded, span);
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queued_spans_ >= options_.max_queue_size) {
      dropped_queue_full_.inc();
      return;
    }
    if (queue_.empty() || queue_.back().spans >= options_.max_batch_size) queue_.push_back(new_batch_locked());
    Batch& batch = queue_.back();
    if (batch.spans) batch.body.push_back(',');
    batch.body += encoded;
    ++batch.spans;
    ++queued_spans_;
    queue_gauge_.set(static_cast<double>(queued_spans_));
    wake = batch.spans >= options_.max_batch_size;
  }
  if (wake) wake_.notify_one();
}

OtlpExporter::Batch OtlpExporter::new_batch_locked() {
  Batch batch;
  if (!spare_bodies_.empty()) {
    batch.body = std::move(spare_bodies_.back());
    spare_bodies_.pop_back();
  }
  batch.body.assign(envelope_open_);
  return batch;
}

void OtlpExporter::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    // Wait for a full batch, the schedule delay, or shutdown (the delay bounds the wait).
    wake_.wait_for(lock, options_.schedule_delay, [this] {
      return stopping_ || (!queue_.empty() && queue_.front().spans >= options_.max_batch_size);
    });
    if (queue_.empty()) {
      if (stopping_) return;
      continue;
    }
    Batch batch = std::move(queue_.front());
    queue_.pop_front();
    queued_spans_ -= batch.spans;
    queue_gauge_.set(static_cast<double>(queued_spans_));
    const bool last = stopping_;
    lock.unlock();
    send(std::move(batch));
    lock.lock();
    // On shutdown: one pass over what is left, each batch still bounded by the timeout.
    if (last && queue_.empty()) return;
  }
}

void OtlpExporter::send(Batch batch) {
  http::ClientRequest request;
  request.method = "POST";
  request.url = options_.endpoint;
  request.headers.set("Content-Type", "application/json");
  for (const auto& [k, v] : options_.headers) request.headers.set(k, v);
  batch.body += envelope_close_;
  request.body = std::move(batch.body);
  http::ClientOptions client;
  client.timeout = options_.export_timeout;
  client.max_response_bytes = 64 * 1024;
  // An operator-configured collector, usually local: plain HTTP is allowed (OTLP/HTTP default
  // port 4318 is plain).
  client.allow_http = true;
  client.address_policy = http::AddressPolicy::any;
  // With a kept-alive connection (http::keep_alive_fetcher) a batch that met the collector's
  // idle close may go once more on a new connection: OTLP/HTTP expects exporters to repeat
  // batches (§Retryable Response Codes), so a collector takes a repeat as it takes a retry.
  client.retry_on_closed_connection = true;
  const double n = static_cast<double>(batch.spans);
  Result<http::ClientResponse> response = [&]() -> Result<http::ClientResponse> {
    try {
      return fetcher_(request, client);
    } catch (const std::exception& e) {
      return std::unexpected(Error{0, e.what()});
    }
  }();
  {
    // Two spares cover a batch filling while another is sent.
    std::lock_guard lock(mutex_);
    if (spare_bodies_.size() < 2) spare_bodies_.push_back(std::move(request.body));
  }
  // OTLP/HTTP §Success: 2xx. (A partial success is still 200; its rejected count is the
  // collector's business.) Failures are not retried: the next batch is more useful than an old
  // one, and a retry queue would need its own bound.
  if (response && response->status >= 200 && response->status < 300) {
    exported_.inc(n);
    return;
  }
  dropped_export_failed_.inc(n);
  export_requests_failed_.inc();
  // Never log the URL's credentials or the headers: only what failed.
  if (!response)
    spdlog::debug("otlp: export of {} spans failed: {}", batch.spans, response.error().message);
  else
    spdlog::debug("otlp: collector answered {} to {} spans", response->status, batch.spans);
}

void OtlpExporter::shutdown() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

std::uint64_t OtlpExporter::dropped() const {
  return static_cast<std::uint64_t>(dropped_queue_full_.value() + dropped_export_failed_.value());
}

std::uint64_t OtlpExporter::exported() const { return static_cast<std::uint64_t>(exported_.value()); }

}  // namespace bastion::telemetry
