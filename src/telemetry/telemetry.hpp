// The request pipeline's telemetry (DESIGN.md §2: every step one span, one log line at the end,
// counters), in one place so that no feature bolts on its own.
//
// How a request is observed:
//   1. Where it enters (the app's route handler), Telemetry::observe() creates the request's
//      RequestRecord (request id, start time, the traceparent/tracestate headers) and makes it
//      the Exchange's observer, which tells it of the answer (http::ExchangeObserver).
//   2. Deeper layers annotate it through record_of(exchange): transport/ knows the era, the
//      protocol version and the session; begin_operation() opens the MCP operation (method,
//      tool/resource/prompt name, argument digest) and takes the trace context of the request's
//      params._meta, which wins over the headers (one trace either way).
//   3. When the response is sent (or its stream ends) and every operation has ended, the record
//      is finished exactly once: request metrics, the request span and its step spans, one
//      "request" log line; and, per tools/call, an audit record.
// Nothing here keeps a header wholesale: Authorization, Cookie, Set-Cookie and the query string
// are never read, tool arguments are digested unless the route opts in.
#pragma once

#include <boost/container/static_vector.hpp>
#include <boost/json/object.hpp>
#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bastion/types.hpp"
#include "core/sha256.hpp"
#include "core/spin_lock.hpp"
#include "core/worker_pool.hpp"
#include "http/client.hpp"
#include "http/exchange.hpp"
#include "telemetry/audit.hpp"
#include "telemetry/metrics.hpp"
#include "telemetry/otlp_exporter.hpp"
#include "telemetry/readiness.hpp"
#include "telemetry/trace_context.hpp"
#include "telemetry/tracer.hpp"

namespace bastion::telemetry {

// The pseudonym of a session in logs, audit records and spans (see session_digest()).
using SessionDigest = HexId<16>;
// What logs and audit records show of a tool call's arguments: "hmac-sha256:" and 64 hex digits
// of their JSON text (see argument_digest()). Inline, like the ids: a string would allocate.
using ArgumentDigest = HexId<76>;

struct TracingOptions {
  bool enabled = false;
  double sample_ratio = 1.0;
  OtlpOptions otlp;
};

struct TelemetryOptions {
  bool metrics = true;         // count and time requests (the registry always exists)
  bool request_log = true;     // one "request" log line per request (at info)
  TracingOptions tracing;
  AuditOptions audit;
  std::string service_version;
  // The key of argument digests (see argument_digest()): 32 bytes from the deployment's secret
  // store, the same on every instance. Empty: a random key for this process alone (Telemetry's
  // options() then hold that key).
  std::string argument_digest_key;
};

class Telemetry;
class RequestRecord;

// A route's own series (labelled by route alone): four of the eight series a request updates.
struct RouteSeries {
  Counter* received_bytes = nullptr;
  Counter* sent_bytes = nullptr;
  Gauge* active_streams = nullptr;
  Gauge* in_flight = nullptr;
};

// What observe() knows about a route (made once at start-up).
struct RouteTag {
  std::string route;               // the configured path, the metrics' `route` label
  bool log_tool_arguments = false; // the route opted in to raw tool arguments in logs and audit
  // The route's own series, found once by Telemetry::bind_route() instead of per request. A tag
  // that is not bound, or bound by another Telemetry, has them looked up (route_series()).
  // By the binder's instance number, not its address: a later Telemetry can reuse an address.
  // Instance numbers start at 1: 0 is a tag nobody bound.
  std::uint64_t bound_to = 0;
  RouteSeries series;
};

// One MCP operation (a JSON-RPC request) inside an HTTP request: its span, its duration
// metric, and for tools/call its audit record. end() is called with the JSON-RPC response.
class Operation {
 public:
  ~Operation();  // an operation that never ended (cancelled) ends as "cancelled"
  // Only RequestRecord makes operations (Key is private to it).
  class Key {
    friend class RequestRecord;
    Key() = default;
  };
  explicit Operation(Key) {}
  Operation(const Operation&) = delete;
  Operation& operator=(const Operation&) = delete;

  // The context handlers and outbound calls carry: the operation span's when it is recorded,
  // else its request's (an unsampled operation has no span id of its own, as
  // Tracer::start_child_in explains, and so no span to copy the request's context into).
  const TraceContext& context() const;
  // {"traceparent", "tracestate"?, "baggage"?} for an outbound MCP _meta.
  boost::json::object trace_meta() const;

  // A tools/call whose tool the dispatcher found (mcp::Outbound::tool_found): its metrics are
  // labelled with the tool's name, and a recorded span is named after it. Until then the call
  // counts as one of an unknown tool, so names a client makes up never become label values.
  void tool_found();

  // The JSON-RPC response (or error) that ends it. Idempotent.
  void end(const boost::json::object& response);
  void end_cancelled();

 private:
  friend class RequestRecord;
  void finish(int jsonrpc_error, bool tool_error, bool cancelled);

  std::shared_ptr<RequestRecord> record_;
  std::string_view method_;  // bounded: a known method name (a literal), else "other"
  std::string target_;       // tool, resource URI or prompt name
  // The gen_ai_tool_name label: target_ for tools/call of a found tool (tool_found()),
  // "_unknown" for another tools/call, "" otherwise. A view (of target_ or a literal): the
  // operation does not move.
  std::string_view tool_label_;
  ArgumentDigest argument_digest_;
  std::string arguments_;    // only when the route opted in
  std::chrono::steady_clock::time_point start_;
  Span span_;
  std::atomic<bool> ended_{false};
};

// Owned by shared pointers: the observed exchange's and its operations'. Not
// enable_shared_from_this: a control block whose weak count is only its own releases its last
// reference without a locked instruction; the weak self-reference cost four per request.
class RequestRecord final : public http::ExchangeObserver {
 public:
  RequestRecord(Telemetry& telemetry, const RouteTag& route, const http::Request& request);
  ~RequestRecord() override;

  const RequestId& request_id() const { return request_id_; }
  // When the request arrived (the record was made): the start of its duration and spans.
  std::chrono::steady_clock::time_point arrival() const { return start_; }

  // Annotations from deeper layers (thread-safe).
  void set_era(std::string_view era);                      // "sse" | "session" | "stateless"
  void set_protocol_version(std::string_view version);
  // A sessionful request's annotations in one call (one lock): the era, the session's
  // negotiated version, its pseudonym (session_digest(), made once per session by the
  // transport) and its principal (may be null).
  void set_session(std::string_view era, std::string_view protocol_version, const SessionDigest& digest,
                   const Principal* principal);
  void set_principal(const Principal* principal);
  // A named pipeline step that took [start, end) (guard, authenticate, ...): a child span of
  // the request span. `name` and `error` are string literals (kept by pointer until the end).
  // Steady-clock times, turned into Unix times the way the request's own are: a step can then
  // never appear to start before its request (the system clock and the per-thread conversion
  // disagree by microseconds).
  using SteadyTime = std::chrono::steady_clock::time_point;
  void add_step(const char* name, SteadyTime start, SteadyTime end, const char* error = "");

  // A steady-clock time on the request's Unix time line (its start plus the time since, never
  // before the start): what its steps and outbound calls are stamped with.
  std::uint64_t unix_time(SteadyTime t) const;

  // The trace context of the request span (fixed on first use; the reference stays valid and
  // unchanged for the record's life).
  const TraceContext& context();

  // The HTTP side: the observed exchange's calls (http::ExchangeObserver). The answer carries
  // the request id (X-Request-Id): the id a user quotes to an operator finds the log line, the
  // audit record and the trace.
  void responding(http::Response& response) override;
  void stream_starting(http::Exchange& exchange, int status, http::Headers& headers) override;
  void stream_writing(std::size_t bytes) override;
  void stream_finished() override;
  void unanswered() override { abandoned(); }

 private:
  void abandoned();  // the exchange went unanswered, or the peer left a stream
  friend class Operation;
  friend std::shared_ptr<Operation> begin_operation(const http::Exchange& exchange, std::string_view method,
                                                    const boost::json::object& params);
  // Opens an MCP operation for `method` with its `params` (tool name, arguments, _meta trace
  // context are read from them); `self` owns this record, and the operation shares it.
  std::shared_ptr<Operation> begin_operation(std::shared_ptr<RequestRecord> self, std::string_view method,
                                             const boost::json::object& params);
  void fix_context_locked();
  void set_principal_locked(const Principal& principal);
  void operation_ended(const Operation& op, int jsonrpc_error, bool tool_error, bool cancelled, double seconds);
  // The audit record of a tools/call (when the audit trail is on).
  void audit_tool_call(const Operation& op, int jsonrpc_error, bool tool_error, bool cancelled, double seconds,
                       std::string_view error_type);
  // Whether the caller (holding mutex_) is the one to emit: answered, no operation pending, not
  // yet emitted. When it is, marks the record emitted and fixes the trace context.
  bool take_emission_locked();
  void maybe_emit(std::unique_lock<core::SpinLock>& lock);
  void emit();
  // The request line's fields, as calls on a JsonFieldsBound, JsonFieldsWriter or LogFieldList
  // (log.hpp): one description for the JSON fast path and the other outputs.
  // Inlined into each caller: the JSON writer's cursor then stays in a register.
  template <class Fields>
  [[gnu::always_inline]] inline void request_line_fields(Fields& out, const TraceContext& context, std::uint64_t nanos) const;

  Telemetry& telemetry_;
  const RouteTag& route_;
  const std::chrono::steady_clock::time_point start_;
  const std::uint64_t start_unix_nano_;
  const RequestId request_id_;
  std::string_view http_method_;  // bounded: one of a fixed set of literals
  std::string path_;
  std::string remote_address_;
  std::size_t bytes_in_ = 0;

  // Taken by every annotation (about five times per request, nearly always by the thread that
  // serves it): a spin lock, whose critical sections below are a few stores and copies.
  core::SpinLock mutex_;
  std::optional<TraceContext> parent_;   // from the headers, then from _meta
  bool context_fixed_ = false;
  Span request_span_;
  std::string_view era_;  // bounded: "sse", "session", "stateless" (literals)
  std::string protocol_version_;
  SessionDigest session_digest_;
  std::string issuer_, subject_, client_id_;
  struct Step {  // name and error are literals (see add_step): pointers keep the record small
    const char* name;
    SteadyTime start, end;
    const char* error;  // "" when the step succeeded
  };
  // In the record itself: a request has a few steps, and a vector would allocate for them.
  boost::container::static_vector<Step, 4> steps_;
  // The first operation's summary, for the log line.
  std::string_view mcp_method_;  // an Operation::method_ (a literal)
  std::string target_;
  ArgumentDigest argument_digest_;
  std::string arguments_;
  std::optional<int> jsonrpc_error_;
  bool tool_error_ = false;
  int pending_operations_ = 0;
  int status_ = 0;
  bool streaming_ = false;
  bool http_done_ = false;
  bool abandoned_ = false;
  std::size_t bytes_out_ = 0;
  std::chrono::steady_clock::time_point end_;
  bool emitted_ = false;
};

// While it lives, outbound calls made on this thread, and by pool jobs posted from it
// (core::WorkerPool carries the context), are traced as part of `exchange`'s request (see
// Telemetry::traced_fetcher). Null, or an exchange nobody observes, opens nothing.
class OutboundParent {
 public:
  explicit OutboundParent(const http::Exchange* exchange);

 private:
  std::optional<core::TaskContextScope> scope_;
};

// The record of an observed exchange, or nullptr (not observed: unit tests, telemetry off).
// Valid while the exchange lives. A pointer, not a shared_ptr copy: the pipeline asks several
// times per request, and each copy was a pair of atomic read-modify-writes on the record's count.
// (The exchange's observer is always a RequestRecord: observe() is the one place that sets one.)
RequestRecord* record_of(const http::Exchange& exchange);

// begin_operation on the exchange's record; nullptr when not observed.
std::shared_ptr<Operation> begin_operation(const http::Exchange& exchange, std::string_view method,
                                           const boost::json::object& params);

// The instruments every request updates, registered once.
// bastion_http_requests_total and bastion_mcp_tool_calls_total are read from the counts of the
// two histograms at scrape time (make_instruments()).
struct RequestInstruments {
  HistogramFamily& duration;       // bastion_http_request_duration_seconds{route,method,status}
  CounterFamily& received_bytes;   // bastion_http_request_body_bytes_total{route}
  CounterFamily& sent_bytes;       // bastion_http_response_body_bytes_total{route}
  GaugeFamily& active_streams;     // bastion_http_active_streams{route}
  GaugeFamily& in_flight;          // bastion_http_requests_in_flight{route}
  HistogramFamily& mcp_duration;   // mcp_server_operation_duration_seconds{...}
  // For the lead's auth wiring (registered so dashboards find them from day one).
  CounterFamily& rate_limited;     // bastion_rate_limit_rejections_total{route}
};

class Telemetry {
 public:
  // `fetcher` sends OTLP batches (http::keep_alive_fetcher() in production, a fake in tests).
  // Throws std::runtime_error when the audit file cannot be opened.
  Telemetry(TelemetryOptions options, http::Fetcher fetcher);
  ~Telemetry();  // flushes the exporter (bounded by its timeout)
  Telemetry(const Telemetry&) = delete;
  Telemetry& operator=(const Telemetry&) = delete;

  MetricsRegistry& metrics() { return metrics_; }
  const Tracer& tracer() const { return tracer_; }
  AuditSink& audit() { return *audit_; }
  Readiness& readiness() { return readiness_; }
  RequestInstruments& instruments() { return *instruments_; }
  // The series of `route`, from a small per-thread cache: a label lookup per series and
  // request showed in the request path's profile. The reference is valid until this thread's
  // next call.
  const RouteSeries& route_series(const std::string& route);
  // The series of `tag`'s route: those bind_route() stored in it, else route_series(tag.route).
  const RouteSeries& route_series(const RouteTag& tag) {
    return tag.bound_to == id_ ? tag.series : route_series(tag.route);
  }
  // Finds `tag`'s series once (when metrics are on), for the life of this Telemetry.
  void bind_route(RouteTag& tag);
  const TelemetryOptions& options() const { return options_; }
  OtlpExporter* exporter() { return exporter_.get(); }
  const core::HmacSha256& argument_digest_key() const { return argument_digest_key_; }
  // Names the argument digests' key without revealing it (argument_digest_key_id()).
  const std::string& argument_digest_key_id() const { return argument_digest_key_id_; }

  // True when observe() does anything (metrics, request log, tracing or audit is on).
  bool active() const { return active_; }
  // The "request" component's logger, looked up once (set up logging before constructing).
  spdlog::logger& request_logger() { return *request_logger_; }

  // Observes the request of `exchange` (see the file comment): gives it a RequestRecord as its
  // observer. Does nothing when nothing is active.
  void observe(http::Exchange& exchange, const RouteTag& route);

  // `fetcher` with a client span per call (OpenTelemetry HTTP client conventions) and the W3C
  // traceparent header on the outbound request. The span is a child of the request span of the
  // OutboundParent open on the calling thread (or on the thread that posted the pool job), else
  // the root of a new trace. `fetcher` unchanged when tracing is off. Neither the body nor the
  // headers of the call are recorded (an introspection call carries the token in its body).
  http::Fetcher traced_fetcher(http::Fetcher fetcher) const;

  // The pipeline's first step (the guard), run as soon as the request is observed: times `fn`
  // from the request's arrival, which it directly follows (one clock read fewer per request
  // than reading a start of its own), and records it on the exchange's record.
  template <class Fn>
  auto first_step(const http::Exchange& exchange, const char* name, Fn&& fn) {  // name: a literal
    if (!tracer_.enabled()) return fn();
    // The caller holds `exchange`, and so its record, for the whole call.
    RequestRecord* record = record_of(exchange);
    if (!record) return fn();
    struct Guard {
      RequestRecord* r;
      const char* n;
      ~Guard() { r->add_step(n, r->arrival(), std::chrono::steady_clock::now()); }
    } guard{record, name};
    return fn();
  }

 private:
  RouteSeries find_route_series(const std::string& route);

  TelemetryOptions options_;
  MetricsRegistry metrics_;
  std::unique_ptr<RequestInstruments> instruments_;
  std::unique_ptr<AuditSink> audit_;
  Readiness readiness_;
  std::shared_ptr<OtlpExporter> exporter_;
  Tracer tracer_;
  bool active_;
  std::string argument_digest_key_id_;
  core::HmacSha256 argument_digest_key_;
  std::shared_ptr<spdlog::logger> request_logger_;
  const std::uint64_t id_;  // tells this instance's cache entries and tags from another's (tests make many)
};

// The pseudonym under which a session appears in logs, audit records and spans: the first 16
// hex digits of its SHA-256. Stable per session, useless for taking it over. Transports make it
// once per session and keep it.
SessionDigest session_digest(std::string_view session_id);

// "hmac-sha256:<hex>": HMAC-SHA-256 under `key` of the compact JSON text of tool arguments. Keyed
// because arguments are often guessable (an account number, a yes or no, a short PIN): a plain
// hash of them gives them away to anyone who hashes the guesses, so logs would hold what they
// must not (ENISA, "Pseudonymisation techniques and best practices", 2019: a keyed hash where
// a plain one falls to a dictionary). Equal arguments give equal digests under one key, so calls
// can still be matched, across instances that share it (TelemetryOptions::argument_digest_key).
ArgumentDigest argument_digest(const core::HmacSha256& key, const boost::json::object& arguments);

// The first 16 hex digits of the SHA-256 of a digest key: tells keys apart in the
// configuration_loaded audit record and `bastion digest-arguments`, reveals nothing of a key of
// 32 random bytes.
std::string argument_digest_key_id(std::string_view key);

}  // namespace bastion::telemetry
