#include "transport/modern_http.hpp"

#include <atomic>
#include <charconv>
#include <cmath>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <variant>

#include "core/base64.hpp"
#include "jsonrpc/error_codes.hpp"
#include "jsonrpc/message.hpp"
#include "mcp/modern.hpp"
#include "mcp/param_headers.hpp"
#include "mcp/request_state.hpp"
#include "mcp/versions.hpp"
#include "telemetry/telemetry.hpp"
#include "transport/event_stream.hpp"
#include "transport/headers.hpp"

namespace bastion::transport {

namespace rpc = jsonrpc;
namespace json = boost::json;

namespace {

constexpr std::string_view kParamHeaderPrefix = "Mcp-Param-";
constexpr std::string_view kSentinelPrefix = "=?base64?";
constexpr std::string_view kSentinelSuffix = "?=";

// The one table from JSON-RPC error codes to HTTP statuses on the modern wire
// (streamable-http.mdx §Protocol Version Header, §Server Validation; basic/index.mdx: missing
// _meta fields and missing capabilities are 400, an unknown method is 404).
int http_status_for(const json::object& response) {
  const json::value* error = response.if_contains("error");
  if (!error || !error->is_object()) return 200;
  const json::value* code = error->get_object().if_contains("code");
  if (!code || !code->is_int64()) return 200;
  switch (code->get_int64()) {
    case rpc::kMethodNotFound:
      return 404;
    case rpc::kParseError:
    case rpc::kInvalidRequest:
    case rpc::kInvalidParams:
    case rpc::kHeaderMismatch:
    case rpc::kMissingRequiredClientCapability:
    case rpc::kUnsupportedProtocolVersion:
      return 400;
    case rpc::kInternalError:
      return 500;
    default:
      // Application-defined errors are a complete JSON-RPC exchange.
      return 200;
  }
}

http::Response json_rpc_response(const json::object& message) {
  return http::json_response(http_status_for(message), rpc::serialize(message));
}

std::string_view trim_ows(std::string_view v) {
  // RFC 9110 §5.5: optional whitespace around a field value is not part of it.
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// RFC 9110 §5.5 field-value characters: visible ASCII, space and tab. Anything else (controls,
// bytes above 0x7E) is invalid in the headers we check (streamable-http.mdx §Value Encoding).
bool valid_field_value(std::string_view v) {
  for (unsigned char c : v)
    if (!((c >= 0x20 && c <= 0x7E) || c == '\t')) return false;
  return true;
}

struct HeaderProblem {
  std::string message;
};

// The single, trimmed, well-formed value of a header; nullopt when absent; a problem when it
// is repeated or carries invalid characters.
std::variant<std::optional<std::string>, HeaderProblem> read_header(const http::Request& req, std::string_view name) {
  std::size_t n = req.headers.count(name);
  if (n == 0) return std::optional<std::string>{};
  if (n > 1) return HeaderProblem{"Header mismatch: " + std::string(name) + " is repeated"};
  std::string_view value = trim_ows(*req.headers.find(name));
  if (!valid_field_value(value))
    return HeaderProblem{"Header mismatch: " + std::string(name) + " has invalid characters"};
  return std::optional<std::string>(std::string(value));
}

// Mcp-Name and Mcp-Param-* values may be "=?base64?<standard base64 of UTF-8>?=" (markers
// case-sensitive); anything else is literal. nullopt when the base64 is invalid (bad padding,
// characters outside the alphabet).
std::optional<std::string> decode_header_value(const std::string& value) {
  if (value.size() < kSentinelPrefix.size() + kSentinelSuffix.size() || !value.starts_with(kSentinelPrefix) ||
      !value.ends_with(kSentinelSuffix))
    return value;
  std::string_view inner(value);
  inner.remove_prefix(kSentinelPrefix.size());
  inner.remove_suffix(kSentinelSuffix.size());
  return core::base64_decode(inner);
}

// Short and printable, for error messages that quote a value.
std::string quoted(std::string_view v) {
  std::string out = "'";
  out += v.substr(0, 64);
  if (v.size() > 64) out += "...";
  out += "'";
  return out;
}

// Does a decoded Mcp-Param value stand for the body value? Strings compare exactly, integers
// numerically ("42.0" equals 42, streamable-http.mdx §Server Validation), booleans as the
// lowercase literals.
bool header_matches_value(const std::string& header, const json::value& body) {
  switch (body.kind()) {
    case json::kind::string:
      return header == std::string_view(body.get_string());
    case json::kind::bool_:
      return header == (body.get_bool() ? "true" : "false");
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: {
      double parsed = 0;
      auto [ptr, ec] = std::from_chars(header.data(), header.data() + header.size(), parsed);
      if (ec != std::errc() || ptr != header.data() + header.size() || !std::isfinite(parsed)) return false;
      return parsed == body.to_number<double>();
    }
    default:
      return false;  // objects and arrays have no header form
  }
}

std::optional<std::string> string_param(const json::object& params, std::string_view key) {
  const json::value* v = params.if_contains(key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}

// Runs the request's cancellation once, whether the client closes before or after the
// request was handed over.
class CancelSlot {
 public:
  void fire() {
    std::function<void()> fn;
    {
      std::lock_guard lock(mutex_);
      fired_ = true;
      fn = std::exchange(fn_, {});
    }
    if (fn) fn();
  }
  void set(std::function<void()> fn) {
    {
      std::lock_guard lock(mutex_);
      if (!fired_) {
        fn_ = std::move(fn);
        return;
      }
    }
    fn();
  }

 private:
  std::mutex mutex_;
  std::function<void()> fn_;
  bool fired_ = false;
};

// The answer to one modern POST: application/json when only the response is sent, a
// request-scoped SSE stream as soon as anything else comes first. No event ids: modern streams
// are not resumable (streamable-http.mdx §Receiving Messages), and nothing is buffered.
class ModernPostOutbound final : public mcp::Outbound {
 public:
  ModernPostOutbound(std::shared_ptr<http::Exchange> exchange, std::chrono::milliseconds keepalive,
                     std::shared_ptr<telemetry::Operation> op)
      : exchange_(std::move(exchange)), keepalive_(keepalive), op_(std::move(op)) {}

  json::object trace_meta() const override { return op_ ? op_->trace_meta() : json::object{}; }
  void tool_found() override {
    if (op_) op_->tool_found();
  }

  // Keeps the request's principal alive as long as the request can still answer.
  void keep(std::shared_ptr<const Principal> principal) { principal_ = std::move(principal); }

  void send(json::object message) override {
    std::lock_guard lock(mutex_);
    if (done_) return;
    start_stream_locked();
    exchange_->write(event(message));
  }

  void respond(json::object response) override {
    std::lock_guard lock(mutex_);
    if (done_) return;
    done_ = true;
    if (op_) op_->end(response);
    if (streaming_) {
      // The final response ends the stream (SHOULD).
      exchange_->write(event(response));
      exchange_->finish();
    } else {
      exchange_->respond(json_rpc_response(response));
    }
  }

  void abandon() override {
    std::lock_guard lock(mutex_);
    if (done_) return;
    done_ = true;
    if (op_) op_->end_cancelled();
    // Cancelled because the client closed the stream: nothing more is sent (MUST NOT). If the
    // client is somehow still there, it must not wait forever for an answer.
    if (streaming_) exchange_->finish();
    else if (!exchange_->peer_closed())
      exchange_->respond(http::json_response(
          503, rpc::serialize(rpc::make_error(std::nullopt, rpc::kInternalError, "The request was cancelled"))));
  }

 private:
  void start_stream_locked() {
    if (streaming_) return;
    streaming_ = true;
    exchange_->start_stream(200, event_stream_headers(), keepalive_);
  }

  static std::string event(const json::object& message) {
    // Serialised JSON has no raw newlines: one data line per event.
    return "event: message\ndata: " + rpc::serialize(message) + "\n\n";
  }

  std::mutex mutex_;
  std::shared_ptr<http::Exchange> exchange_;
  std::shared_ptr<const Principal> principal_;
  const std::chrono::milliseconds keepalive_;
  std::shared_ptr<telemetry::Operation> op_;
  bool streaming_ = false;
  bool done_ = false;
};

mcp::ModernOptions modern_options(const EndpointOptions& o) {
  mcp::ModernOptions m;
  m.discover_ttl = o.discover_ttl;
  m.list_ttl = o.list_ttl;
  m.read_ttl = o.resource_read_ttl;
  m.max_subscriptions = o.max_subscriptions;
  return m;
}

}  // namespace

struct ModernHttp::Impl {
  std::shared_ptr<ServerDefinition> server;
  std::chrono::milliseconds keepalive;
  std::function<std::optional<http::Response>(const Principal*, const rpc::Request&)> authorize;
  mcp::ModernServer modern;
  std::atomic<bool> stopping{false};

  Impl(std::shared_ptr<ServerDefinition> s, mcp::Dispatcher& dispatcher, const EndpointOptions& o)
      : server(s),
        keepalive(o.sse_keepalive),
        authorize(o.authorize),
        modern(s, dispatcher,
               std::make_shared<const mcp::RequestStateSealer>(o.request_state_keys, o.request_state_ttl),
               modern_options(o)) {}

  static void reject(const std::shared_ptr<http::Exchange>& ex, const std::optional<rpc::Id>& id, int code,
                     const std::string& message, std::optional<json::value> data = std::nullopt) {
    ex->respond(json_rpc_response(rpc::make_error(id, code, message, std::move(data))));
  }

  // A refusal of a request whose method is known: it ends the request's MCP operation too, so
  // the log line, the metrics and the audit trail name the method and the error.
  static void refuse(const std::shared_ptr<http::Exchange>& ex, telemetry::Operation* op, json::object error,
                     int status = 0) {
    if (op) op->end(error);
    ex->respond(status ? http::json_response(status, rpc::serialize(error)) : json_rpc_response(error));
  }

  // Mcp-Method, Mcp-Name and Mcp-Param-* against the body (streamable-http.mdx §Standard
  // Request Headers, §Custom Headers from Tool Parameters, §Server Validation). A message when
  // they disagree, are missing where required, or are malformed.
  std::optional<std::string> check_routing_headers(const http::Request& req, const rpc::Request& request) {
    auto method = read_header(req, kMethodHeader);
    if (auto* p = std::get_if<HeaderProblem>(&method)) return p->message;
    auto& method_value = std::get<std::optional<std::string>>(method);
    if (!method_value) return "Header mismatch: the Mcp-Method header is required";
    // Values are case-sensitive.
    if (*method_value != request.method)
      return "Header mismatch: Mcp-Method header value " + quoted(*method_value) + " does not match body value " +
             quoted(request.method);

    const bool named = request.method == "tools/call" || request.method == "prompts/get";
    if (named || request.method == "resources/read") {
      auto body_value = string_param(request.params, named ? "name" : "uri");
      auto name = read_header(req, kNameHeader);
      if (auto* p = std::get_if<HeaderProblem>(&name)) return p->message;
      auto& name_value = std::get<std::optional<std::string>>(name);
      if (!name_value) {
        // Required with these methods; a body without the field fails on its own (-32602).
        if (body_value) return "Header mismatch: the Mcp-Name header is required for " + request.method;
      } else {
        auto decoded = decode_header_value(*name_value);
        if (!decoded) return "Header mismatch: the Mcp-Name header has invalid base64";
        if (!body_value || *decoded != *body_value)
          return "Header mismatch: Mcp-Name header value " + quoted(*decoded) + " does not match body value " +
                 quoted(body_value.value_or(""));
      }
    }
    if (request.method == "tools/call") return check_param_headers(req, request);
    return std::nullopt;
  }

  // The x-mcp-header parameters of a tool, derived from its schema once and kept while the
  // tool is registered (this runs on every tools/call).
  using ParamHeaders = std::shared_ptr<const std::vector<mcp::ParamHeader>>;
  ParamHeaders param_headers_of(const std::shared_ptr<const Tool>& tool) {
    std::lock_guard lock(param_headers_mutex);
    auto it = param_headers_cache.find(tool.get());
    if (it != param_headers_cache.end() && it->second.first.lock() == tool) return it->second.second;
    auto parsed = mcp::param_headers(tool->input_schema);
    ParamHeaders headers = parsed ? std::make_shared<const std::vector<mcp::ParamHeader>>(std::move(*parsed)) : nullptr;
    std::erase_if(param_headers_cache, [](auto& kv) { return kv.second.first.expired(); });
    param_headers_cache[tool.get()] = {tool, headers};
    return headers;
  }
  std::mutex param_headers_mutex;
  std::map<const Tool*, std::pair<std::weak_ptr<const Tool>, ParamHeaders>> param_headers_cache;

  std::optional<std::string> check_param_headers(const http::Request& req, const rpc::Request& request) {
    auto name = string_param(request.params, "name");
    auto tool = name ? server->find_tool(*name) : nullptr;
    if (!tool) return std::nullopt;  // unknown tool: -32602 from the dispatcher
    auto headers = param_headers_of(tool);
    if (!headers) return std::nullopt;  // refused at registration; nothing to check against
    json::object no_arguments;
    const json::object* arguments = &no_arguments;
    if (const json::value* a = request.params.if_contains("arguments"); a && a->is_object())
      arguments = &a->get_object();
    for (const auto& h : *headers) {
      const std::string header_name = std::string(kParamHeaderPrefix) + h.name;
      auto header = read_header(req, header_name);
      if (auto* p = std::get_if<HeaderProblem>(&header)) return p->message;
      auto& value = std::get<std::optional<std::string>>(header);
      const json::value* body = mcp::param_value(*arguments, h);
      if (!body) {
        // A null or absent value means no header (MUST NOT expect one); one that is sent anyway
        // claims a value the body does not have.
        if (value) return "Header mismatch: " + header_name + " is set but the argument is absent";
        continue;
      }
      // The body has a value: the header must carry it (a client that omits it is rejected).
      if (!value) return "Header mismatch: the " + header_name + " header is required for this argument";
      auto decoded = decode_header_value(*value);
      if (!decoded) return "Header mismatch: the " + header_name + " header has invalid base64";
      if (!header_matches_value(*decoded, *body))
        return "Header mismatch: the " + header_name + " header does not match the argument in the body";
    }
    return std::nullopt;
  }

  void handle_post(const std::shared_ptr<http::Exchange>& ex, const json::value& body,
                   std::shared_ptr<const Principal> principal) {
    const http::Request& req = ex->request();
    std::optional<rpc::Id> id;
    auto message = rpc::decode(body, &id);
    if (!message) return reject(ex, id, message.error().code, message.error().message);

    if (std::holds_alternative<rpc::Notification>(*message)) {
      // The core protocol defines no client notifications over HTTP on this revision (closing
      // the stream is the cancellation); accept and ignore, as streamable-http.mdx allows.
      return ex->respond(http::plain_response(202));
    }
    if (std::holds_alternative<rpc::Response>(*message))
      return reject(ex, std::nullopt, rpc::kInvalidRequest,
                    "Invalid Request: clients send no JSON-RPC responses on protocol version 2026-07-28");

    rpc::Request request = std::move(std::get<rpc::Request>(*message));
    if (auto record = telemetry::record_of(*ex)) record->set_era("stateless");
    auto op = telemetry::begin_operation(*ex, request.method, request.params);
    auto fail = [&](int code, const std::string& text) {
      refuse(ex, op.get(), rpc::make_error(request.id, code, text));
    };
    // The order of the checks: the version header must exist, then the body's metadata must be
    // whole, then the two must agree and name a version we serve; only then do the other
    // headers mean something (their rules belong to that version).
    auto version = read_header(req, kVersionHeader);
    if (auto* p = std::get_if<HeaderProblem>(&version)) return fail(rpc::kHeaderMismatch, p->message);
    auto& version_value = std::get<std::optional<std::string>>(version);
    if (!version_value)
      return fail(rpc::kHeaderMismatch, "Header mismatch: the MCP-Protocol-Version header is required");
    auto meta = mcp::parse_request_meta(request.params);
    if (!meta) return fail(meta.error().code, meta.error().message);
    if (*version_value != meta->protocol_version)
      return fail(rpc::kHeaderMismatch,
                  "Header mismatch: MCP-Protocol-Version header value " + quoted(*version_value) +
                      " does not match _meta value " + quoted(meta->protocol_version));
    if (!mcp::is_modern_version(meta->protocol_version))
      return refuse(ex, op.get(), mcp::unsupported_version(request.id, meta->protocol_version));
    if (auto record = telemetry::record_of(*ex)) record->set_protocol_version(meta->protocol_version);
    if (auto problem = check_routing_headers(req, request))
      return fail(rpc::kHeaderMismatch, *problem);

    if (stopping)
      return refuse(ex, op.get(), rpc::make_error(request.id, rpc::kInternalError, "Service Unavailable: shutting down"),
                    503);

    // Pipeline step 5: the scope policy, once the request is known to be well formed.
    if (authorize) {
      if (auto answer = authorize(principal.get(), request)) {
        if (op) op->end(rpc::make_error(request.id, rpc::kInvalidRequest, "Forbidden: insufficient scope"));
        return ex->respond(std::move(*answer));
      }
    }

    auto out = std::make_shared<ModernPostOutbound>(ex, keepalive, std::move(op));
    // handle_request needs the principal for the whole request: the outbound lives that long.
    out->keep(principal);
    auto slot = std::make_shared<CancelSlot>();
    // Closing the response stream is the cancellation of the request (cancellation.mdx).
    ex->on_peer_closed([slot] { slot->fire(); });
    const Principal* who = principal.get();
    slot->set(modern.handle_request(std::move(request), std::move(*meta), who, std::move(out)));
    if (ex->peer_closed()) slot->fire();
  }
};

ModernHttp::ModernHttp(std::shared_ptr<ServerDefinition> server, mcp::Dispatcher& dispatcher,
                       const EndpointOptions& options)
    : impl_(std::make_unique<Impl>(std::move(server), dispatcher, options)) {}

ModernHttp::~ModernHttp() { shutdown(); }

bool ModernHttp::claims_post(const http::Request& request, const json::value& body) {
  // A session names a legacy conversation whatever the body says (versioning.mdx §Backward
  // Compatibility: the era is chosen by how the client opens).
  if (request.headers.find(kSessionHeader)) return false;
  const json::object* message = body.if_object();
  if (!message) return false;
  const json::value* method_value = message->if_contains("method");
  std::string_view method =
      method_value && method_value->is_string() ? std::string_view(method_value->get_string()) : "";
  const json::value* params_value = message->if_contains("params");
  const json::object* params = params_value ? params_value->if_object() : nullptr;
  bool modern_meta = false;
  if (params)
    if (const json::value* meta = params->if_contains("_meta"); meta && meta->is_object())
      modern_meta = meta->get_object().contains(mcp::kMetaProtocolVersion) ||
                    meta->get_object().contains(mcp::kMetaClientCapabilities);
  // initialize: legacy unless it is a modern request in every other respect (then it is a
  // removed method, 404 on this wire).
  if (method == "initialize") return modern_meta && !(params && params->contains("protocolVersion"));
  if (modern_meta) return true;
  if (method == "server/discover" || method == "subscriptions/listen") return true;
  const std::string* version = request.headers.find(kVersionHeader);
  return version && !mcp::is_legacy_version(trim_ows(*version));
}

bool ModernHttp::claims_get_or_delete(const http::Request& request) {
  if (request.headers.find(kSessionHeader)) return false;
  const std::string* version = request.headers.find(kVersionHeader);
  return version && !mcp::is_legacy_version(trim_ows(*version));
}

void ModernHttp::handle_post(const std::shared_ptr<http::Exchange>& exchange, const json::value& body,
                             std::shared_ptr<const Principal> principal) {
  impl_->handle_post(exchange, body, std::move(principal));
}

void ModernHttp::reject_get_or_delete(const std::shared_ptr<http::Exchange>& exchange) {
  http::Response r = http::json_response(
      405, rpc::serialize(rpc::make_error(std::nullopt, rpc::kInvalidRequest,
                                          "Method Not Allowed: protocol version 2026-07-28 uses POST only")));
  r.headers.set("Allow", "POST");
  exchange->respond(std::move(r));
}

std::size_t ModernHttp::subscription_count() const { return impl_->modern.subscription_count(); }

void ModernHttp::shutdown() {
  if (impl_->stopping.exchange(true)) return;
  impl_->modern.end_subscriptions();
}

}  // namespace bastion::transport
