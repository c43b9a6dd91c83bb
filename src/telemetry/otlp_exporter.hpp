// Exports finished spans over OTLP/HTTP with the JSON encoding (POST <endpoint>, normally
// .../v1/traces; https://opentelemetry.io/docs/specs/otlp/#otlphttp). Spans wait in a bounded
// queue; one background thread sends them in batches with a deadline per request. A full queue
// or a failed export drops spans and counts them: a slow or dead collector never slows a
// request, and never grows our memory.
//
// A span is encoded when it ends, on the thread that ends it, and waits as JSON text: the
// queue holds a few batch strings instead of every span's many small allocations, which the
// export thread would otherwise free under the allocator's lock of the I/O threads that made
// them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "http/client.hpp"
#include "telemetry/metrics.hpp"
#include "telemetry/tracer.hpp"

namespace bastion::telemetry {

struct OtlpOptions {
  std::string endpoint = "http://127.0.0.1:4318/v1/traces";
  // Extra request headers (e.g. a collector's API key). Values come from secret references and
  // are never logged.
  std::vector<std::pair<std::string, std::string>> headers;
  std::size_t max_queue_size = 2048;
  std::size_t max_batch_size = 512;
  std::chrono::milliseconds schedule_delay{1000};   // a partial batch waits at most this long
  std::chrono::milliseconds export_timeout{5000};   // one POST, connect to last byte
  std::string service_name = "bastion";
  std::string service_version;
};

// The OTLP/HTTP JSON body for `spans` (ExportTraceServiceRequest): ids as lowercase hex,
// times as decimal strings of Unix nanoseconds, enums as numbers (OTLP §JSON Protobuf Encoding).
std::string otlp_json(const std::vector<SpanData>& spans, const std::string& service_name,
                      const std::string& service_version);
// One span's JSON object, appended to `out` (the elements of otlp_json's "spans" array).
void append_span_json(std::string& out, const SpanData& span);

class OtlpExporter final : public SpanSink {
 public:
  // Registers bastion_otlp_spans_{exported,dropped}_total and bastion_otlp_queue_spans in
  // `metrics`, which must outlive the exporter. Starts the export thread.
  OtlpExporter(OtlpOptions options, http::Fetcher fetcher, MetricsRegistry& metrics);
  ~OtlpExporter() override;  // shutdown()
  OtlpExporter(const OtlpExporter&) = delete;
  OtlpExporter& operator=(const OtlpExporter&) = delete;

  void export_span(const SpanData& span) override;

  // Sends what is queued (one attempt, bounded by export_timeout per batch) and stops the
  // thread. Idempotent.
  void shutdown();

  std::uint64_t dropped() const;
  std::uint64_t exported() const;

 private:
  // The export request being filled: the envelope's opening, then up to max_batch_size encoded
  // spans, comma-separated (send() closes it and posts it as it is).
  struct Batch {
    std::string body;
    std::size_t spans = 0;
  };
  Batch new_batch_locked();

  void run();
  void send(Batch batch);

  const OtlpOptions options_;
  const std::string envelope_open_;   // ExportTraceServiceRequest up to the spans array
  const std::string envelope_close_;
  http::Fetcher fetcher_;
  Counter& exported_;
  Counter& dropped_queue_full_;
  Counter& dropped_export_failed_;
  Counter& export_requests_failed_;
  Gauge& queue_gauge_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Batch> queue_;    // the back one fills; the others are full
  // Bodies of sent batches, kept with their capacity: a batch is hundreds of kilobytes, and
  // fresh ones meant page faults (and unmapping) for every batch.
  std::vector<std::string> spare_bodies_;
  std::size_t queued_spans_ = 0;  // in queue_, at most max_queue_size
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace bastion::telemetry
