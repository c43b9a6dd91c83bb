#include "telemetry/otlp_exporter.hpp"

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <cmath>

#include "core/json_text.hpp"

namespace bastion::telemetry {

namespace json = boost::json;

namespace {

// Written straight into the body: the exporter thread encodes every sampled span, and a tree
// of json::objects per span cost more than the spans themselves.
using core::append_json_string;

void append_any_value(std::string& out, const AttributeValue& v) {
  std::visit(
      [&out](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          out += "{\"stringValue\":";
          append_json_string(out, x);
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          // int64 values are strings in OTLP JSON (proto3 JSON mapping of int64).
          out += "{\"intValue\":\"";
          core::append_decimal(out, x);
          out.push_back('"');
        } else if constexpr (std::is_same_v<T, double>) {
          out += "{\"doubleValue\":";
          // JSON has no NaN or infinity; proto3 JSON spells them as strings.
          if (std::isnan(x)) out += "\"NaN\"";
          else if (std::isinf(x)) out += x > 0 ? "\"Infinity\"" : "\"-Infinity\"";
          else out += json::serialize(json::value(x));
        } else {
          out += "{\"boolValue\":";
          out += x ? "true" : "false";
        }
        out.push_back('}');
      },
      v);
}

void append_attributes(std::string& out, const Attributes& attributes) {
  out += "[";
  bool first = true;
  for (const auto& [key, value] : attributes) {
    if (!first) out.push_back(',');
    first = false;
    out += "{\"key\":";
    append_json_string(out, key);
    out += ",\"value\":";
    append_any_value(out, value);
    out += "}";
  }
  out += "]";
}

// "name":"<decimal>": OTLP JSON carries fixed64 times as strings.
void append_time(std::string& out, std::string_view name, std::uint64_t unix_nano) {
  out += ",\"";
  out += name;
  out += "\":\"";
  core::append_decimal(out, unix_nano);
  out.push_back('"');
}

}  // namespace

void append_span_json(std::string& out, const SpanData& s) {
  // Ids are lowercase hex we made or checked; names and states go through the escaper.
  out += "{\"traceId\":\"";
  out += s.trace_id.view();
  out += "\",\"spanId\":\"";
  out += s.span_id.view();
  out.push_back('"');
  if (!s.parent_span_id.empty()) {
    out += ",\"parentSpanId\":\"";
    out += s.parent_span_id.view();
    out.push_back('"');
  }
  if (!s.tracestate.empty()) {
    out += ",\"traceState\":";
    append_json_string(out, s.tracestate);
  }
  out += ",\"name\":";
  append_json_string(out, s.name);
  out += ",\"kind\":";
  core::append_decimal(out, static_cast<std::int64_t>(s.kind));
  append_time(out, "startTimeUnixNano", s.start_unix_nano);
  append_time(out, "endTimeUnixNano", s.end_unix_nano);
  out += ",\"attributes\":";
  append_attributes(out, s.attributes);
  if (s.status != SpanStatus::unset) {
    out += ",\"status\":{\"code\":";
    core::append_decimal(out, static_cast<std::int64_t>(s.status));
    if (!s.status_message.empty()) {
      out += ",\"message\":";
      append_json_string(out, s.status_message);
    }
    out += "}";
  }
  out += "}";
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
  append_json_string(out, service_version);
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
  thread_ = std::thread([this] { run(); });
}

OtlpExporter::~OtlpExporter() { shutdown(); }

void OtlpExporter::export_span(SpanData span) {
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
