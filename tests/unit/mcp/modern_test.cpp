// The 2026-07-28 protocol layer (mcp::ModernServer) without a transport: per-request _meta,
// server/discover, the method table, resultType and caching hints, MRTR round trips with sealed
// state, per-request log levels, cancellation and subscriptions/listen.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <thread>

#include "core/base64.hpp"
#include "jsonrpc/error_codes.hpp"
#include "mcp/modern.hpp"
#include "support/recording_outbound.hpp"

namespace json = boost::json;
namespace rpc = bastion::jsonrpc;
using namespace bastion;
using namespace std::chrono_literals;

namespace {

using Recorder = bastion::testing::RecordingOutbound;

json::object obj(std::string_view text) { return json::parse(text).as_object(); }

json::object meta(std::string_view caps = "{}", std::string_view extra = "") {
  std::string text = R"({"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":)";
  text += caps;
  if (!extra.empty()) {
    text += ",";
    text += extra;
  }
  text += "}";
  return obj(text);
}

std::string key_of(char fill) { return core::base64_encode(std::string(32, fill)); }

// Shared state between the slow tool and the test.
struct SlowProbe {
  std::atomic<bool> started{false};
  std::atomic<bool> saw_cancel{false};
};

std::shared_ptr<ServerDefinition> make_definition(std::shared_ptr<SlowProbe> probe) {
  auto def = std::make_shared<ServerDefinition>();
  def->info.name = "modern-test";
  def->info.version = "1.2.3";
  def->instructions = "Use the tools.";
  auto tool = [&](std::string name, ToolHandler h, std::string_view schema = R"({"type":"object"})") {
    Tool t;
    t.name = std::move(name);
    t.description = "d";
    t.input_schema = obj(schema);
    t.handler = std::move(h);
    def->add_tool(std::move(t));
  };
  tool("zeta", [](const json::object&, RequestContext&) -> ToolOutcome { return ToolResult::text("z"); });
  tool("alpha", [](const json::object&, RequestContext&) -> ToolOutcome { return ToolResult::text("a"); });
  // Asks for a name, keeping state; answers with what it got back.
  tool("ask", [](const json::object&, RequestContext& ctx) -> ToolOutcome {
    if (const json::value* a = ctx.input("name"); a && a->is_object() && a->as_object().contains("content"))
      return ToolResult::text("hello " + std::string(a->at("content").at("name").as_string()) +
                              " state=" + (ctx.request_state() ? *ctx.request_state() : std::string("none")));
    return InputRequired{json::object{{"name", input::elicit_form("Name?", obj(R"({"type":"object","properties":{"name":{"type":"string"}}})"))}},
                         std::string("round1")};
  });
  // Asks without state.
  tool("ask_stateless", [](const json::object&, RequestContext& ctx) -> ToolOutcome {
    if (ctx.input("q")) return ToolResult::text("answered");
    return InputRequired{json::object{{"q", input::elicit_form("Q?", obj(R"({"type":"object"})"))}}, std::nullopt};
  });
  tool("needs_sampling", [](const json::object&, RequestContext& ctx) -> ToolOutcome {
    if (ctx.input("s")) return ToolResult::text("sampled");
    return InputRequired{json::object{{"s", input::sample(obj(R"({"messages":[],"maxTokens":5})"))},
                                      {"r", input::list_roots()}},
                         std::nullopt};
  });
  tool("needs_url", [](const json::object&, RequestContext& ctx) -> ToolOutcome {
    return InputRequired{json::object{{"u", input::elicit_url("Open", "https://example.com/x", "e1")}}, std::nullopt};
  });
  tool("logger", [](const json::object&, RequestContext& ctx) -> ToolOutcome {
    ctx.log(LogLevel::debug, "d");
    ctx.log(LogLevel::info, "i");
    ctx.log(LogLevel::warning, "w");
    return ToolResult::text("logged");
  });
  tool("slow", [probe](const json::object&, RequestContext& ctx) -> ToolOutcome {
    probe->started = true;
    for (int i = 0; i < 500 && !ctx.cancelled(); ++i) std::this_thread::sleep_for(10ms);
    probe->saw_cancel = ctx.cancelled();
    ctx.log(LogLevel::error, "after cancel");
    return ToolResult::text("too late");
  });
  {
    Tool t;
    t.name = "number";
    t.description = "Any-JSON structured content";
    t.output_schema = obj(R"({"type":"integer"})");
    t.handler = [](const json::object&, RequestContext&) -> ToolOutcome { return ToolResult::structured_value(42); };
    def->add_tool(std::move(t));
  }

  Resource r;
  r.uri = "test://r";
  r.name = "r";
  r.read = [](RequestContext&) -> ReadOutcome {
    return ResourceContents{json::array{json::object{{"uri", "test://r"}, {"text", "x"}}}};
  };
  def->add_resource(r);
  Resource ask_r;
  ask_r.uri = "test://ask";
  ask_r.name = "ask";
  ask_r.read = [](RequestContext& ctx) -> ReadOutcome {
    if (ctx.input("ok")) return ResourceContents{json::array{json::object{{"uri", "test://ask"}, {"text", "ok"}}}};
    return InputRequired{json::object{{"ok", input::elicit_form("Ok?", obj(R"({"type":"object"})"))}}, std::string("r")};
  };
  def->add_resource(ask_r);

  Prompt p;
  p.name = "ctx_prompt";
  p.description = "asks";
  p.get = [](const std::map<std::string, std::string>&, RequestContext& ctx) -> PromptOutcome {
    if (ctx.input("c")) return PromptResult{"", json::array{json::object{{"role", "user"}, {"content", content::text("c")}}}};
    return InputRequired{json::object{{"c", input::elicit_form("C?", obj(R"({"type":"object"})"))}}, std::nullopt};
  };
  p.complete = [](const std::string&, const std::string&, const std::map<std::string, std::string>&) {
    return std::vector<std::string>{"x"};
  };
  def->add_prompt(p);
  return def;
}

class ModernServerTest : public ::testing::Test {
 protected:
  ModernServerTest()
      : probe(std::make_shared<SlowProbe>()),
        def(make_definition(probe)),
        workers(2, 100),
        dispatcher(def, mcp::DispatchOptions{}, workers, timers),
        sealer(std::make_shared<const mcp::RequestStateSealer>(std::vector<std::string>{key_of('k')}, 10min)),
        modern(def, dispatcher, sealer, options()) {}
  ~ModernServerTest() override {
    modern.end_subscriptions();
    timers.stop();
    workers.stop();
  }

  static mcp::ModernOptions options() {
    mcp::ModernOptions o;
    o.list_ttl = 30s;
    o.discover_ttl = 60s;
    return o;
  }

  // Sends one request (params given as JSON text; _meta added unless present); returns the
  // recorder and the cancellation.
  std::pair<std::shared_ptr<Recorder>, std::function<void()>> start(std::string method, std::string_view params = "{}",
                                                                    std::string_view caps = "{}",
                                                                    std::string_view meta_extra = "",
                                                                    const Principal* principal = nullptr) {
    json::object p = obj(params);
    if (!p.contains("_meta")) p["_meta"] = meta(caps, meta_extra);
    auto parsed = mcp::parse_request_meta(p);
    EXPECT_TRUE(parsed) << (parsed ? "" : parsed.error().message);
    auto rec = std::make_shared<Recorder>();
    auto cancel = modern.handle_request(rpc::Request{rpc::Id(next_id++), std::move(method), std::move(p), true},
                                        parsed.value_or(mcp::RequestMeta{}), principal, rec);
    return {rec, cancel};
  }
  json::object call(std::string method, std::string_view params = "{}", std::string_view caps = "{}",
                    std::string_view meta_extra = "", const Principal* principal = nullptr) {
    return start(std::move(method), params, caps, meta_extra, principal).first->wait_response();
  }

  std::shared_ptr<SlowProbe> probe;
  std::shared_ptr<ServerDefinition> def;
  core::WorkerPool workers;
  core::TimerQueue timers;
  mcp::Dispatcher dispatcher;
  std::shared_ptr<const mcp::RequestStateSealer> sealer;
  mcp::ModernServer modern;
  std::int64_t next_id = 1;
};

int code_of(const json::object& response) { return static_cast<int>(response.at("error").at("code").as_int64()); }
const json::object& result_of(const json::object& response) { return response.at("result").as_object(); }

}  // namespace

// ---- per-request metadata -----------------------------------------------------------------

TEST(ModernMeta, RequiresProtocolVersionAndCapabilities) {
  const char* bad[] = {
      R"({})",
      R"({"_meta":5})",
      R"({"_meta":{"io.modelcontextprotocol/clientCapabilities":{}}})",
      R"({"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}})",
      R"({"_meta":{"io.modelcontextprotocol/protocolVersion":7,"io.modelcontextprotocol/clientCapabilities":{}}})",
      R"({"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":[]}})",
      R"({"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/logLevel":"loud"}})",
  };
  for (const char* text : bad) {
    auto m = mcp::parse_request_meta(obj(text));
    ASSERT_FALSE(m) << text;
    EXPECT_EQ(m.error().code, rpc::kInvalidParams) << text;
    EXPECT_EQ(m.error().http_status, 400);
  }
  // clientInfo is optional; logLevel is read.
  auto m = mcp::parse_request_meta(
      obj(R"({"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"sampling":{}},"io.modelcontextprotocol/logLevel":"warning"}})"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->protocol_version, "2026-07-28");
  EXPECT_TRUE(m->client_capabilities.contains("sampling"));
  EXPECT_EQ(m->log_level, LogLevel::warning);
}

TEST(ModernMeta, UnsupportedVersionListsWhatIsSupported) {
  auto e = mcp::unsupported_version(rpc::Id(7), "1900-01-01");
  EXPECT_EQ(e.at("id").as_int64(), 7);
  EXPECT_EQ(code_of(e), rpc::kUnsupportedProtocolVersion);
  const auto& data = e.at("error").at("data").as_object();
  EXPECT_EQ(data.at("requested").as_string(), "1900-01-01");
  const auto& supported = data.at("supported").as_array();
  ASSERT_FALSE(supported.empty());
  EXPECT_EQ(supported.front().as_string(), "2026-07-28");
  EXPECT_TRUE(mcp::is_modern_version("2026-07-28"));
  EXPECT_FALSE(mcp::is_modern_version("2025-11-25"));
}

// ---- discover, method table, result decoration ---------------------------------------------

TEST_F(ModernServerTest, DiscoverDescribesTheServerAndIsCacheable) {
  auto r = call("server/discover");
  const auto& result = result_of(r);
  EXPECT_EQ(result.at("resultType").as_string(), "complete");
  EXPECT_EQ(result.at("supportedVersions").as_array().front().as_string(), "2026-07-28");
  EXPECT_TRUE(result.at("capabilities").as_object().contains("tools"));
  EXPECT_TRUE(result.at("capabilities").as_object().contains("prompts"));
  EXPECT_EQ(result.at("instructions").as_string(), "Use the tools.");
  const auto& info = result.at("_meta").at("io.modelcontextprotocol/serverInfo").as_object();
  EXPECT_EQ(info.at("name").as_string(), "modern-test");
  EXPECT_EQ(info.at("version").as_string(), "1.2.3");
  EXPECT_EQ(result.at("ttlMs").as_int64(), 60000);
  EXPECT_EQ(result.at("cacheScope").as_string(), "public");
}

TEST_F(ModernServerTest, RemovedAndUnknownMethodsAreMethodNotFound) {
  for (const char* m : {"initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe",
                        "unknown/method", "notifications/initialized"}) {
    auto r = call(m);
    EXPECT_EQ(code_of(r), rpc::kMethodNotFound) << m;
    EXPECT_EQ(r.at("id").as_int64(), next_id - 1) << m;
  }
  auto init = call("initialize");
  EXPECT_EQ(init.at("error").at("data").at("supported").as_array().front().as_string(), "2026-07-28");
  EXPECT_TRUE(mcp::ModernServer::serves("subscriptions/listen"));
  EXPECT_FALSE(mcp::ModernServer::serves("ping"));
}

TEST_F(ModernServerTest, EveryResultCarriesResultTypeAndServerInfo) {
  for (auto [method, params] : std::vector<std::pair<std::string, std::string>>{
           {"tools/call", R"({"name":"alpha"})"},
           {"prompts/get", R"({"name":"ctx_prompt","inputResponses":{"c":{"action":"accept"}}})"},
           {"completion/complete", R"({"ref":{"type":"ref/prompt","name":"ctx_prompt"},"argument":{"name":"a","value":""}})"}}) {
    auto r = call(method, params);
    ASSERT_TRUE(r.contains("result")) << method << ": " << json::serialize(r);
    const auto& result = result_of(r);
    EXPECT_EQ(result.at("resultType").as_string(), "complete") << method;
    EXPECT_TRUE(result.at("_meta").as_object().contains("io.modelcontextprotocol/serverInfo")) << method;
    // Not cacheable: no hints.
    EXPECT_FALSE(result.contains("ttlMs")) << method;
  }
}

TEST_F(ModernServerTest, ListsAndReadsCarryCachingHints) {
  for (const char* m : {"tools/list", "prompts/list", "resources/list", "resources/templates/list"}) {
    auto r = call(m);
    const auto& result = result_of(r);
    EXPECT_EQ(result.at("resultType").as_string(), "complete") << m;
    EXPECT_EQ(result.at("ttlMs").as_int64(), 30000) << m;
    EXPECT_EQ(result.at("cacheScope").as_string(), "public") << m;
  }
  // A read may depend on who asks: always private.
  auto read = call("resources/read", R"({"uri":"test://r"})");
  EXPECT_EQ(result_of(read).at("ttlMs").as_int64(), 0);
  EXPECT_EQ(result_of(read).at("cacheScope").as_string(), "private");
  // With a principal, lists may be filtered per caller: private.
  Principal alice{"iss", "alice", "c", {}, {}, {}};
  auto tools = call("tools/list", "{}", "{}", "", &alice);
  EXPECT_EQ(result_of(tools).at("cacheScope").as_string(), "private");
}

TEST_F(ModernServerTest, ToolsListIsDeterministic) {
  auto names = [&] {
    std::vector<std::string> out;
    auto response = call("tools/list");
    for (const auto& t : result_of(response).at("tools").as_array()) out.emplace_back(t.at("name").as_string());
    return out;
  };
  auto first = names();
  ASSERT_GE(first.size(), 2u);
  EXPECT_EQ(first[0], "zeta");  // registration order, not a per-connection accident
  EXPECT_EQ(names(), first);
  EXPECT_EQ(names(), first);
}

TEST_F(ModernServerTest, ResourceNotFoundIsInvalidParamsWithTheUri) {
  auto r = call("resources/read", R"({"uri":"test://nonexistent"})");
  EXPECT_EQ(code_of(r), rpc::kInvalidParams);
  EXPECT_EQ(r.at("error").at("data").at("uri").as_string(), "test://nonexistent");
}

TEST_F(ModernServerTest, StructuredContentMayBeAnyJsonValue) {
  auto r = call("tools/call", R"({"name":"number"})");
  EXPECT_EQ(result_of(r).at("structuredContent").as_int64(), 42);
  EXPECT_FALSE(result_of(r).contains("isError"));
}

// ---- MRTR ---------------------------------------------------------------------------------

TEST_F(ModernServerTest, InputRequiredRoundTripWithSealedState) {
  auto first = call("tools/call", R"({"name":"ask","arguments":{}})", R"({"elicitation":{}})");
  const auto& r1 = result_of(first);
  EXPECT_EQ(r1.at("resultType").as_string(), "input_required");
  EXPECT_EQ(r1.at("inputRequests").at("name").at("method").as_string(), "elicitation/create");
  EXPECT_FALSE(r1.contains("ttlMs")) << "input_required results are not cacheable";
  std::string state(r1.at("requestState").as_string());
  EXPECT_EQ(state.find("round1"), std::string::npos) << "the handler's state is sealed";

  json::object retry = obj(R"({"name":"ask","arguments":{},"inputResponses":{"name":{"action":"accept","content":{"name":"Ada"}}}})");
  retry["requestState"] = state;
  auto second = call("tools/call", json::serialize(retry), R"({"elicitation":{}})");
  const auto& r2 = result_of(second);
  EXPECT_EQ(r2.at("resultType").as_string(), "complete");
  EXPECT_EQ(r2.at("content").at(0).at("text").as_string(), "hello Ada state=round1");
}

TEST_F(ModernServerTest, TamperedOrForeignStateIsInvalidParams) {
  auto first = call("tools/call", R"({"name":"ask","arguments":{}})", R"({"elicitation":{}})");
  std::string state(result_of(first).at("requestState").as_string());
  auto retry_with = [&](std::string s, std::string_view args = "{}") {
    json::object p = obj(R"({"name":"ask","inputResponses":{"name":{"action":"accept","content":{"name":"Ada"}}}})");
    p["arguments"] = obj(args);
    p["requestState"] = std::move(s);
    return call("tools/call", json::serialize(p), R"({"elicitation":{}})");
  };
  EXPECT_EQ(code_of(retry_with(state + "-TAMPERED")), rpc::kInvalidParams);
  // Bound to a digest of the params: other arguments, other request.
  EXPECT_EQ(code_of(retry_with(state, R"({"x":1})")), rpc::kInvalidParams);
  // Bound to the method.
  json::object p = obj(R"({"name":"ctx_prompt"})");
  p["requestState"] = state;
  EXPECT_EQ(code_of(call("prompts/get", json::serialize(p))), rpc::kInvalidParams);
  // Not a string.
  EXPECT_EQ(code_of(call("tools/call", R"({"name":"ask","arguments":{},"requestState":5})")), rpc::kInvalidParams);
  // The untouched state still works.
  EXPECT_TRUE(retry_with(state).contains("result"));
}

TEST_F(ModernServerTest, StateIsBoundToThePrincipal) {
  Principal alice{"iss", "alice", "c", {}, {}, {}};
  Principal bob{"iss", "bob", "c", {}, {}, {}};
  auto first = call("tools/call", R"({"name":"ask","arguments":{}})", R"({"elicitation":{}})", "", &alice);
  json::object p = obj(R"({"name":"ask","arguments":{},"inputResponses":{"name":{"action":"accept","content":{"name":"A"}}}})");
  p["requestState"] = result_of(first).at("requestState");
  EXPECT_EQ(code_of(call("tools/call", json::serialize(p), R"({"elicitation":{}})", "", &bob)), rpc::kInvalidParams);
  EXPECT_TRUE(call("tools/call", json::serialize(p), R"({"elicitation":{}})", "", &alice).contains("result"));
}

TEST_F(ModernServerTest, NoRequestStateWhenTheHandlerKeepsNone) {
  auto first = call("tools/call", R"({"name":"ask_stateless","arguments":{}})", R"({"elicitation":{}})");
  EXPECT_FALSE(result_of(first).contains("requestState"));
  // Missing answers: asked again rather than an error.
  auto again = call("tools/call", R"({"name":"ask_stateless","arguments":{},"inputResponses":{"other":{"action":"accept"}}})",
                    R"({"elicitation":{}})");
  EXPECT_EQ(result_of(again).at("resultType").as_string(), "input_required");
  auto done = call("tools/call", R"({"name":"ask_stateless","arguments":{},"inputResponses":{"q":{"action":"accept"},"extra":{"x":1}}})",
                   R"({"elicitation":{}})");
  EXPECT_EQ(result_of(done).at("content").at(0).at("text").as_string(), "answered");
}

TEST_F(ModernServerTest, MalformedInputResponsesAreInvalidParams) {
  EXPECT_EQ(code_of(call("tools/call", R"({"name":"ask","arguments":{},"inputResponses":null})")), rpc::kInvalidParams);
  EXPECT_EQ(code_of(call("tools/call", R"({"name":"ask","arguments":{},"inputResponses":[1]})")), rpc::kInvalidParams);
  EXPECT_EQ(code_of(call("tools/call", R"({"name":"ask","arguments":{},"inputResponses":{"name":12345}})")),
            rpc::kInvalidParams);
}

TEST_F(ModernServerTest, UndeclaredCapabilityIsMissingRequiredClientCapability) {
  auto r = call("tools/call", R"({"name":"needs_sampling","arguments":{}})", R"({"elicitation":{}})");
  EXPECT_EQ(code_of(r), rpc::kMissingRequiredClientCapability);
  const auto& required = r.at("error").at("data").at("requiredCapabilities").as_object();
  EXPECT_TRUE(required.at("sampling").is_object());
  EXPECT_TRUE(required.at("roots").is_object());
  EXPECT_FALSE(required.contains("elicitation"));
  // URL-mode elicitation needs elicitation.url.
  auto url = call("tools/call", R"({"name":"needs_url","arguments":{}})", R"({"elicitation":{}})");
  EXPECT_TRUE(url.at("error").at("data").at("requiredCapabilities").at("elicitation").at("url").is_object());
  // Declared: the input requests go out.
  auto ok = call("tools/call", R"({"name":"needs_sampling","arguments":{}})", R"({"sampling":{},"roots":{}})");
  EXPECT_EQ(result_of(ok).at("inputRequests").at("s").at("method").as_string(), "sampling/createMessage");
  EXPECT_EQ(result_of(ok).at("inputRequests").at("r").at("method").as_string(), "roots/list");
}

TEST_F(ModernServerTest, PromptsAndResourcesMayAnswerInputRequired) {
  auto prompt = call("prompts/get", R"({"name":"ctx_prompt"})", R"({"elicitation":{}})");
  EXPECT_EQ(result_of(prompt).at("resultType").as_string(), "input_required");
  auto read = call("resources/read", R"({"uri":"test://ask"})", R"({"elicitation":{}})");
  const auto& r1 = result_of(read);
  EXPECT_EQ(r1.at("resultType").as_string(), "input_required");
  EXPECT_FALSE(r1.contains("ttlMs"));
  json::object p = obj(R"({"uri":"test://ask","inputResponses":{"ok":{"action":"accept"}}})");
  p["requestState"] = r1.at("requestState");
  auto done = call("resources/read", json::serialize(p), R"({"elicitation":{}})");
  const auto& r2 = result_of(done);
  EXPECT_EQ(r2.at("contents").at(0).at("text").as_string(), "ok");
  // A retry's result depends on inputs outside the cache key.
  EXPECT_EQ(r2.at("ttlMs").as_int64(), 0);
  EXPECT_EQ(r2.at("cacheScope").as_string(), "private");
}

// ---- logging and cancellation ---------------------------------------------------------------

TEST_F(ModernServerTest, NoLogMessagesWithoutALogLevel) {
  auto [rec, cancel] = start("tools/call", R"({"name":"logger","arguments":{}})");
  rec->wait_response();
  EXPECT_TRUE(rec->messages().empty());
  auto [rec2, cancel2] = start("tools/call", R"({"name":"logger","arguments":{}})", "{}",
                               R"("io.modelcontextprotocol/logLevel":"info")");
  rec2->wait_response();
  auto sent = rec2->messages();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].at("method").as_string(), "notifications/message");
  EXPECT_EQ(sent[0].at("params").at("level").as_string(), "info");
  EXPECT_EQ(sent[1].at("params").at("level").as_string(), "warning");
}

TEST_F(ModernServerTest, CancellationStopsTheHandlerAndSendsNothingMore) {
  auto [rec, cancel] = start("tools/call", R"({"name":"slow","arguments":{}})", "{}",
                             R"("io.modelcontextprotocol/logLevel":"debug")");
  for (int i = 0; i < 500 && !probe->started; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(probe->started);
  cancel();
  ASSERT_TRUE(rec->wait_abandoned());
  EXPECT_TRUE(probe->saw_cancel);
  EXPECT_FALSE(rec->has_response());
  EXPECT_TRUE(rec->messages().empty()) << "nothing after cancellation, not even the log";
  cancel();  // twice is harmless
}

// ---- subscriptions/listen ---------------------------------------------------------------

TEST_F(ModernServerTest, ListenAcknowledgesFirstAndTagsEveryNotification) {
  auto [rec, cancel] = start("subscriptions/listen",
                             R"({"notifications":{"toolsListChanged":true,"resourceSubscriptions":["test://r"],"bogus":1}})");
  ASSERT_TRUE(rec->wait_sent(1));
  auto ack = rec->messages().at(0);
  EXPECT_EQ(ack.at("method").as_string(), "notifications/subscriptions/acknowledged");
  const std::int64_t id = next_id - 1;
  EXPECT_EQ(ack.at("params").at("_meta").at("io.modelcontextprotocol/subscriptionId").as_int64(), id);
  const auto& honoured = ack.at("params").at("notifications").as_object();
  EXPECT_TRUE(honoured.at("toolsListChanged").as_bool());
  EXPECT_EQ(honoured.at("resourceSubscriptions").at(0).as_string(), "test://r");
  EXPECT_FALSE(honoured.contains("promptsListChanged"));
  EXPECT_EQ(modern.subscription_count(), 1u);

  // Only what was asked for.
  def->remove_prompt("ctx_prompt");
  def->notify_resource_updated("test://other");
  def->notify_resource_updated("test://r");
  def->remove_tool("zeta");
  ASSERT_TRUE(rec->wait_sent(3));
  auto sent = rec->messages();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[1].at("method").as_string(), "notifications/resources/updated");
  EXPECT_EQ(sent[1].at("params").at("uri").as_string(), "test://r");
  EXPECT_EQ(sent[2].at("method").as_string(), "notifications/tools/list_changed");
  for (std::size_t i = 1; i < sent.size(); ++i)
    EXPECT_EQ(sent[i].at("params").at("_meta").at("io.modelcontextprotocol/subscriptionId").as_int64(), id);
  EXPECT_FALSE(rec->has_response());

  // The client goes away: nothing more.
  cancel();
  EXPECT_EQ(modern.subscription_count(), 0u);
  def->remove_tool("alpha");
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(rec->messages().size(), 3u);
}

TEST_F(ModernServerTest, ListenFiltersAndEndsGracefully) {
  auto [rec, cancel] = start("subscriptions/listen", R"({"notifications":{"promptsListChanged":true}})");
  ASSERT_TRUE(rec->wait_sent(1));
  def->remove_tool("zeta");  // not asked for
  def->remove_prompt("ctx_prompt");
  ASSERT_TRUE(rec->wait_sent(2));
  EXPECT_EQ(rec->messages().at(1).at("method").as_string(), "notifications/prompts/list_changed");
  // The server ends the stream with a complete result tagged with the subscription.
  modern.end_subscriptions();
  auto end = rec->wait_response();
  EXPECT_EQ(result_of(end).at("resultType").as_string(), "complete");
  EXPECT_EQ(result_of(end).at("_meta").at("io.modelcontextprotocol/subscriptionId").as_int64(), next_id - 1);
  EXPECT_EQ(rec->messages().size(), 2u);
}

TEST_F(ModernServerTest, ListenNeedsAFilter) {
  EXPECT_EQ(code_of(call("subscriptions/listen")), rpc::kInvalidParams);
  EXPECT_EQ(code_of(call("subscriptions/listen", R"({"notifications":{"toolsListChanged":"yes"}})")), rpc::kInvalidParams);
  EXPECT_EQ(code_of(call("subscriptions/listen", R"({"notifications":{"resourceSubscriptions":[1]}})")), rpc::kInvalidParams);
  EXPECT_EQ(modern.subscription_count(), 0u);
}
