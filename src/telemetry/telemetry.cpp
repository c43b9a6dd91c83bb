#include "telemetry/telemetry.hpp"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <map>

#include "core/block_cache.hpp"
#include "core/hex.hpp"
#include "core/random.hpp"
#include "core/sha256.hpp"
#include "core/short_text.hpp"
#include "telemetry/log.hpp"

namespace bastion::telemetry {

namespace json = boost::json;

namespace {

// Labels take only values from fixed sets, so a client cannot create unbounded series.
std::string_view bounded_http_method(std::string_view m) {
  static constexpr std::array<std::string_view, 9> known{"GET", "POST", "DELETE", "HEAD", "OPTIONS",
                                                         "PUT", "PATCH", "CONNECT", "TRACE"};
  for (auto k : known)
    if (core::same_text(k, m)) return k;
  return "_OTHER";  // OpenTelemetry HTTP semantic conventions, http.request.method
}

std::string_view bounded_mcp_method(std::string_view m) {
  static constexpr std::array<std::string_view, 16> known{
      "initialize",     "ping",          "tools/list",         "tools/call",
      "resources/list", "resources/read", "resources/templates/list", "resources/subscribe",
      "resources/unsubscribe", "prompts/list", "prompts/get",  "completion/complete",
      "logging/setLevel", "server/discover", "subscriptions/listen", "notifications/cancelled"};
  for (auto k : known)
    if (core::same_text(k, m)) return k;
  return "other";
}

std::string_view bounded_era(std::string_view era) {
  static constexpr std::array<std::string_view, 3> known{"sse", "session", "stateless"};
  for (auto k : known)
    if (core::same_text(k, era)) return k;
  return "other";
}

// A tools/call without arguments is digested as one with empty arguments. At namespace scope:
// a function's static would test its guard on every call.
const json::object kNoArguments;

// The members of a request's params that an operation reads, found in one pass over them:
// params hold a few members, and a lookup for each of name, arguments and _meta walked them
// three times per request.
struct OperationParams {
  std::string_view name;  // "name" when it is a string
  std::string_view uri;   // "uri" when it is a string
  const json::object* arguments = nullptr;
  bool has_meta = false;
};
OperationParams scan_params(const json::object& params) {
  OperationParams out;
  for (const auto& member : params) {
    const std::string_view key = member.key();
    const json::value& value = member.value();
    if (core::same_text(key, "name")) {
      if (value.is_string()) out.name = value.get_string();
    } else if (core::same_text(key, "arguments")) {
      if (value.is_object()) out.arguments = &value.get_object();
    } else if (core::same_text(key, "uri")) {
      if (value.is_string()) out.uri = value.get_string();
    } else if (core::same_text(key, "_meta")) {
      out.has_meta = true;
    }
  }
  return out;
}

// `s`, cut after `max` bytes with "..." appended, into `out` (its memory reused: the record's
// fields are assigned this way once or twice per request).
void assign_truncated(std::string& out, std::string_view s, std::size_t max) {
  if (s.size() <= max) {
    out.assign(s);
    return;
  }
  out.assign(s.substr(0, max));
  out += "...";
}

std::string truncated(std::string_view s, std::size_t max) {
  std::string out;
  assign_truncated(out, s, max);
  return out;
}

// A resource URI without its query and fragment: query strings are never recorded (they are
// where bearer-ish values hide: ?token=, ?code=, ?sig=).
std::string uri_without_query(std::string_view uri) {
  const auto cut = uri.find_first_of("?#");
  return truncated(uri.substr(0, cut), 512);
}

std::uint64_t nanos_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count());
}

// record_of(exchange), shared (one more owner). An exchange's observer is a RequestRecord
// whenever it has one: observe() is the one place that sets one.
std::shared_ptr<RequestRecord> shared_record_of(const http::Exchange& exchange) {
  return std::static_pointer_cast<RequestRecord>(exchange.observer());
}

}  // namespace

SessionDigest session_digest(std::string_view session_id) {
  return SessionDigest(std::string_view(core::sha256_hex(session_id)).substr(0, 16));
}

ArgumentDigest argument_digest(const core::HmacSha256& key, const json::object& arguments) {
  // The serializer's output goes to the digest piece by piece: no string of the whole text.
  core::HmacSha256::Stream stream(key);
  json::serializer serializer;
  serializer.reset(&arguments);
  char chunk[512];
  while (!serializer.done()) stream.update(serializer.read(chunk, sizeof chunk));
  constexpr std::string_view kPrefix = "hmac-sha256:";
  char text[kPrefix.size() + 64];
  std::memcpy(text, kPrefix.data(), kPrefix.size());
  const core::Sha256Digest digest = stream.finish();
  core::hex_into(digest.data(), digest.size(), text + kPrefix.size());
  return ArgumentDigest(std::string_view(text, sizeof text));
}

std::string argument_digest_key_id(std::string_view key) { return core::sha256_hex(key).substr(0, 16); }

// ---- Operation ---------------------------------------------------------------------------

Operation::~Operation() { end_cancelled(); }

const TraceContext& Operation::context() const {
  // The request's context is fixed before any operation of it begins (begin_operation).
  return span_.recording() || !record_ ? span_.context() : record_->request_span_.context();
}

json::object Operation::trace_meta() const {
  json::object meta;
  inject_meta(meta, context());
  return meta;
}

void Operation::end(const json::object& response) {
  int code = 0;
  bool tool_error = false;
  // "error" and "result" in one pass over the response's few members.
  const json::value* e = nullptr;
  const json::value* r = nullptr;
  for (const auto& member : response) {
    if (core::same_text(member.key(), "error")) e = &member.value();
    else if (core::same_text(member.key(), "result")) r = &member.value();
  }
  if (e && e->is_object()) {
    if (const json::value* c = e->get_object().if_contains("code"); c && c->is_int64())
      code = static_cast<int>(c->get_int64());
    else
      code = -32603;
  } else if (r && r->is_object()) {
    if (const json::value* flag = r->get_object().if_contains("isError"); flag && flag->is_bool())
      tool_error = flag->get_bool();
  }
  finish(code, tool_error, response.empty());
}

void Operation::end_cancelled() { finish(0, false, true); }

void Operation::tool_found() {
  if (!core::same_text(method_, "tools/call") || target_.empty()) return;
  tool_label_ = target_;
  // OpenTelemetry MCP semantic conventions: "{mcp.method.name} {target}" when the target is known.
  if (span_.recording()) span_.set_name(std::string(method_) + " " + target_);
}

void Operation::finish(int jsonrpc_error, bool tool_error, bool cancelled) {
  if (ended_.exchange(true) || !record_) return;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  // OpenTelemetry MCP semantic conventions: error.type is the JSON-RPC error code, or
  // "tool_error" for a tools/call result with isError.
  if (span_.recording()) {
    if (jsonrpc_error != 0) {
      span_.set("error.type", std::to_string(jsonrpc_error));
      span_.set("rpc.response.status_code", std::to_string(jsonrpc_error));
      span_.set_error("JSON-RPC error " + std::to_string(jsonrpc_error));
    } else if (tool_error) {
      span_.set("error.type", std::string("tool_error"));
      span_.set_error("tool_error");
    } else if (cancelled) {
      span_.set("error.type", std::string("cancelled"));
    }
  }
  span_.end();
  record_->operation_ended(*this, jsonrpc_error, tool_error, cancelled, seconds);
}

// ---- RequestRecord -----------------------------------------------------------------------

#if defined(__GLIBC__)
// Every observed request allocates one record (plus its shared_ptr control block). glibc serves
// blocks up to 1032 bytes from a per-thread cache; a larger record took the allocator's slow
// path on every request, which showed in the request path's profile. Strings that come from
// fixed sets are held as views, ids inline, to stay under it. (observe() now takes records from
// a per-thread core::BlockCache first; this still holds for those that overflow it.)
static_assert(sizeof(RequestRecord) + 16 <= 1032, "RequestRecord outgrew glibc's per-thread cache");
#endif

RequestRecord::RequestRecord(Telemetry& telemetry, const RouteTag& route, const http::Request& request)
    : telemetry_(telemetry),
      route_(route),
      start_(std::chrono::steady_clock::now()),
      start_unix_nano_(unix_nanos(start_)),
      // The request span's own id (fix_context_locked): one id names the request in the
      // X-Request-Id header, the log line, the audit records and the trace.
      request_id_(new_span_id()),
      http_method_(bounded_http_method(request.method)),
      path_(truncated(request.path, 256)),
      remote_address_(request.remote_address),
      bytes_in_(request.body.size()) {
  // Only traceparent and tracestate are read from the headers; nothing else is kept. One pass
  // finds both and tells a repeated traceparent, which starts a new trace (W3C Trace Context
  // §3.2: more than one traceparent is invalid).
  const std::string* traceparent = nullptr;
  const std::string* tracestate = nullptr;
  bool repeated = false;
  for (const auto& [name, value] : request.headers.fields()) {
    if (http::iequals(name, "traceparent")) {
      repeated = traceparent != nullptr;
      if (repeated) break;
      traceparent = &value;
    } else if (!tracestate && http::iequals(name, "tracestate")) {
      tracestate = &value;
    }
  }
  if (traceparent && !repeated) {
    parent_ = parse_traceparent(*traceparent);
    if (parent_ && tracestate) parent_->tracestate = sanitize_tracestate(*tracestate);
  }
  if (telemetry_.options().metrics) telemetry_.route_series(route_).in_flight->add(1);
}

RequestRecord::~RequestRecord() {
  // The last reference is gone: no other thread can reach the record, so no lock.
  if (emitted_) return;
  emitted_ = true;
  if (!http_done_) {
    http_done_ = true;
    abandoned_ = true;
    if (status_ == 0) status_ = 499;
    end_ = std::chrono::steady_clock::now();
  }
  fix_context_locked();
  emit();
}

void RequestRecord::set_era(std::string_view era) {
  std::lock_guard lock(mutex_);
  era_ = bounded_era(era);
}

void RequestRecord::set_protocol_version(std::string_view version) {
  std::lock_guard lock(mutex_);
  assign_truncated(protocol_version_, version, 32);
}

void RequestRecord::set_session(std::string_view era, std::string_view protocol_version, const SessionDigest& digest,
                                const Principal* principal) {
  std::lock_guard lock(mutex_);
  era_ = bounded_era(era);
  assign_truncated(protocol_version_, protocol_version, 32);
  session_digest_ = digest;
  if (principal) set_principal_locked(*principal);
}

void RequestRecord::set_principal(const Principal* principal) {
  if (!principal) return;
  std::lock_guard lock(mutex_);
  set_principal_locked(*principal);
}

void RequestRecord::set_principal_locked(const Principal& principal) {
  issuer_ = principal.issuer;
  subject_ = principal.subject;
  client_id_ = principal.client_id;
}

void RequestRecord::add_step(const char* name, SteadyTime start, SteadyTime end, const char* error) {
  std::lock_guard lock(mutex_);
  if (steps_.size() < steps_.capacity()) steps_.push_back(Step{name, start, end, error});
}

void RequestRecord::fix_context_locked() {
  if (context_fixed_) return;
  context_fixed_ = true;
  // HTTP semantic conventions: the server span is named "{method} {http.route}".
  telemetry_.tracer().start_in(request_span_, {}, SpanKind::server, parent_ ? &*parent_ : nullptr, start_unix_nano_,
                               &request_id_);
  if (request_span_.recording()) request_span_.set_name(std::string(http_method_) + " " + route_.route);
}

const TraceContext& RequestRecord::context() {
  std::lock_guard lock(mutex_);
  fix_context_locked();
  // Fixed from here on: request_span_ is assigned once, by fix_context_locked().
  return request_span_.context();
}

std::uint64_t RequestRecord::unix_time(SteadyTime t) const {
  return start_unix_nano_ + nanos_between(start_, std::max(t, start_));
}

std::shared_ptr<Operation> RequestRecord::begin_operation(std::shared_ptr<RequestRecord> self, std::string_view method,
                                                          const json::object& params) {
  auto op = std::allocate_shared<Operation>(core::CachingAllocator<Operation>(), Operation::Key{});
  op->record_ = std::move(self);
  op->method_ = bounded_mcp_method(method);
  // OpenTelemetry MCP semantic conventions: mcp.server.operation.duration runs "from the time
  // it was received until the result or ack is sent", so the operation starts when its request
  // arrived (the record's start): one clock read fewer per request.
  op->start_ = start_;
  const OperationParams p = scan_params(params);
  if (core::same_text(method, "tools/call")) {
    assign_truncated(op->target_, p.name, 128);
    op->tool_label_ = "_unknown";  // until the dispatcher finds the tool (tool_found())
    // The digest is for the log line and the audit record: not computed when neither is on.
    if (telemetry_.options().request_log || telemetry_.audit().enabled()) {
      const json::object& arguments = p.arguments ? *p.arguments : kNoArguments;
      op->argument_digest_ = argument_digest(telemetry_.argument_digest_key(), arguments);
      if (route_.log_tool_arguments) op->arguments_ = truncated(json::serialize(arguments), 8192);
    }
  } else if (core::same_text(method, "prompts/get")) {
    assign_truncated(op->target_, p.name, 128);
  } else if (method == "resources/read" || method == "resources/subscribe" || method == "resources/unsubscribe") {
    op->target_ = uri_without_query(p.uri);
  }
  auto meta_context = p.has_meta ? context_from_meta(params) : std::nullopt;
  std::lock_guard lock(mutex_);
  // MCP semantic conventions: the context in params._meta is the MCP-level one; it wins over
  // the HTTP headers, and the request span joins it too, so one request is one trace.
  if (meta_context && !context_fixed_) parent_ = std::move(meta_context);
  fix_context_locked();
  ++pending_operations_;
  if (mcp_method_.empty()) {
    mcp_method_ = op->method_;
    target_ = op->target_;
    argument_digest_ = op->argument_digest_;
    arguments_ = op->arguments_;
  }
  // A recorded child of the request span (fixed from here on) when the request is sampled.
  // Otherwise the operation has no span, and carries the request's context (context()): the
  // copy of that context into a span of its own (two strings among it) was work for nothing in
  // nine requests of ten. Named only when recorded, for the same reason.
  if (request_span_.context().sampled && telemetry_.tracer().enabled())
    telemetry_.tracer().start_child_in(op->span_, {}, SpanKind::server, request_span_.context(), start_unix_nano_);
  if (op->span_.recording()) {
    op->span_.set_name(std::string(op->method_));  // with the tool's name once found (tool_found())
    op->span_.set("mcp.method.name", std::string(method.substr(0, 64)));
    if (core::same_text(method, "tools/call")) {
      op->span_.set("gen_ai.tool.name", op->target_);
      op->span_.set("gen_ai.operation.name", std::string("execute_tool"));
    } else if (core::same_text(method, "prompts/get")) {
      op->span_.set("gen_ai.prompt.name", op->target_);
    } else if (!op->target_.empty()) {
      op->span_.set("mcp.resource.uri", op->target_);
    }
    if (!session_digest_.empty()) op->span_.set("mcp.session.id", std::string(session_digest_.view()));
    if (!protocol_version_.empty()) op->span_.set("mcp.protocol.version", protocol_version_);
    op->span_.set("network.transport", std::string("tcp"));
    op->span_.set("network.protocol.name", std::string("http"));
  }
  return op;
}

void RequestRecord::operation_ended(const Operation& op, int jsonrpc_error, bool tool_error, bool cancelled,
                                    double seconds) {
  // The protocol version for the metric, copied under the lock: inline (at most 35 bytes, see
  // set_protocol_version).
  char version_text[40];
  std::size_t version_size = 0;
  bool emit_now = false;
  {
    // One lock for what this operation reads and writes, and for whether it was the record's
    // last writer; the request line then goes out after the operation's metric and audit record.
    std::lock_guard lock(mutex_);
    version_size = std::min(protocol_version_.size(), sizeof version_text);
    std::memcpy(version_text, protocol_version_.data(), version_size);
    if (core::same_text(mcp_method_, op.method_) && core::same_text(target_, op.target_)) {
      if (jsonrpc_error) jsonrpc_error_ = jsonrpc_error;
      tool_error_ = tool_error;
    }
    --pending_operations_;
    emit_now = take_emission_locked();
  }
  char code_text[12];
  const std::string_view error_type =
      jsonrpc_error ? std::string_view(code_text, static_cast<std::size_t>(
                                                      std::to_chars(code_text, code_text + sizeof code_text, jsonrpc_error).ptr -
                                                      code_text))
      : tool_error  ? "tool_error"
      : cancelled   ? "cancelled"
                    : "";
  if (telemetry_.options().metrics) {
    thread_local HistogramFamily::Last<5> last;
    telemetry_.instruments()
        .mcp_duration.with(last, {route_.route, op.method_, op.tool_label_, error_type, {version_text, version_size}})
        .observe(seconds);
  }
  if (core::same_text(op.method_, "tools/call") && telemetry_.audit().enabled())
    audit_tool_call(op, jsonrpc_error, tool_error, cancelled, seconds, error_type);
  if (emit_now) emit();
}

void RequestRecord::audit_tool_call(const Operation& op, int jsonrpc_error, bool tool_error, bool cancelled,
                                    double seconds, std::string_view error_type) {
  // Apart from operation_ended: an AuditEvent there, even one never made, cost every operation
  // the zeroing of its 464 bytes of stack (GCC clears an optional's storage for a class this size).
  AuditEvent e;
  {
    std::lock_guard lock(mutex_);  // who is calling: the session's annotations
    e.session_id = session_digest_.view();
    e.issuer = issuer_;
    e.subject = subject_;
    e.client_id = client_id_;
    e.trace_id = request_span_.context().trace_id.view();
  }
  e.type = audit_event::kToolCall;
  e.outcome = jsonrpc_error ? "error" : tool_error ? "tool_error" : cancelled ? "cancelled" : "success";
  if (jsonrpc_error) e.reason = "jsonrpc_error_" + std::string(error_type);
  e.remote_address = remote_address_;
  e.route = route_.route;
  e.request_id = request_id_.view();
  e.tool = op.target_;
  e.argument_digest = op.argument_digest_.view();
  if (!op.arguments_.empty()) e.details["arguments"] = op.arguments_;
  e.duration_ms = seconds * 1000.0;
  telemetry_.audit().record(e);
}

void RequestRecord::responding(http::Response& response) {
  response.request_id.assign(request_id_.view());
  std::unique_lock lock(mutex_);
  if (http_done_) return;
  http_done_ = true;
  status_ = response.status;
  bytes_out_ += response.body.size();
  end_ = std::chrono::steady_clock::now();
  maybe_emit(lock);
}

void RequestRecord::stream_starting(http::Exchange& exchange, int status, http::Headers& headers) {
  headers.set("X-Request-Id", std::string(request_id_.view()));
  {
    std::lock_guard lock(mutex_);
    if (http_done_ || streaming_) return;
    status_ = status;
    streaming_ = true;
    if (telemetry_.options().metrics) telemetry_.route_series(route_).active_streams->add(1);
  }
  // A stream ends when the peer leaves as much as when we finish it. Weak: the exchange keeps
  // the record, and the connection keeps this callback.
  std::weak_ptr<RequestRecord> weak = shared_record_of(exchange);
  exchange.on_peer_closed([weak] {
    if (auto r = weak.lock()) r->abandoned();
  });
}

void RequestRecord::stream_writing(std::size_t bytes) {
  std::lock_guard lock(mutex_);
  bytes_out_ += bytes;
}

void RequestRecord::stream_finished() {
  std::unique_lock lock(mutex_);
  if (http_done_) return;
  http_done_ = true;
  end_ = std::chrono::steady_clock::now();
  if (streaming_ && telemetry_.options().metrics) telemetry_.route_series(route_).active_streams->add(-1);
  maybe_emit(lock);
}

void RequestRecord::abandoned() {
  std::unique_lock lock(mutex_);
  if (http_done_) return;
  http_done_ = true;
  abandoned_ = true;
  // 499: the client closed the connection before an answer (the nginx convention).
  if (!streaming_) status_ = 499;
  end_ = std::chrono::steady_clock::now();
  if (streaming_ && telemetry_.options().metrics) telemetry_.route_series(route_).active_streams->add(-1);
  maybe_emit(lock);
}

bool RequestRecord::take_emission_locked() {
  if (emitted_ || !http_done_ || pending_operations_ > 0) return false;
  emitted_ = true;
  // Fixed here, under the lock, so that emit() reads request_span_ without taking it again.
  fix_context_locked();
  return true;
}

void RequestRecord::maybe_emit(std::unique_lock<core::SpinLock>& lock) {
  if (!take_emission_locked()) return;
  lock.unlock();
  emit();
}

void RequestRecord::emit() {
  // Called once, after the last writer and after take_emission_locked() (or the destructor)
  // fixed the context; the fields below no longer change.
  auto& ins = telemetry_.instruments();
  const std::uint64_t nanos = nanos_between(start_, end_);
  const double seconds = static_cast<double>(nanos) / 1e9;
  char status_text[12];
  const std::string_view status(status_text,
                                static_cast<std::size_t>(std::to_chars(status_text, status_text + sizeof status_text, status_).ptr - status_text));
  if (telemetry_.options().metrics) {
    thread_local HistogramFamily::Last<3> last;
    ins.duration.with(last, {route_.route, http_method_, status}).observe(seconds);
    const RouteSeries& series = telemetry_.route_series(route_);
    series.received_bytes->inc(static_cast<double>(bytes_in_));
    series.sent_bytes->inc(static_cast<double>(bytes_out_));
    series.in_flight->add(-1);
  }

  const TraceContext& context = request_span_.context();
  const std::uint64_t end_unix_nano = start_unix_nano_ + nanos;
  if (request_span_.recording()) {
    // OpenTelemetry HTTP semantic conventions. url.path without the query, never headers.
    request_span_.set("http.request.method", std::string(http_method_));
    request_span_.set("http.route", route_.route);
    request_span_.set("url.path", path_);
    request_span_.set("http.response.status_code", static_cast<std::int64_t>(status_));
    request_span_.set("client.address", remote_address_);
    // The span's own id, and also an attribute: trace backends search attributes, not always ids.
    request_span_.set("bastion.request_id", std::string(request_id_.view()));
    if (!mcp_method_.empty()) request_span_.set("mcp.method.name", std::string(mcp_method_));
    if (!protocol_version_.empty()) request_span_.set("mcp.protocol.version", protocol_version_);
    if (!session_digest_.empty()) request_span_.set("mcp.session.id", std::string(session_digest_.view()));
    if (status_ >= 500) request_span_.set_error("HTTP " + std::string(status));
    // On the request's time line (see add_step), inside the request's span.
    for (const Step& s : steps_) {
      Span child = telemetry_.tracer().start(std::string(s.name), SpanKind::internal, &context,
                                             unix_time(std::min(s.start, end_)));
      if (*s.error) child.set_error(std::string(s.error));
      child.end(unix_time(std::min(s.end, end_)));
    }
    request_span_.end(end_unix_nano);
  }

  if (!telemetry_.options().request_log) return;
  spdlog::logger& logger = telemetry_.request_logger();
  if (!logger.should_log(spdlog::level::info)) return;
  // Stamped with the request's end on its Unix time line: one clock read fewer per request.
  const std::chrono::system_clock::time_point time(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(end_unix_nano)));
  // Into the log buffer directly when the output is the JSON sink; the fields point into this
  // record, alive for the call.
  struct LineContext {
    const RequestRecord* record;
    const TraceContext* trace;
    std::uint64_t nanos;
  } const line{this, &context, nanos};
  JsonFieldsBound bound;
  request_line_fields(bound, context, nanos);
  const WriteFields write = [](const void* p, char* out) {
    const auto& c = *static_cast<const LineContext*>(p);
    JsonFieldsWriter w(out);
    c.record->request_line_fields(w, *c.trace, c.nanos);
    return w.end();
  };
  if (log_json_fields(logger, spdlog::level::info, "request", bound.size(), write, &line, time)) return;
  LogFieldList list;
  request_line_fields(list, context, nanos);
  log_fields(logger, spdlog::level::info, "request", list.fields(), time);
}

template <class Fields>
void RequestRecord::request_line_fields(Fields& out, const TraceContext& context, std::uint64_t nanos) const {
  // Fields are left out when empty. Ids and digests (lowercase hex) and names from the fixed
  // sets above need no escaping; the rest comes from requests, tokens or configuration.
  auto text = [&]<std::size_t N>(const Key<N>& key, std::string_view value) __attribute__((always_inline)) {
    if (!value.empty()) out.text(key, value);
  };
  // Ids and digests keep their types (HexId): the JSON writer copies them as fixed lengths.
  auto verbatim = [&]<std::size_t N, class Value>(const Key<N>& key, const Value& value) __attribute__((always_inline)) {
    if (!value.empty()) out.verbatim(key, value);
  };
  verbatim("request_id", request_id_);
  verbatim("trace_id", context.trace_id);
  verbatim("span_id", context.span_id);
  text("route", route_.route);
  verbatim("http_method", http_method_);
  text("path", path_);
  verbatim("era", era_);
  text("protocol_version", protocol_version_);
  verbatim("mcp_method", mcp_method_);
  if (core::same_text(mcp_method_, "tools/call")) text("tool", target_);
  else if (core::same_text(mcp_method_, "prompts/get")) text("prompt", target_);
  else text("resource", target_);
  verbatim("argument_digest", argument_digest_);
  text("arguments", arguments_);
  verbatim("session", session_digest_);
  text("issuer", issuer_);
  text("subject", subject_);
  text("client_id", client_id_);
  out.integer("status", status_);
  if (jsonrpc_error_) out.integer("jsonrpc_error", *jsonrpc_error_);
  if (tool_error_) out.flag("tool_error", true);
  if (abandoned_) out.flag("client_closed", true);
  out.integer("bytes_in", static_cast<std::int64_t>(bytes_in_));
  out.integer("bytes_out", static_cast<std::int64_t>(bytes_out_));
  // Milliseconds with microsecond precision, rounded and written in integers.
  out.milliseconds("duration_ms", static_cast<std::int64_t>((nanos + 500) / 1000));
  text("remote_address", remote_address_);
}

namespace {

// The tag of an OutboundParent's core::TaskContext (its value is a RequestRecord).
constexpr char kOutboundParentKind = 0;

std::shared_ptr<RequestRecord> outbound_parent() {
  const core::TaskContext& context = core::current_task_context();
  if (context.kind != &kOutboundParentKind) return nullptr;
  return std::static_pointer_cast<RequestRecord>(context.value);
}

// url.full and server.address of an outbound call, parsed with Boost.URL as http::fetch parses
// it. url.full keeps scheme, host, port and path: no user info (OpenTelemetry HTTP conventions:
// url.full must not carry credentials) and no query (never recorded, see uri_without_query).
struct UrlParts {
  std::string full;
  std::string host;
};
UrlParts url_parts(std::string_view text) {
  const auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed || !parsed->has_authority()) return {};  // http::fetch refuses it too (bad_url)
  const boost::urls::url_view& url = *parsed;
  UrlParts out;
  out.host = url.host_type() == boost::urls::host_type::ipv6 ? url.host_address() : std::string(url.host());
  out.full = truncated(
      std::string(url.scheme()) + "://" + std::string(url.encoded_host_and_port()) + std::string(url.encoded_path()),
      512);
  return out;
}

}  // namespace

OutboundParent::OutboundParent(const http::Exchange* exchange) {
  if (auto record = exchange ? shared_record_of(*exchange) : nullptr)
    scope_.emplace(core::TaskContext{&kOutboundParentKind, std::move(record)});
}

http::Fetcher Telemetry::traced_fetcher(http::Fetcher fetcher) const {
  if (!tracer_.enabled()) return fetcher;
  // The tracer by value: the fetcher may outlive this object by a little at shutdown.
  return [tracer = tracer_, fetcher = std::move(fetcher)](const http::ClientRequest& request,
                                                         const http::ClientOptions& options) -> Result<http::ClientResponse> {
    const auto record = outbound_parent();
    // OpenTelemetry HTTP client semantic conventions: named by the method, kind client.
    // On the request's time line (RequestRecord::unix_time), as its steps are: a call can then
    // never appear to start before the request that made it.
    const auto now = [&record] { return record ? record->unix_time(std::chrono::steady_clock::now()) : 0; };
    Span span = tracer.start(request.method, SpanKind::client, record ? &record->context() : nullptr, now());
    http::ClientRequest traced = request;
    traced.headers.set("traceparent", format_traceparent(span.context()));
    if (!span.context().tracestate.empty()) traced.headers.set("tracestate", span.context().tracestate);
    if (span.recording()) {
      auto url = url_parts(request.url);
      span.set("http.request.method", request.method);
      if (!url.full.empty()) span.set("url.full", std::move(url.full));
      if (!url.host.empty()) span.set("server.address", std::move(url.host));
    }
    auto result = fetcher(traced, options);
    if (!result) {
      span.set("error.type", "fetch_error_" + std::to_string(result.error().code));
      span.set_error(result.error().message);
    } else {
      span.set("http.response.status_code", static_cast<std::int64_t>(result->status));
      if (result->status >= 400) {
        span.set("error.type", std::to_string(result->status));
        span.set_error("HTTP " + std::to_string(result->status));
      }
    }
    span.end(now());
    return result;
  };
}

RequestRecord* record_of(const http::Exchange& exchange) {
  return static_cast<RequestRecord*>(exchange.observer().get());
}

std::shared_ptr<Operation> begin_operation(const http::Exchange& exchange, std::string_view method,
                                           const json::object& params) {
  RequestRecord* record = record_of(exchange);
  return record ? record->begin_operation(shared_record_of(exchange), method, params) : nullptr;
}

// ---- Telemetry ---------------------------------------------------------------------------

namespace {

std::unique_ptr<RequestInstruments> make_instruments(MetricsRegistry& m) {
  const std::vector<std::string> request_labels{"route", "method", "status"};
  auto ins = std::unique_ptr<RequestInstruments>(new RequestInstruments{
      m.histogram("bastion_http_request_duration_seconds",
                  "Time from the request's arrival to the end of its response or stream (http.server.request.duration).",
                  request_labels, http_duration_buckets()),
      m.counter("bastion_http_request_body_bytes_total", "Request body bytes received on MCP routes.", {"route"}),
      m.counter("bastion_http_response_body_bytes_total", "Response body bytes sent on MCP routes (streams included).",
                {"route"}),
      m.gauge("bastion_http_active_streams", "Open SSE response streams.", {"route"}),
      m.gauge("bastion_http_requests_in_flight", "Requests being served.", {"route"}),
      m.histogram("mcp_server_operation_duration_seconds",
                  "MCP request duration as the server sees it (OpenTelemetry mcp.server.operation.duration).",
                  {"route", "mcp_method_name", "gen_ai_tool_name", "error_type", "mcp_protocol_version"},
                  mcp_duration_buckets()),
      m.counter("bastion_rate_limit_rejections_total", "Requests refused by rate limiting, by route.", {"route"}),
  });
  // Two counters are the counts of the histograms above, read when /metrics is scraped: every
  // request and every tools/call is observed into those once, so counting it again per request
  // would only cost a second series lookup and update each time.
  m.callback("bastion_http_requests_total", "HTTP requests served on MCP routes, by route, HTTP method and status.",
             MetricType::counter, request_labels, [&duration = ins->duration](const Emit& emit) {
               duration.for_each([&](const std::vector<std::string>& values, const Histogram& h) {
                 emit(values, static_cast<double>(h.count()));
               });
             });
  m.callback("bastion_mcp_tool_calls_total", "tools/call requests by tool and outcome.", MetricType::counter,
             {"route", "gen_ai_tool_name", "outcome"}, [&operations = ins->mcp_duration](const Emit& emit) {
               // Labels: route, mcp_method_name, gen_ai_tool_name, error_type, mcp_protocol_version.
               std::map<std::vector<std::string>, std::uint64_t> calls;
               operations.for_each([&](const std::vector<std::string>& v, const Histogram& h) {
                 if (v.size() < 5 || v[1] != "tools/call") return;
                 const std::string& error = v[3];
                 const char* outcome = error.empty()            ? "success"
                                       : error == "tool_error" ? "tool_error"
                                       : error == "cancelled"  ? "cancelled"
                                                               : "error";
                 calls[{v[0], v[2], outcome}] += h.count();
               });
               for (const auto& [labels, count] : calls) emit(labels, static_cast<double>(count));
             });
  return ins;
}

}  // namespace

namespace {

TelemetryOptions with_argument_digest_key(TelemetryOptions options) {
  // Without a configured key, one of this process's own: digests still match within it, and
  // nobody can recompute them.
  if (options.argument_digest_key.empty()) options.argument_digest_key = core::random_hex(32);
  return options;
}

}  // namespace

Telemetry::Telemetry(TelemetryOptions options, http::Fetcher fetcher)
    : options_(with_argument_digest_key(std::move(options))),
      instruments_(make_instruments(metrics_)),
      audit_(std::make_unique<AuditSink>(options_.audit, metrics_)),
      exporter_(options_.tracing.enabled ? std::make_shared<OtlpExporter>(
                                               [&] {
                                                 OtlpOptions o = options_.tracing.otlp;
                                                 if (o.service_version.empty()) o.service_version = options_.service_version;
                                                 return o;
                                               }(),
                                               std::move(fetcher), metrics_)
                                         : nullptr),
      tracer_(options_.tracing.sample_ratio, exporter_),
      active_(options_.metrics || options_.request_log || options_.tracing.enabled || options_.audit.enabled),
      argument_digest_key_id_(telemetry::argument_digest_key_id(options_.argument_digest_key)),
      argument_digest_key_(options_.argument_digest_key),
      request_logger_(component_logger("request")),
      id_([] {
        static std::atomic<std::uint64_t> next{1};
        return next.fetch_add(1, std::memory_order_relaxed);
      }()) {}

const RouteSeries& Telemetry::route_series(const std::string& route) {
  // A few entries per thread, replaced in turn: a server has a handful of routes.
  struct Entry {
    std::uint64_t owner = 0;
    std::string route;
    RouteSeries series;
  };
  thread_local std::array<Entry, 4> entries;
  thread_local std::size_t next_victim = 0;
  for (const Entry& e : entries)
    if (e.owner == id_ && core::same_text(e.route, route)) return e.series;
  Entry& e = entries[next_victim++ % entries.size()];
  e.owner = id_;
  e.route = route;
  e.series = find_route_series(route);
  return e.series;
}

RouteSeries Telemetry::find_route_series(const std::string& route) {
  RequestInstruments& ins = instruments();
  return RouteSeries{&ins.received_bytes.with({route}), &ins.sent_bytes.with({route}),
                     &ins.active_streams.with({route}), &ins.in_flight.with({route})};
}

void Telemetry::bind_route(RouteTag& tag) {
  if (!options_.metrics) return;
  tag.series = find_route_series(tag.route);
  tag.bound_to = id_;
}

Telemetry::~Telemetry() {
  if (exporter_) exporter_->shutdown();
}

void Telemetry::observe(http::Exchange& exchange, const RouteTag& route) {
  if (!active_) return;
  // From a per-thread cache (core/block_cache.hpp): a pass over the ready connections holds
  // dozens of these at once, more than malloc's own per-thread cache keeps.
  exchange.set_observer(std::allocate_shared<RequestRecord>(core::CachingAllocator<RequestRecord>(), *this, route,
                                                            exchange.request()));
}

}  // namespace bastion::telemetry
