// Streamable HTTP (2025-03-26 .. 2025-11-25) and HTTP+SSE (2024-11-05) on one route.
// Spec: MCP <rev>/basic/transports.mdx; checklist items 59-68 and 76-78 of MCP-REQUIREMENTS.md.
#include "transport/mcp_endpoint.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <unordered_map>

#include "core/random.hpp"
#include "core/worker_pool.hpp"
#include "jsonrpc/error_codes.hpp"
#include "mcp/dispatcher.hpp"
#include "mcp/request_state.hpp"
#include "mcp/versions.hpp"
#include "telemetry/telemetry.hpp"
#include "transport/event_stream.hpp"
#include "transport/headers.hpp"
#include "transport/modern_http.hpp"

namespace bastion::transport {

namespace rpc = jsonrpc;
namespace json = boost::json;

namespace {

constexpr std::size_t kRetainedEndedStreams = 32;

using PrincipalPtr = std::shared_ptr<const Principal>;

mcp::DispatchOptions dispatch_options(const EndpointOptions& o) {
  mcp::DispatchOptions d;
  d.client_request_timeout = o.client_request_timeout;
  d.may_use = o.may_use;
  return d;
}

http::Response rpc_error(int status, int code, std::string_view message, const std::optional<rpc::Id>& id = std::nullopt) {
  return http::json_response(status, rpc::serialize(rpc::make_error(id, code, message)));
}

// Case-insensitive substring search (media types compare case-insensitively, RFC 9110
// §8.3.1), without copying the header.
bool contains_ci(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    std::size_t k = 0;
    while (k < needle.size() &&
           std::tolower(static_cast<unsigned char>(haystack[i + k])) == static_cast<unsigned char>(needle[k]))
      ++k;
    if (k == needle.size()) return true;
  }
  return false;
}

// `value` must be lowercase.
bool header_lists(const http::Request& req, std::string_view header, std::string_view value) {
  const std::string* h = req.headers.find(header);
  return h && contains_ci(*h, value);
}

// POST must accept both response forms (transports.mdx §Sending Messages; 406 as the TS SDK).
bool accepts_json_and_sse(const http::Request& req) {
  if (header_lists(req, "Accept", "*/*")) return true;
  return header_lists(req, "Accept", "application/json") && header_lists(req, "Accept", "text/event-stream");
}

bool is_json_content(const http::Request& req) {
  const std::string* ct = req.headers.find("Content-Type");
  if (!ct) return false;
  std::string_view v = *ct;
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  constexpr std::string_view kJson = "application/json";
  return v.size() >= kJson.size() && contains_ci(v.substr(0, kJson.size()), kJson);
}

using OperationPtr = std::shared_ptr<telemetry::Operation>;

}  // namespace

// ---- sessions ---------------------------------------------------------------------------

// A legacy session plus what the HTTP transport keeps for it: its event streams.
struct HttpSession {
  std::shared_ptr<mcp::Session> mcp;
  // The session's pseudonym in logs, audit records and spans, made once (with telemetry on).
  telemetry::SessionDigest digest;
  // Who created the session (protected routes). mcp->principal points here for the session's
  // life; handlers see the creator's principal.
  std::shared_ptr<const Principal> principal;
  bool sse_transport = false;  // 2024-11-05 HTTP+SSE
  StreamSettings stream_settings;

  std::mutex mutex;
  std::uint64_t next_stream = 1;
  std::map<std::string, std::shared_ptr<EventStream>> streams;  // by stream id
  std::deque<std::string> ended_streams;                       // oldest first, bounded
  std::shared_ptr<EventStream> standalone;                     // GET stream / 2024-11-05 stream

  std::shared_ptr<EventStream> new_stream() {
    std::lock_guard lock(mutex);
    auto id = std::to_string(next_stream++);
    auto s = std::make_shared<EventStream>(id, stream_settings);
    streams[id] = s;
    return s;
  }

  void stream_ended(const std::string& id) {
    std::lock_guard lock(mutex);
    ended_streams.push_back(id);
    // Ended streams are kept for late resumption, but only the most recent few.
    while (ended_streams.size() > kRetainedEndedStreams) {
      streams.erase(ended_streams.front());
      ended_streams.pop_front();
    }
  }

  std::shared_ptr<EventStream> find_stream(const std::string& id) {
    std::lock_guard lock(mutex);
    auto it = streams.find(id);
    return it == streams.end() ? nullptr : it->second;
  }

  bool any_attached() {
    std::lock_guard lock(mutex);
    for (auto& [_, s] : streams)
      if (s->attached()) return true;
    return false;
  }

  void end_all() {
    std::lock_guard lock(mutex);
    for (auto& [_, s] : streams) s->end();
  }
};

namespace {

// Telemetry annotations (a no-op on an exchange nobody observes): the era, the negotiated
// version, the session (as its digest) and who is calling.
void note_session(const http::Exchange& ex, std::string_view era, const HttpSession& hs) {
  if (auto record = telemetry::record_of(ex))
    record->set_session(era, hs.mcp->protocol_version, hs.digest, hs.mcp->principal);
}

}  // namespace

// ---- outbound channels ------------------------------------------------------------------

// The answer to one POSTed request: application/json when the handler only responds, an SSE
// stream as soon as it sends anything else first (transports.mdx: the server MAY use either).
class PostOutbound final : public mcp::Outbound {
 public:
  PostOutbound(std::shared_ptr<HttpSession> session, std::shared_ptr<http::Exchange> exchange, http::Headers extra,
               std::shared_ptr<const Principal> caller = nullptr, OperationPtr op = nullptr)
      : session_(std::move(session)), exchange_(std::move(exchange)), extra_(std::move(extra)), caller_(std::move(caller)),
        op_(std::move(op)) {}

  json::object trace_meta() const override { return op_ ? op_->trace_meta() : json::object{}; }
  void tool_found() override {
    if (op_) op_->tool_found();
  }
  const Principal* caller() const override { return caller_.get(); }

  void send(json::object message) override {
    std::lock_guard lock(mutex_);
    ensure_stream_locked();
    stream_->send(rpc::serialize(message));
  }

  void respond(json::object response) override {
    std::lock_guard lock(mutex_);
    if (op_) op_->end(response);
    if (!stream_) {
      http::Response r = http::json_response(200, rpc::serialize(response));
      for (const auto& [k, v] : extra_.fields()) r.headers.set(k, v);
      exchange_->respond(std::move(r));
      exchange_.reset();
      return;
    }
    stream_->send(rpc::serialize(response));
    end_locked();
  }

  void close_for_polling(std::chrono::milliseconds retry) override {
    std::lock_guard lock(mutex_);
    // Polling needs an event id to resume from, so switch to a stream first (its priming or
    // first event carries one).
    ensure_stream_locked();
    stream_->close_connection(retry);
  }

  void abandon() override {
    std::lock_guard lock(mutex_);
    if (op_) op_->end_cancelled();
    // Cancelled: nothing more is sent for this request; close what the client waits on.
    ensure_stream_locked();
    end_locked();
  }

 private:
  void ensure_stream_locked() {
    if (stream_) return;
    stream_ = session_->new_stream();
    stream_->attach(exchange_, std::nullopt, extra_);
    exchange_.reset();
  }

  void end_locked() {
    stream_->end();
    session_->stream_ended(stream_->id());
  }

  std::mutex mutex_;
  std::shared_ptr<HttpSession> session_;
  std::shared_ptr<http::Exchange> exchange_;  // until a stream takes it over
  http::Headers extra_;
  std::shared_ptr<const Principal> caller_;
  OperationPtr op_;
  std::shared_ptr<EventStream> stream_;
};

// Everything for a 2024-11-05 client goes on its one SSE stream.
class SseOutbound final : public mcp::Outbound {
 public:
  SseOutbound(std::shared_ptr<EventStream> stream, std::shared_ptr<const Principal> caller, OperationPtr op)
      : stream_(std::move(stream)), caller_(std::move(caller)), op_(std::move(op)) {}
  void send(json::object message) override { stream_->send(rpc::serialize(message)); }
  void respond(json::object response) override {
    if (op_) op_->end(response);
    stream_->send(rpc::serialize(response));
  }
  void abandon() override {
    if (op_) op_->end_cancelled();
  }
  json::object trace_meta() const override { return op_ ? op_->trace_meta() : json::object{}; }
  void tool_found() override {
    if (op_) op_->tool_found();
  }
  const Principal* caller() const override { return caller_.get(); }

 private:
  std::shared_ptr<EventStream> stream_;
  std::shared_ptr<const Principal> caller_;
  OperationPtr op_;
};

// A 2025-03-26 batch: one JSON array answers all its requests.
class BatchCollector : public std::enable_shared_from_this<BatchCollector> {
 public:
  BatchCollector(std::shared_ptr<http::Exchange> exchange, std::size_t expected)
      : exchange_(std::move(exchange)), remaining_(expected) {}

  void add(json::object response) {
    std::lock_guard lock(mutex_);
    responses_.push_back(std::move(response));
    if (--remaining_ == 0) exchange_->respond(http::json_response(200, json::serialize(responses_)));
  }

 private:
  std::mutex mutex_;
  std::shared_ptr<http::Exchange> exchange_;
  json::array responses_;
  std::size_t remaining_;
};

class BatchOutbound final : public mcp::Outbound {
 public:
  BatchOutbound(std::shared_ptr<BatchCollector> c, std::shared_ptr<const Principal> caller, OperationPtr op)
      : collector_(std::move(c)), caller_(std::move(caller)), op_(std::move(op)) {}
  const Principal* caller() const override { return caller_.get(); }
  // Related notifications have no stream of their own inside a JSON batch answer.
  void send(json::object) override {}
  void respond(json::object response) override {
    if (op_) op_->end(response);
    collector_->add(std::move(response));
  }
  void abandon() override {
    if (op_) op_->end_cancelled();
    collector_->add(json::object{});
  }
  json::object trace_meta() const override { return op_ ? op_->trace_meta() : json::object{}; }
  void tool_found() override {
    if (op_) op_->tool_found();
  }

 private:
  std::shared_ptr<BatchCollector> collector_;
  std::shared_ptr<const Principal> caller_;
  OperationPtr op_;
};

// ---- the endpoint -----------------------------------------------------------------------

struct McpEndpoint::Impl {
  std::shared_ptr<ServerDefinition> server;
  EndpointOptions options;
  core::WorkerPool workers;
  core::TimerQueue timers;
  mcp::Dispatcher dispatcher;
  ModernHttp modern;  // 2026-07-28 requests, chosen per request
  std::string sse_path;
  std::string messages_path;

  mutable std::mutex mutex;
  std::unordered_map<std::string, std::shared_ptr<HttpSession>> sessions;
  std::unordered_map<std::string, std::size_t> sessions_per_owner;
  std::atomic<bool> stopping{false};

  Impl(std::shared_ptr<ServerDefinition> s, EndpointOptions o)
      : server(s),
        options(std::move(o)),
        workers(options.worker_threads, 10000),
        dispatcher(s, dispatch_options(options), workers, timers),
        modern(s, dispatcher, options),
        sse_path(options.path + "/sse"),
        messages_path(options.path + "/messages") {
    schedule_reaper();
  }

  // -- session table --

  // A session belongs to its principal (issuer + subject) on protected routes, else to the
  // remote address (which only counts towards the per-client cap; see session_for).
  static std::string owner_of(const http::Request& req, const Principal* principal) {
    return principal ? mcp::principal_binding(principal) : req.remote_address;
  }

  // The step-5 hook: the answer to send instead of dispatching `request`, if any.
  std::optional<http::Response> denied(const PrincipalPtr& principal, const rpc::Request& request) const {
    if (!options.authorize) return std::nullopt;
    return options.authorize(principal.get(), request);
  }

  // Creates a session unless a cap is reached (then the HTTP answer to send instead).
  std::variant<std::shared_ptr<HttpSession>, http::Response> create_session(const http::Exchange& ex, bool sse_transport,
                                                                            PrincipalPtr principal) {
    const http::Request& req = ex.request();
    std::string owner = owner_of(req, principal.get());
    std::lock_guard lock(mutex);
    if (stopping) return rpc_error(503, rpc::kServerError, "Service Unavailable: shutting down");
    // Caps on sessions (PEERS.md pain 2: unauthenticated initialize must not exhaust memory).
    if (sessions.size() >= options.max_sessions)
      return rpc_error(503, rpc::kServerError, "Service Unavailable: the server has reached its session limit");
    if (sessions_per_owner[owner] >= options.max_sessions_per_client)
      return rpc_error(429, rpc::kServerError, "Too Many Requests: this client has reached its session limit");
    auto hs = std::make_shared<HttpSession>();
    // 128 bits from the CSPRNG, visible ASCII only (transports.mdx §Session Management).
    hs->mcp = std::make_shared<mcp::Session>(core::random_hex(16));
    if (options.telemetry && options.telemetry->active()) hs->digest = telemetry::session_digest(hs->mcp->id());
    hs->mcp->owner = owner;
    hs->principal = std::move(principal);
    hs->mcp->principal = hs->principal.get();
    hs->sse_transport = sse_transport;
    hs->stream_settings.keepalive = options.sse_keepalive;
    hs->stream_settings.max_buffered_events = options.event_store_events_per_stream;
    hs->stream_settings.legacy_sse_framing = sse_transport;
    sessions.emplace(hs->mcp->id(), hs);
    ++sessions_per_owner[owner];
    server->subscribe(hs->mcp);
    return hs;
  }

  std::shared_ptr<HttpSession> find_session(const std::string& id) {
    std::lock_guard lock(mutex);
    auto it = sessions.find(id);
    return it == sessions.end() ? nullptr : it->second;
  }

  // session_created / session_ended in the audit trail: who, from where, which era; the session
  // id only as a digest.
  void audit_session(const char* type, const HttpSession& hs, std::string_view reason, const http::Exchange* ex) {
    if (!options.telemetry || !options.telemetry->audit().enabled()) return;
    telemetry::AuditEvent e;
    e.type = type;
    e.outcome = "success";
    e.reason = std::string(reason);
    e.route = options.path;
    e.session_id = hs.digest;
    if (hs.mcp->principal) {
      e.issuer = hs.mcp->principal->issuer;
      e.subject = hs.mcp->principal->subject;
      e.client_id = hs.mcp->principal->client_id;
    }
    if (ex) {
      e.remote_address = ex->request().remote_address;
      if (auto record = telemetry::record_of(*ex)) {
        e.request_id = record->request_id();
        e.trace_id = record->context().trace_id;
      }
    }
    e.details["era"] = hs.sse_transport ? "sse" : "session";
    options.telemetry->audit().record(e);
  }

  void end_session(const std::string& id, std::string_view reason = "ended") {
    std::shared_ptr<HttpSession> hs;
    {
      std::lock_guard lock(mutex);
      auto it = sessions.find(id);
      if (it == sessions.end()) return;
      hs = it->second;
      sessions.erase(it);
      auto owner = sessions_per_owner.find(hs->mcp->owner);
      if (owner != sessions_per_owner.end() && --owner->second == 0) sessions_per_owner.erase(owner);
    }
    hs->mcp->close();
    hs->end_all();
    audit_session(telemetry::audit_event::kSessionEnded, *hs, reason, nullptr);
  }

  void schedule_reaper() {
    auto period = std::clamp(options.session_idle_timeout / 4, std::chrono::milliseconds(50),
                             std::chrono::milliseconds(5000));
    timers.schedule(core::TimerQueue::Clock::now() + period, [this] {
      if (stopping) return;
      reap_idle();
      schedule_reaper();
    });
  }

  // Sessions idle past the timeout are ended (PEERS.md pain 2); one with an open stream or a
  // request in flight is not idle.
  void reap_idle() {
    auto now = mcp::Session::Clock::now();
    std::vector<std::string> idle;
    {
      std::lock_guard lock(mutex);
      for (auto& [id, hs] : sessions) {
        if (now - hs->mcp->last_activity() < options.session_idle_timeout) continue;
        if (hs->mcp->in_flight() > 0 || hs->any_attached()) continue;
        idle.push_back(id);
      }
    }
    for (auto& id : idle) end_session(id, "idle_timeout");
  }

  // -- Streamable HTTP --

  // Resolves the session a non-initialize request names (400 missing, 404 unknown).
  std::variant<std::shared_ptr<HttpSession>, http::Response> session_for(const http::Request& req,
                                                                         const PrincipalPtr& principal) {
    const std::string* id = req.headers.find(kSessionHeader);
    if (!id) return rpc_error(400, rpc::kServerError, "Bad Request: Mcp-Session-Id header is required");
    auto hs = find_session(*id);
    // Unknown, ended, 2024-11-05 and other principals' sessions all look the same: 404 and
    // nothing more (transports.mdx §Session Management; MCP security best practices, session
    // hijacking: bind sessions to the user). The remote address is not used for binding because
    // one client may reach us over several (IPv4 and IPv6 loopback, NAT), so it only counts
    // towards the per-client cap.
    if (!hs || hs->sse_transport || !bound_to(*hs, principal))
      return rpc_error(404, rpc::kSessionNotFound, "Session not found");
    // MCP-Protocol-Version: an unsupported value is a 400; absent means the negotiated one
    // (2025-06-18 transports.mdx §Protocol Version Header).
    if (const std::string* v = req.headers.find(kVersionHeader); v && !mcp::is_legacy_version(*v))
      return rpc_error(400, rpc::kServerError, "Bad Request: Unsupported protocol version: " + *v);
    hs->mcp->touch();
    return hs;
  }

  // A session created with a principal is used only by the same issuer + subject; one created
  // without (an unprotected route) only without.
  static bool bound_to(const HttpSession& hs, const PrincipalPtr& principal) {
    if (!hs.principal) return principal == nullptr;
    return principal && principal->issuer == hs.principal->issuer && principal->subject == hs.principal->subject;
  }

  void handle_post(const std::shared_ptr<http::Exchange>& ex, const PrincipalPtr& principal) {
    const http::Request& req = ex->request();
    if (!accepts_json_and_sse(req))
      return ex->respond(rpc_error(406, rpc::kServerError,
                                   "Not Acceptable: Client must accept both application/json and text/event-stream"));
    if (!is_json_content(req))
      return ex->respond(rpc_error(415, rpc::kServerError, "Unsupported Media Type: Content-Type must be application/json"));
    auto parsed = rpc::parse(req.body);
    if (!parsed) return ex->respond(rpc_error(400, rpc::kParseError, parsed.error().message));
    if (parsed->is_array()) return handle_batch(ex, parsed->get_array(), principal);
    // The era is chosen per request (MCP-REQUIREMENTS item 104).
    if (ModernHttp::claims_post(req, *parsed)) return modern.handle_post(ex, *parsed, principal);

    std::optional<rpc::Id> id;
    auto message = rpc::decode(std::move(*parsed), &id);
    if (!message) return ex->respond(rpc_error(400, message.error().code, message.error().message, id));

    if (auto* r = std::get_if<rpc::Request>(&*message); r && r->method == "initialize") {
      if (auto answer = denied(principal, *r)) return ex->respond(std::move(*answer));
      return handle_initialize(ex, std::move(*r), principal);
    }

    auto found = session_for(req, principal);
    if (auto* err = std::get_if<http::Response>(&found)) return ex->respond(std::move(*err));
    auto hs = std::get<std::shared_ptr<HttpSession>>(found);
    if (auto* r = std::get_if<rpc::Request>(&*message))
      if (auto answer = denied(principal, *r)) return ex->respond(std::move(*answer));
    note_session(*ex, "session", *hs);
    dispatch(hs, std::move(*message), ex, principal);
  }

  void dispatch(const std::shared_ptr<HttpSession>& hs, rpc::Message message, const std::shared_ptr<http::Exchange>& ex,
                const PrincipalPtr& principal) {
    if (auto* r = std::get_if<rpc::Request>(&message)) {
      auto op = telemetry::begin_operation(*ex, r->method, r->params);
      dispatcher.handle_request(hs->mcp, std::move(*r),
                                std::make_shared<PostOutbound>(hs, ex, http::Headers{}, principal, std::move(op)));
      return;
    }
    // Notifications and responses are accepted with 202 and no body.
    ex->respond(http::plain_response(202));
    if (auto* n = std::get_if<rpc::Notification>(&message)) dispatcher.handle_notification(hs->mcp, *n);
    else dispatcher.handle_response(hs->mcp, std::get<rpc::Response>(message));
  }

  void handle_initialize(const std::shared_ptr<http::Exchange>& ex, rpc::Request request, const PrincipalPtr& principal) {
    const http::Request& req = ex->request();
    if (req.headers.find(kSessionHeader))
      return ex->respond(rpc_error(400, rpc::kInvalidRequest, "Invalid Request: Server already initialized", request.id));
    auto created = create_session(*ex, false, principal);
    if (auto* err = std::get_if<http::Response>(&created)) return ex->respond(std::move(*err));
    auto hs = std::get<std::shared_ptr<HttpSession>>(created);
    // The operation first: it adopts a _meta trace context before anything fixes the trace.
    auto op = telemetry::begin_operation(*ex, request.method, request.params);
    // Audited outside the session table's lock (it is a write(2)).
    audit_session(telemetry::audit_event::kSessionCreated, *hs, "", ex.get());
    auto result = dispatcher.initialize(*hs->mcp, request.params);
    if (!result) {
      end_session(hs->mcp->id(), "initialize_failed");
      auto error = rpc::make_error(request.id, result.error().code, result.error().message);
      if (op) op->end(error);
      return ex->respond(http::json_response(400, rpc::serialize(error)));
    }
    note_session(*ex, "session", *hs);
    hs->stream_settings.priming_event = mcp::version_at_least(hs->mcp->protocol_version, mcp::kVersion2025_11_25);
    auto answer = rpc::make_result(request.id, std::move(*result));
    if (op) op->end(answer);
    http::Response r = http::json_response(200, rpc::serialize(answer));
    r.headers.set(kSessionHeader, hs->mcp->id());
    ex->respond(std::move(r));
  }

  void handle_batch(const std::shared_ptr<http::Exchange>& ex, const json::array& batch, const PrincipalPtr& principal) {
    const http::Request& req = ex->request();
    if (batch.empty()) return ex->respond(rpc_error(400, rpc::kInvalidRequest, "Invalid Request: empty batch"));
    auto found = session_for(req, principal);
    if (std::holds_alternative<http::Response>(found)) {
      // Without a session there is no negotiated 2025-03-26, so a batch is refused either way.
      return ex->respond(rpc_error(400, rpc::kInvalidRequest, "Invalid Request: JSON-RPC batches are not supported"));
    }
    auto hs = std::get<std::shared_ptr<HttpSession>>(found);
    note_session(*ex, "session", *hs);
    // Batches exist only in 2025-03-26 (basic/index.mdx §Batching; removed in 2025-06-18).
    if (hs->mcp->protocol_version != mcp::kVersion2025_03_26)
      return ex->respond(rpc_error(400, rpc::kInvalidRequest,
                                   "Invalid Request: JSON-RPC batches are not supported in protocol version " +
                                       hs->mcp->protocol_version));
    std::vector<rpc::Message> messages;
    std::size_t requests = 0;
    for (const auto& item : batch) {
      std::optional<rpc::Id> id;
      auto m = rpc::decode(item, &id);
      if (!m) return ex->respond(rpc_error(400, m.error().code, m.error().message, id));
      if (auto* r = std::get_if<rpc::Request>(&*m)) {
        if (r->method == "initialize")
          return ex->respond(rpc_error(400, rpc::kInvalidRequest, "Invalid Request: initialize must not be batched", r->id));
        // One denied request refuses the whole batch: an HTTP status answers the POST, not
        // one member of it.
        if (auto answer = denied(principal, *r)) return ex->respond(std::move(*answer));
        ++requests;
      }
      messages.push_back(std::move(*m));
    }
    if (requests == 0) ex->respond(http::plain_response(202));
    auto collector = requests ? std::make_shared<BatchCollector>(ex, requests) : nullptr;
    for (auto& m : messages) {
      if (auto* r = std::get_if<rpc::Request>(&m)) {
        auto op = telemetry::begin_operation(*ex, r->method, r->params);
        dispatcher.handle_request(hs->mcp, std::move(*r), std::make_shared<BatchOutbound>(collector, principal, std::move(op)));
      }
      else if (auto* n = std::get_if<rpc::Notification>(&m)) dispatcher.handle_notification(hs->mcp, *n);
      else dispatcher.handle_response(hs->mcp, std::get<rpc::Response>(m));
    }
  }

  void handle_get(const std::shared_ptr<http::Exchange>& ex, const PrincipalPtr& principal) {
    const http::Request& req = ex->request();
    if (!header_lists(req, "Accept", "text/event-stream") && !header_lists(req, "Accept", "*/*"))
      return ex->respond(rpc_error(406, rpc::kServerError, "Not Acceptable: Client must accept text/event-stream"));
    auto found = session_for(req, principal);
    if (auto* err = std::get_if<http::Response>(&found)) return ex->respond(std::move(*err));
    auto hs = std::get<std::shared_ptr<HttpSession>>(found);
    note_session(*ex, "session", *hs);

    if (const std::string* last = req.headers.find("Last-Event-ID")) {
      // Resume exactly the stream the id belongs to; never replay another stream's events
      // (transports.mdx §Resumability and Redelivery, MUST NOT).
      auto parsed = parse_event_id(*last);
      auto stream = parsed ? hs->find_stream(parsed->first) : nullptr;
      if (!stream) return ex->respond(rpc_error(404, rpc::kServerError, "Not Found: unknown or expired event id"));
      if (!stream->attach(ex, parsed->second))
        return ex->respond(rpc_error(409, rpc::kServerError, "Conflict: the stream is already connected"));
      return;
    }
    std::shared_ptr<EventStream> standalone;
    {
      std::lock_guard lock(hs->mutex);
      standalone = hs->standalone;
    }
    if (!standalone) {
      standalone = hs->new_stream();
      std::lock_guard lock(hs->mutex);
      if (hs->standalone) standalone = hs->standalone;  // lost a race: use the one that won
      else hs->standalone = standalone;
    }
    // At most one standalone stream per session (409 for a second, as the TS SDK).
    if (!standalone->attach(ex, std::nullopt))
      return ex->respond(rpc_error(409, rpc::kServerError, "Conflict: Only one SSE stream is allowed per session"));
    std::weak_ptr<EventStream> weak = standalone;
    hs->mcp->set_unsolicited_sink([weak](json::object m) {
      if (auto s = weak.lock()) s->send(rpc::serialize(m));
    });
  }

  void handle_delete(const std::shared_ptr<http::Exchange>& ex, const PrincipalPtr& principal) {
    auto found = session_for(ex->request(), principal);
    if (auto* err = std::get_if<http::Response>(&found)) return ex->respond(std::move(*err));
    const auto& hs = std::get<std::shared_ptr<HttpSession>>(found);
    note_session(*ex, "session", *hs);
    end_session(hs->mcp->id(), "deleted");
    ex->respond(http::plain_response(200));
  }

  // -- 2024-11-05 HTTP+SSE --

  void handle_sse_open(const std::shared_ptr<http::Exchange>& ex, const PrincipalPtr& principal) {
    auto created = create_session(*ex, true, principal);
    if (auto* err = std::get_if<http::Response>(&created)) return ex->respond(std::move(*err));
    auto hs = std::get<std::shared_ptr<HttpSession>>(created);
    hs->mcp->protocol_version = std::string(mcp::kVersion2024_11_05);
    audit_session(telemetry::audit_event::kSessionCreated, *hs, "", ex.get());
    note_session(*ex, "sse", *hs);
    auto stream = hs->new_stream();
    {
      std::lock_guard lock(hs->mutex);
      hs->standalone = stream;
    }
    std::weak_ptr<EventStream> weak = stream;
    hs->mcp->set_unsolicited_sink([weak](json::object m) {
      if (auto s = weak.lock()) s->send(rpc::serialize(m));
    });
    // The session lives as long as its stream (2024-11-05 transports.mdx §HTTP with SSE).
    std::string id = hs->mcp->id();
    ex->on_peer_closed([this, id] { end_session(id, "stream_closed"); });
    stream->attach(ex, std::nullopt);
    // The first event names the URI for posting messages.
    stream->send_named("endpoint", messages_path + "?session_id=" + id);
  }

  void handle_sse_message(const std::shared_ptr<http::Exchange>& ex, const PrincipalPtr& principal) {
    const http::Request& req = ex->request();
    auto id = http::query_param(req, "session_id");
    if (!id) id = http::query_param(req, "sessionId");
    if (!id) return ex->respond(rpc_error(400, rpc::kServerError, "Bad Request: session_id is required"));
    auto hs = find_session(*id);
    if (!hs || !hs->sse_transport || !bound_to(*hs, principal))
      return ex->respond(rpc_error(404, rpc::kSessionNotFound, "Session not found"));
    if (!is_json_content(req))
      return ex->respond(rpc_error(415, rpc::kServerError, "Unsupported Media Type: Content-Type must be application/json"));
    auto parsed = rpc::parse(req.body);
    if (!parsed) return ex->respond(rpc_error(400, rpc::kParseError, parsed.error().message));
    std::optional<rpc::Id> rid;
    auto message = rpc::decode(*parsed, &rid);
    if (!message) return ex->respond(rpc_error(400, message.error().code, message.error().message, rid));
    // Denied before the 202: the HTTP status of this POST is the only place a 403 can go.
    if (auto* r = std::get_if<rpc::Request>(&*message))
      if (auto answer = denied(principal, *r)) return ex->respond(std::move(*answer));
    hs->mcp->touch();
    note_session(*ex, "sse", *hs);
    std::shared_ptr<EventStream> stream;
    {
      std::lock_guard lock(hs->mutex);
      stream = hs->standalone;
    }
    // The operation outlives this POST (its answer travels on the SSE stream): it ends when the
    // response is sent there.
    OperationPtr op;
    if (auto* r = std::get_if<rpc::Request>(&*message)) op = telemetry::begin_operation(*ex, r->method, r->params);
    // The answer travels on the SSE stream; the POST itself is only acknowledged.
    http::Response accepted = http::plain_response(202, "Accepted");
    accepted.headers.set("Content-Type", "text/plain");
    ex->respond(std::move(accepted));
    auto out = std::make_shared<SseOutbound>(stream, principal, std::move(op));
    if (auto* r = std::get_if<rpc::Request>(&*message)) {
      if (r->method == "initialize") {
        auto result = dispatcher.initialize(*hs->mcp, r->params);
        out->respond(result ? rpc::make_result(r->id, std::move(*result))
                            : rpc::make_error(r->id, result.error().code, result.error().message));
        return;
      }
      dispatcher.handle_request(hs->mcp, std::move(*r), out);
    } else if (auto* n = std::get_if<rpc::Notification>(&*message)) {
      dispatcher.handle_notification(hs->mcp, *n);
    } else {
      dispatcher.handle_response(hs->mcp, std::get<rpc::Response>(*message));
    }
  }

  void shutdown() {
    if (stopping.exchange(true)) return;
    std::vector<std::string> ids;
    {
      std::lock_guard lock(mutex);
      for (auto& [id, _] : sessions) ids.push_back(id);
    }
    for (auto& id : ids) end_session(id, "shutdown");
    modern.shutdown();
    timers.stop();
    workers.stop();
  }
};

McpEndpoint::McpEndpoint(std::shared_ptr<ServerDefinition> server, EndpointOptions options)
    : impl_(std::make_unique<Impl>(std::move(server), std::move(options))) {}

McpEndpoint::~McpEndpoint() { impl_->shutdown(); }

const std::string& McpEndpoint::path() const { return impl_->options.path; }

bool McpEndpoint::matches(const std::string& p) const {
  return p == impl_->options.path || p == impl_->sse_path || p == impl_->messages_path;
}

void McpEndpoint::handle(std::shared_ptr<http::Exchange> ex, std::shared_ptr<const Principal> principal) {
  const http::Request& req = ex->request();
  const std::string& m = req.method;
  if (req.path == impl_->sse_path) {
    if (m == "GET") return impl_->handle_sse_open(ex, principal);
  } else if (req.path == impl_->messages_path) {
    if (m == "POST") return impl_->handle_sse_message(ex, principal);
  } else {
    if (m == "POST") return impl_->handle_post(ex, principal);
    // The modern wire has neither GET nor DELETE (2026-07-28 streamable-http.mdx).
    if ((m == "GET" || m == "DELETE") && ModernHttp::claims_get_or_delete(req))
      return impl_->modern.reject_get_or_delete(ex);
    if (m == "GET") return impl_->handle_get(ex, principal);
    if (m == "DELETE") return impl_->handle_delete(ex, principal);
  }
  http::Response r = rpc_error(405, rpc::kServerError, "Method Not Allowed");
  r.headers.set("Allow", req.path == impl_->sse_path ? "GET" : req.path == impl_->messages_path ? "POST" : "GET, POST, DELETE");
  ex->respond(std::move(r));
}

std::size_t McpEndpoint::session_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->sessions.size();
}

std::size_t McpEndpoint::subscription_count() const { return impl_->modern.subscription_count(); }

void McpEndpoint::shutdown() { impl_->shutdown(); }

}  // namespace bastion::transport
