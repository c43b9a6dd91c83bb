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

std::string otlp_json(const std::vector<SpanData>& spans, const std::string& service_name,
                      const std::string& service_version) {
  std::string out;
  out.reserve(512 + spans.size() * 900);
  Attributes resource{{"service.name", service_name}, {"telemetry.sdk.name", std::string("bastion")},
                      {"telemetry.sdk.language", std::string("cpp")}};
  if (!service_version.empty()) resource.emplace_back("service.version", service_version);
  out += "{\"resourceSpans\":[{\"resource\":{\"attributes\":";
  append_attributes(out, resource);
  out += "},\"scopeSpans\":[{\"scope\":{\"name\":\"bastion\",\"version\":";
  append_json_string(out, service_version);
  out += "},\"spans\":[";
  bool first = true;
  for (const auto& s : spans) {
    if (!first) out.push_back(',');
    first = false;
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
  out += "]}]}]}";
  return out;
}

OtlpExporter::OtlpExporter(OtlpOptions options, http::Fetcher fetcher, MetricsRegistry& metrics)
    : options_(std::move(options)),
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
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= options_.max_queue_size) {
      dropped_queue_full_.inc();
      return;
    }
    queue_.push_back(std::move(span));
    queue_gauge_.set(static_cast<double>(queue_.size()));
    wake = queue_.size() >= options_.max_batch_size;
  }
  if (wake) wake_.notify_one();
}

void OtlpExporter::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    // Wait for a full batch, the schedule delay, or shutdown (the delay bounds the wait).
    wake_.wait_for(lock, options_.schedule_delay,
                   [this] { return stopping_ || queue_.size() >= options_.max_batch_size; });
    if (queue_.empty()) {
      if (stopping_) return;
      continue;
    }
    std::vector<SpanData> batch;
    const std::size_t n = std::min(queue_.size(), options_.max_batch_size);
    batch.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    queue_gauge_.set(static_cast<double>(queue_.size()));
    const bool last = stopping_;
    lock.unlock();
    send(std::move(batch));
    lock.lock();
    // On shutdown: one pass over what is left, each batch still bounded by the timeout.
    if (last && queue_.empty()) return;
  }
}

void OtlpExporter::send(std::vector<SpanData> batch) {
  http::ClientRequest request;
  request.method = "POST";
  request.url = options_.endpoint;
  request.headers.set("Content-Type", "application/json");
  for (const auto& [k, v] : options_.headers) request.headers.set(k, v);
  request.body = otlp_json(batch, options_.service_name, options_.service_version);
  http::ClientOptions client;
  client.timeout = options_.export_timeout;
  client.max_response_bytes = 64 * 1024;
  // An operator-configured collector, usually local: plain HTTP is allowed (OTLP/HTTP default
  // port 4318 is plain).
  client.allow_http = true;
  client.address_policy = http::AddressPolicy::any;
  const double n = static_cast<double>(batch.size());
  Result<http::ClientResponse> response = [&]() -> Result<http::ClientResponse> {
    try {
      return fetcher_(request, client);
    } catch (const std::exception& e) {
      return std::unexpected(Error{0, e.what()});
    }
  }();
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
    spdlog::debug("otlp: export of {} spans failed: {}", batch.size(), response.error().message);
  else
    spdlog::debug("otlp: collector answered {} to {} spans", response->status, batch.size());
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
