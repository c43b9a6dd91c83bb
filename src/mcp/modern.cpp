#include "mcp/modern.hpp"

#include <map>
#include <mutex>
#include <set>

#include "jsonrpc/error_codes.hpp"

namespace bastion::mcp {

namespace rpc = jsonrpc;

namespace {

constexpr std::array<std::string_view, 10> kModernMethods = {
    "server/discover",     "subscriptions/listen", "tools/list",  "tools/call",  "resources/list",
    "resources/templates/list", "resources/read", "prompts/list", "prompts/get", "completion/complete"};

// The requests that may answer input_required (mrtr.mdx §Supported Requests).
bool is_multi_round(std::string_view method) {
  return method == "tools/call" || method == "prompts/get" || method == "resources/read";
}

bool is_cacheable(std::string_view method) {
  return method == "server/discover" || method == "tools/list" || method == "prompts/list" ||
         method == "resources/list" || method == "resources/templates/list" || method == "resources/read";
}

json::object invalid_params(const rpc::Id& id, std::string message) {
  return rpc::make_error(id, rpc::kInvalidParams, "Invalid params: " + message);
}

// Caching hints of one response (caching.mdx): how long, and for whom.
struct CacheHint {
  std::chrono::milliseconds ttl{0};
  std::string_view scope = "private";
};

// Adds what every modern result carries: `resultType` (basic/index.mdx §ResultType), the
// caching hints of cacheable methods (caching.mdx: on `complete` results only) and
// `_meta.io.modelcontextprotocol/serverInfo` (basic/index.mdx §Per-response protocol fields).
class ModernOutbound final : public Outbound {
 public:
  ModernOutbound(std::shared_ptr<Outbound> inner, std::optional<CacheHint> cache,
                 std::shared_ptr<const json::object> server_info)
      : inner_(std::move(inner)), cache_(cache), server_info_(std::move(server_info)) {}

  void send(json::object message) override { inner_->send(std::move(message)); }
  void respond(json::object response) override {
    decorate(response);
    inner_->respond(std::move(response));
  }
  // Streams are not resumable on the modern wire, so there is no polling to offer.
  void close_for_polling(std::chrono::milliseconds) override {}
  void abandon() override { inner_->abandon(); }
  json::object trace_meta() const override { return inner_->trace_meta(); }
  void tool_found() override { inner_->tool_found(); }

 private:
  void decorate(json::object& response) const {
    json::value* r = response.if_contains("result");
    if (!r || !r->is_object()) return;
    json::object& result = r->get_object();
    // resultType first, for readers of the wire.
    json::object out;
    out.reserve(result.size() + 4);
    if (const json::value* t = result.if_contains("resultType")) out["resultType"] = *t;
    else out["resultType"] = "complete";
    for (auto& kv : result)
      if (kv.key() != "resultType") out.emplace(kv.key(), std::move(kv.value()));
    bool complete = out["resultType"].is_string() && out["resultType"].get_string() == "complete";
    if (complete && cache_) {
      if (!out.contains("ttlMs")) out["ttlMs"] = cache_->ttl.count();
      if (!out.contains("cacheScope")) out["cacheScope"] = cache_->scope;
    }
    json::value& meta = out["_meta"];
    if (meta.is_null()) meta = json::object{};
    if (json::object* m = meta.if_object(); m && !m->contains(kMetaServerInfo)) (*m)[kMetaServerInfo] = *server_info_;
    result = std::move(out);
  }

  std::shared_ptr<Outbound> inner_;
  std::optional<CacheHint> cache_;
  std::shared_ptr<const json::object> server_info_;
};

}  // namespace

// ---- subscriptions/listen (basic/patterns/subscriptions.mdx) ----------------------------------

// One open subscriptions/listen stream: a catalogue observer that forwards only what the filter
// asked for, each notification tagged with the subscription id.
class Subscription final : public CatalogueObserver {
 public:
  struct Filter {
    bool tools = false;
    bool prompts = false;
    bool resources = false;
    std::set<std::string> uris;
    json::object honoured;  // echoed in the acknowledgement
  };

  Subscription(rpc::Id id, Filter filter, std::shared_ptr<Outbound> out)
      : id_(std::move(id)), filter_(std::move(filter)), out_(std::move(out)) {}

  // The first message of the stream; nothing is sent before it (MUST).
  void acknowledge() {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    json::object params{{"_meta", tag()}, {"notifications", filter_.honoured}};
    out_->send(rpc::make_notification("notifications/subscriptions/acknowledged", std::move(params)));
    acknowledged_ = true;
  }

  // The client closed the stream: send nothing more.
  void cancel() {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }

  // The server ends the subscription: the graceful `complete` result, then the stream closes
  // (subscriptions.mdx §Graceful Closure).
  void end() {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    out_->respond(rpc::make_result(id_, json::object{{"resultType", "complete"}, {"_meta", tag()}}));
  }

  void tools_changed() override {
    if (filter_.tools) notify("notifications/tools/list_changed", {});
  }
  void prompts_changed() override {
    if (filter_.prompts) notify("notifications/prompts/list_changed", {});
  }
  void resources_changed() override {
    if (filter_.resources) notify("notifications/resources/list_changed", {});
  }
  void resource_updated(const std::string& uri) override {
    if (filter_.uris.contains(uri)) notify("notifications/resources/updated", json::object{{"uri", uri}});
  }

 private:
  json::object tag() const { return json::object{{kMetaSubscriptionId, id_.to_json()}}; }

  void notify(std::string_view method, json::object params) {
    std::lock_guard lock(mutex_);
    if (closed_ || !acknowledged_) return;
    // Every notification on the stream names its subscription (MUST).
    params["_meta"] = tag();
    out_->send(rpc::make_notification(method, std::move(params)));
  }

  const rpc::Id id_;
  const Filter filter_;
  std::shared_ptr<Outbound> out_;
  std::mutex mutex_;  // orders the acknowledgement before every notification
  bool acknowledged_ = false;
  bool closed_ = false;
};

class SubscriptionRegistry {
 public:
  explicit SubscriptionRegistry(std::size_t max) : max_(max) {}

  std::optional<std::uint64_t> add(std::shared_ptr<Subscription> s) {
    std::lock_guard lock(mutex_);
    if (items_.size() >= max_) return std::nullopt;
    auto key = next_++;
    items_.emplace(key, std::move(s));
    return key;
  }
  std::shared_ptr<Subscription> remove(std::uint64_t key) {
    std::lock_guard lock(mutex_);
    auto it = items_.find(key);
    if (it == items_.end()) return nullptr;
    auto s = std::move(it->second);
    items_.erase(it);
    return s;
  }
  std::map<std::uint64_t, std::shared_ptr<Subscription>> take_all() {
    std::lock_guard lock(mutex_);
    return std::exchange(items_, {});
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }

 private:
  const std::size_t max_;
  mutable std::mutex mutex_;
  std::uint64_t next_ = 1;
  std::map<std::uint64_t, std::shared_ptr<Subscription>> items_;
};

// ---- per-request metadata ---------------------------------------------------------------------

json::array supported_versions() {
  json::array out;
  for (auto v : kModernVersions) out.emplace_back(v);
  for (auto v : kLegacyVersions) out.emplace_back(v);
  return out;
}

Result<RequestMeta> parse_request_meta(const json::object& params) {
  // A request missing a required field is malformed: -32602, HTTP 400 (basic/index.mdx
  // §Per-request protocol fields).
  const json::value* meta_value = params.if_contains("_meta");
  if (!meta_value)
    return fail(rpc::kInvalidParams, "Invalid params: _meta with the per-request protocol fields is required");
  const json::object* meta = meta_value->if_object();
  if (!meta) return fail(rpc::kInvalidParams, "Invalid params: _meta must be an object");
  RequestMeta out;
  const json::value* version = meta->if_contains(kMetaProtocolVersion);
  if (!version)
    return fail(rpc::kInvalidParams, "Invalid params: _meta is missing io.modelcontextprotocol/protocolVersion");
  if (!version->is_string() || version->get_string().empty())
    return fail(rpc::kInvalidParams, "Invalid params: io.modelcontextprotocol/protocolVersion must be a string");
  out.protocol_version = std::string(version->get_string());
  const json::value* caps = meta->if_contains(kMetaClientCapabilities);
  if (!caps)
    return fail(rpc::kInvalidParams, "Invalid params: _meta is missing io.modelcontextprotocol/clientCapabilities");
  if (!caps->is_object())
    return fail(rpc::kInvalidParams, "Invalid params: io.modelcontextprotocol/clientCapabilities must be an object");
  out.client_capabilities = caps->get_object();
  // clientInfo is a SHOULD for clients; it is never required, and never trusted for decisions.
  if (const json::value* info = meta->if_contains(kMetaClientInfo); info && info->is_object())
    out.client_info = info->get_object();
  if (const json::value* level = meta->if_contains(kMetaLogLevel); level && !level->is_null()) {
    auto parsed = level->is_string() ? parse_log_level(level->get_string()) : std::nullopt;
    if (!parsed)
      return fail(rpc::kInvalidParams, "Invalid params: io.modelcontextprotocol/logLevel is not a log level");
    out.log_level = parsed;
  }
  return out;
}

json::object unsupported_version(const std::optional<rpc::Id>& id, std::string_view requested) {
  std::string message = "Unsupported protocol version: " + std::string(requested);
  if (is_legacy_version(requested)) message += " (this revision is served through initialize)";
  return rpc::make_error(id, rpc::kUnsupportedProtocolVersion, message,
                         json::object{{"supported", supported_versions()}, {"requested", requested}});
}

// ---- the modern method table ------------------------------------------------------------------

ModernServer::ModernServer(std::shared_ptr<ServerDefinition> server, Dispatcher& dispatcher,
                           std::shared_ptr<const RequestStateSealer> sealer, ModernOptions options)
    : server_(std::move(server)),
      dispatcher_(dispatcher),
      sealer_(std::move(sealer)),
      options_(options),
      subscriptions_(std::make_shared<SubscriptionRegistry>(options.max_subscriptions)) {}

ModernServer::~ModernServer() { end_subscriptions(); }

bool ModernServer::serves(std::string_view method) {
  for (auto m : kModernMethods)
    if (m == method) return true;
  return false;
}

json::object ModernServer::discover_result(const Principal*) const {
  json::object result{{"resultType", "complete"},
                      {"supportedVersions", supported_versions()},
                      {"capabilities", dispatcher_.capabilities()}};
  if (!server_->instructions.empty()) result["instructions"] = server_->instructions;
  return result;
}

std::function<void()> ModernServer::handle_request(rpc::Request request, RequestMeta meta, const Principal* principal,
                                                   std::shared_ptr<Outbound> out) {
  auto nothing = [] {};
  const std::string method = request.method;
  // serverInfo is fixed once the route is assembled; build it on first use, not per request.
  std::call_once(server_info_once_, [this] {
    server_info_ = std::make_shared<const json::object>(server_info_json(server_->info));
  });

  if (!serves(method)) {
    // Removed methods are unknown methods on this wire (basic/index.mdx; versioning.mdx asks a
    // server to name its versions in any error it returns to initialize).
    std::optional<json::value> data;
    std::string message = "Method not found: " + method;
    if (method == "initialize") {
      message += " (2026-07-28 has no initialize; send legacy initialize without io.modelcontextprotocol/* _meta)";
      data = json::object{{"supported", supported_versions()}};
    }
    out->respond(rpc::make_error(request.id, rpc::kMethodNotFound, message, std::move(data)));
    return nothing;
  }

  // Cacheable results: `private` whenever the answer may depend on who asks (caching.mdx
  // §Choosing a Cache Scope). Discovery is the same for everyone; lists may be filtered per
  // principal on authenticated routes; a resource handler may read per caller, so reads are
  // always private. Retries of multi-round requests depend on inputs outside the cache key.
  const bool retry = request.params.contains("inputResponses") || request.params.contains("requestState");
  std::optional<CacheHint> cache;
  if (is_cacheable(method)) {
    if (method == "server/discover") cache = CacheHint{options_.discover_ttl, "public"};
    else if (method == "resources/read") cache = CacheHint{options_.read_ttl, "private"};
    else cache = CacheHint{options_.list_ttl, principal ? "private" : "public"};
    if (retry) cache = CacheHint{std::chrono::milliseconds(0), "private"};
  }
  auto decorated = std::make_shared<ModernOutbound>(std::move(out), cache, server_info_);

  if (method == "server/discover") {
    decorated->respond(rpc::make_result(request.id, discover_result(principal)));
    return nothing;
  }
  if (method == "subscriptions/listen") return listen(request, principal, std::move(decorated));

  // An ephemeral session made of this request's own metadata: nothing is inferred from other
  // requests (basic/index.mdx §Statelessness).
  auto session = std::make_shared<Session>("modern:" + request.id.key());
  session->modern = true;
  session->protocol_version = meta.protocol_version;
  session->client_capabilities = std::move(meta.client_capabilities);
  session->client_info = std::move(meta.client_info);
  session->principal = principal;
  session->owner = principal_binding(principal);
  // No log messages for a request without a logLevel (CallContext enforces it for modern
  // sessions; item 32).
  if (meta.log_level) session->set_log_level(*meta.log_level);

  if (is_multi_round(method)) {
    auto round_trip = std::make_shared<RoundTrip>();
    if (const json::value* answers = request.params.if_contains("inputResponses")) {
      // The client's results for our input requests; each must be a result object
      // (mrtr.mdx §Error Handling: validate InputResponses; protocol errors get a JSON-RPC error).
      if (!answers->is_object()) {
        decorated->respond(invalid_params(request.id, "inputResponses must be an object"));
        return nothing;
      }
      for (const auto& [key, value] : answers->get_object()) {
        if (!value.is_object()) {
          decorated->respond(
              invalid_params(request.id, "inputResponses['" + std::string(key) + "'] must be a result object"));
          return nothing;
        }
      }
      round_trip->input_responses = answers->get_object();
    }
    // The digest (canonical JSON + SHA-256) is only needed when a state is opened or sealed,
    // which most calls never do; keep what it covers and hash it on demand.
    auto bound = std::make_shared<const json::object>(bound_params(request.params));
    RequestBinding binding{method, {}, principal_binding(principal)};
    if (const json::value* state = request.params.if_contains("requestState")) {
      // Attacker-controlled until it verifies (mrtr.mdx §Security Considerations).
      if (!state->is_string()) {
        decorated->respond(invalid_params(request.id, "requestState must be a string"));
        return nothing;
      }
      binding.params_digest = digest_of_bound_params(*bound);
      auto opened = sealer_->open(binding, state->get_string());
      if (!opened) {
        decorated->respond(rpc::make_error(request.id, opened.error().code, opened.error().message));
        return nothing;
      }
      round_trip->request_state = std::move(*opened);
    }
    round_trip->seal = [sealer = sealer_, binding = std::move(binding), bound](std::string_view state) mutable {
      if (binding.params_digest.empty()) binding.params_digest = digest_of_bound_params(*bound);
      return sealer->seal(binding, state);
    };
    session->round_trip = std::move(round_trip);
  }

  std::weak_ptr<Session> weak = session;
  dispatcher_.handle_request(session, std::move(request), std::move(decorated));
  // Closing the session cancels its one call: the handler sees cancelled(), and nothing more
  // is sent for it (cancellation.mdx §Transport-Specific Cancellation).
  return [weak] {
    if (auto s = weak.lock()) s->close();
  };
}

std::function<void()> ModernServer::listen(const rpc::Request& request, const Principal*,
                                           std::shared_ptr<Outbound> out) {
  auto nothing = [] {};
  const json::value* filter_value = request.params.if_contains("notifications");
  if (!filter_value || !filter_value->is_object()) {
    out->respond(invalid_params(request.id, "notifications must be an object"));
    return nothing;
  }
  const json::object& requested = filter_value->get_object();
  auto flag = [&](std::string_view key, bool& ok) {
    const json::value* v = requested.if_contains(key);
    if (!v || v->is_null()) return false;
    if (!v->is_bool()) ok = false;
    return v->is_bool() && v->get_bool();
  };
  bool ok = true;
  bool tools = flag("toolsListChanged", ok);
  bool prompts = flag("promptsListChanged", ok);
  bool resources = flag("resourcesListChanged", ok);
  std::vector<std::string> uris;
  if (const json::value* list = requested.if_contains("resourceSubscriptions"); list && !list->is_null()) {
    if (!list->is_array()) ok = false;
    else
      for (const auto& u : list->get_array()) {
        if (!u.is_string()) ok = false;
        else uris.emplace_back(u.get_string());
      }
  }
  if (!ok) {
    out->respond(invalid_params(request.id, "malformed notifications filter"));
    return nothing;
  }

  // Honour only what the server supports; the acknowledgement echoes that subset
  // (subscriptions.mdx §Acknowledgment).
  Subscription::Filter filter;
  filter.tools = tools && server_->has_tools();
  filter.prompts = prompts && server_->has_prompts();
  filter.resources = resources && server_->has_resources();
  if (filter.tools) filter.honoured["toolsListChanged"] = true;
  if (filter.prompts) filter.honoured["promptsListChanged"] = true;
  if (filter.resources) filter.honoured["resourcesListChanged"] = true;
  if (!uris.empty() && server_->has_resources()) {
    json::array echoed;
    for (auto& u : uris)
      if (filter.uris.insert(u).second) echoed.emplace_back(u);
    filter.honoured["resourceSubscriptions"] = std::move(echoed);
  }

  auto subscription = std::make_shared<Subscription>(request.id, std::move(filter), out);
  auto key = subscriptions_->add(subscription);
  if (!key) {
    out->respond(rpc::make_error(request.id, rpc::kInternalError,
                                 "The server has too many open subscriptions; try again later"));
    return nothing;
  }
  // Observe first, acknowledge second: a change after the acknowledgement is never missed, and
  // one before it is not sent (the subscription holds it back until acknowledged).
  server_->subscribe(subscription);
  subscription->acknowledge();
  std::weak_ptr<SubscriptionRegistry> registry = subscriptions_;
  return [registry, key = *key] {
    if (auto r = registry.lock())
      if (auto s = r->remove(key)) s->cancel();
  };
}

void ModernServer::end_subscriptions() {
  for (auto& [_, s] : subscriptions_->take_all()) s->end();
}

std::size_t ModernServer::subscription_count() const { return subscriptions_->size(); }

}  // namespace bastion::mcp
