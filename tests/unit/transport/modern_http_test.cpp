// The 2026-07-28 wire on the shared MCP endpoint, over in-memory exchanges: era choice per
// request, the request-metadata headers, status codes, request-scoped streams, cancellation by
// closing the stream, subscriptions/listen, and legacy clients on the same route.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/base64.hpp"
#include "jsonrpc/error_codes.hpp"
#include "support/fake_exchange.hpp"
#include "transport/mcp_endpoint.hpp"

namespace json = boost::json;
using namespace bastion;
using bastion::testing::FakeExchange;
using namespace std::chrono_literals;

namespace {

constexpr const char* kAccept = "application/json, text/event-stream";
constexpr const char* kVersion = "2026-07-28";

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct Probe {
  std::atomic<bool> started{false};
  std::atomic<bool> saw_cancel{false};
  std::atomic<bool> finished{false};
};

std::shared_ptr<ServerDefinition> make_definition(std::shared_ptr<Probe> probe) {
  auto def = std::make_shared<ServerDefinition>();
  def->info.name = "modern-http";
  auto add = [&](std::string name, std::string_view schema, ToolHandler h) {
    Tool t;
    t.name = std::move(name);
    t.description = "d";
    t.input_schema = json::parse(schema).as_object();
    t.handler = std::move(h);
    def->add_tool(std::move(t));
  };
  add("echo", R"({"type":"object","properties":{"message":{"type":"string"}}})",
      [](const json::object& a, RequestContext&) -> ToolOutcome {
        return ToolResult::text(a.contains("message") ? std::string(a.at("message").as_string()) : "");
      });
  add("routed",
      R"({"type":"object","properties":{
          "region":{"type":"string","x-mcp-header":"Region"},
          "priority":{"type":"integer","x-mcp-header":"Priority"},
          "verbose":{"type":"boolean","x-mcp-header":"Verbose"},
          "opts":{"type":"object","properties":{"tenant":{"type":"string","x-mcp-header":"Tenant"}}},
          "query":{"type":"string"}}})",
      [](const json::object&, RequestContext&) -> ToolOutcome { return ToolResult::text("routed"); });
  add("progress", R"({"type":"object"})", [](const json::object&, RequestContext& ctx) -> ToolOutcome {
    ctx.progress(1, 3);
    ctx.progress(2, 3);
    ctx.log(LogLevel::info, "halfway");
    return ToolResult::text("done");
  });
  add("slow", R"({"type":"object"})", [probe](const json::object&, RequestContext& ctx) -> ToolOutcome {
    ctx.progress(1, 10);
    probe->started = true;
    for (int i = 0; i < 500 && !ctx.cancelled(); ++i) std::this_thread::sleep_for(10ms);
    probe->saw_cancel = ctx.cancelled();
    ctx.progress(2, 10);
    probe->finished = true;
    return ToolResult::text("too late");
  });
  add("ask", R"({"type":"object"})", [](const json::object&, RequestContext& ctx) -> ToolOutcome {
    if (auto* a = ctx.input("q")) return ToolResult::text(std::string(a->at("action").as_string()));
    return InputRequired{json::object{{"q", input::elicit_form("ok?", json::object{{"type", "object"}})}}, std::string("s")};
  });
  add("needs_sampling", R"({"type":"object"})", [](const json::object&, RequestContext& ctx) -> ToolOutcome {
    if (ctx.client_supports("sampling")) return ToolResult::text("Success");
    return InputRequired{json::object{{"s", input::sample(json::object{{"messages", json::array{}}, {"maxTokens", 5}})}}, {}};
  });
  Resource r;
  r.uri = "test://r";
  r.name = "r";
  r.read = [](RequestContext&) -> ReadOutcome { return ResourceContents{json::array{json::object{{"uri", "test://r"}, {"text", "x"}}}}; };
  def->add_resource(r);
  Prompt p;
  p.name = "hello prompt";  // not header-safe: Mcp-Name must be base64
  p.description = "d";
  p.get = [](const std::map<std::string, std::string>&, RequestContext&) -> PromptOutcome {
    return PromptResult{"", json::array{json::object{{"role", "user"}, {"content", content::text("hi")}}}};
  };
  def->add_prompt(p);
  return def;
}

std::string meta_json(std::string_view version = kVersion, std::string_view caps = "{}", std::string_view extra = "") {
  std::string m = R"({"io.modelcontextprotocol/protocolVersion":")" + std::string(version) +
                  R"(","io.modelcontextprotocol/clientCapabilities":)" + std::string(caps);
  if (!extra.empty()) m += "," + std::string(extra);
  return m + "}";
}

std::string b64(std::string_view s) { return "=?base64?" + core::base64_encode(s) + "?="; }

class ModernHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    probe = std::make_shared<Probe>();
    def = make_definition(probe);
    transport::EndpointOptions o;
    o.worker_threads = 2;
    o.request_state_keys = {core::base64_encode(std::string(32, 'k'))};
    endpoint = std::make_unique<transport::McpEndpoint>(def, o);
  }
  void TearDown() override { endpoint.reset(); }

  std::shared_ptr<FakeExchange> raw(std::string method, std::string body, HeaderList headers, bool wait = true) {
    auto ex = FakeExchange::make(std::move(method), "/mcp", std::move(body), std::move(headers));
    endpoint->handle(ex);
    if (wait) {
      EXPECT_TRUE(ex->wait_answered());
    }
    return ex;
  }

  // The standard headers for a modern request, with overrides (an empty value removes one).
  static HeaderList headers_for(std::string_view method, std::optional<std::string> name, HeaderList overrides = {}) {
    HeaderList h{{"Accept", kAccept}, {"Content-Type", "application/json"}, {"MCP-Protocol-Version", kVersion},
                 {"Mcp-Method", std::string(method)}};
    if (name) h.emplace_back("Mcp-Name", *name);
    for (auto& [k, v] : overrides) {
      std::erase_if(h, [&](auto& kv) { return http::iequals(kv.first, k); });
      if (!v.empty()) h.emplace_back(k, v);
    }
    return h;
  }

  std::shared_ptr<FakeExchange> modern(std::string_view method, std::string params_without_meta = "{}",
                                       HeaderList overrides = {}, std::string_view caps = "{}",
                                       std::string_view meta_extra = "", bool wait = true) {
    auto params = json::parse(params_without_meta).as_object();
    params["_meta"] = json::parse(meta_json(kVersion, caps, meta_extra));
    std::optional<std::string> name;
    if (method == "tools/call" || method == "prompts/get")
      if (auto* n = params.if_contains("name"); n && n->is_string()) name = std::string(n->as_string());
    if (method == "resources/read")
      if (auto* u = params.if_contains("uri"); u && u->is_string()) name = std::string(u->as_string());
    json::object body{{"jsonrpc", "2.0"}, {"id", next_id++}, {"method", method}, {"params", std::move(params)}};
    return raw("POST", json::serialize(body), headers_for(method, name, std::move(overrides)), wait);
  }

  static json::value body_json(const std::shared_ptr<FakeExchange>& ex) { return json::parse(ex->body()); }
  static int code(const std::shared_ptr<FakeExchange>& ex) {
    return static_cast<int>(body_json(ex).at("error").at("code").as_int64());
  }
  // The JSON-RPC messages of a finished SSE response.
  static std::vector<json::object> events(const std::shared_ptr<FakeExchange>& ex) {
    std::vector<json::object> out;
    for (auto& d : bastion::testing::sse_data(ex->streamed())) out.push_back(json::parse(d).as_object());
    return out;
  }

  void expect_header_mismatch(const std::shared_ptr<FakeExchange>& ex, std::string_view what) {
    EXPECT_EQ(ex->status(), 400) << what << ": " << ex->body();
    EXPECT_EQ(code(ex), jsonrpc::kHeaderMismatch) << what << ": " << ex->body();
  }

  std::string legacy_session() {
    auto ex = raw("POST",
                  R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})",
                  {{"Accept", kAccept}, {"Content-Type", "application/json"}});
    EXPECT_EQ(ex->status(), 200);
    std::string sid = ex->header("Mcp-Session-Id");
    raw("POST", R"({"jsonrpc":"2.0","method":"notifications/initialized"})",
        {{"Accept", kAccept}, {"Content-Type", "application/json"}, {"Mcp-Session-Id", sid}});
    return sid;
  }

  std::shared_ptr<Probe> probe;
  std::shared_ptr<ServerDefinition> def;
  std::unique_ptr<transport::McpEndpoint> endpoint;
  std::int64_t next_id = 100;
};

}  // namespace

// ---- era choice ---------------------------------------------------------------------------

TEST_F(ModernHttpTest, ModernAndLegacyClientsShareTheRoute) {
  std::string sid = legacy_session();
  auto m = modern("tools/call", R"({"name":"echo","arguments":{"message":"modern"}})");
  EXPECT_EQ(m->status(), 200);
  EXPECT_EQ(m->header("Mcp-Session-Id"), "") << "never mint or echo a session on the modern wire";
  auto mr = body_json(m).at("result").as_object();
  EXPECT_EQ(mr.at("resultType").as_string(), "complete");
  EXPECT_EQ(mr.at("content").at(0).at("text").as_string(), "modern");

  // The legacy session sees none of the modern rules: no Mcp-Method needed, no resultType.
  auto l = raw("POST", R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"legacy"}}})",
               {{"Accept", kAccept}, {"Content-Type", "application/json"}, {"Mcp-Session-Id", sid},
                {"MCP-Protocol-Version", "2025-11-25"}, {"Mcp-Method", "something/else"}});
  EXPECT_EQ(l->status(), 200);
  auto lr = body_json(l).at("result").as_object();
  EXPECT_FALSE(lr.contains("resultType"));
  EXPECT_EQ(lr.at("content").at(0).at("text").as_string(), "legacy");
  EXPECT_EQ(endpoint->session_count(), 1u) << "modern requests create no session";

  // A legacy request without a session keeps the legacy answer (400, session required).
  auto no_session = raw("POST", R"({"jsonrpc":"2.0","id":3,"method":"tools/list"})",
                        {{"Accept", kAccept}, {"Content-Type", "application/json"}, {"MCP-Protocol-Version", "2025-11-25"}});
  EXPECT_EQ(no_session->status(), 400);
  EXPECT_EQ(code(no_session), jsonrpc::kServerError);
}

TEST_F(ModernHttpTest, InitializeIsLegacyUnlessItIsModernInEveryOtherRespect) {
  // A legacy initialize, even with stray _meta, opens a session.
  auto legacy = raw("POST",
                    R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}})",
                    {{"Accept", kAccept}, {"Content-Type", "application/json"}});
  EXPECT_EQ(legacy->status(), 200);
  EXPECT_NE(legacy->header("Mcp-Session-Id"), "");
  // initialize on the modern path is a removed method: 404 -32601, naming the versions.
  auto m = modern("initialize");
  EXPECT_EQ(m->status(), 404);
  EXPECT_EQ(code(m), jsonrpc::kMethodNotFound);
  EXPECT_EQ(body_json(m).at("id").as_int64(), next_id - 1);
  EXPECT_EQ(body_json(m).at("error").at("data").at("supported").at(0).as_string(), kVersion);
}

TEST_F(ModernHttpTest, RemovedAndUnknownMethodsAre404) {
  for (const char* m : {"ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe", "unknown/method"}) {
    auto ex = modern(m);
    EXPECT_EQ(ex->status(), 404) << m;
    EXPECT_EQ(code(ex), jsonrpc::kMethodNotFound) << m;
  }
}

TEST_F(ModernHttpTest, GetAndDeleteAre405ForModernClients) {
  for (const char* method : {"GET", "DELETE"}) {
    auto ex = raw(method, "", {{"Accept", "text/event-stream"}, {"MCP-Protocol-Version", kVersion}});
    EXPECT_EQ(ex->status(), 405) << method;
    EXPECT_EQ(ex->header("Allow"), "POST");
  }
  // Without a modern version header the legacy answer stands (no session: 400).
  auto legacy = raw("GET", "", {{"Accept", "text/event-stream"}});
  EXPECT_EQ(legacy->status(), 400);
}

TEST_F(ModernHttpTest, NotificationsAreAcceptedAndResponsesRefused) {
  auto n = raw("POST", R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"_meta":)" + meta_json() + "}}",
               headers_for("notifications/cancelled", std::nullopt));
  EXPECT_EQ(n->status(), 202);
  auto r = raw("POST", R"({"jsonrpc":"2.0","id":5,"result":{}})", headers_for("", std::nullopt));
  EXPECT_EQ(r->status(), 400);
}

// ---- _meta, version and capability errors ---------------------------------------------------

TEST_F(ModernHttpTest, MissingMetaFieldsAre400InvalidParams) {
  const std::string bodies[] = {
      R"({"jsonrpc":"2.0","id":101,"method":"server/discover","params":{}})",
      R"({"jsonrpc":"2.0","id":102,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{}}}})",
      R"({"jsonrpc":"2.0","id":104,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}})",
  };
  for (const auto& b : bodies) {
    auto ex = raw("POST", b, headers_for("server/discover", std::nullopt));
    EXPECT_EQ(ex->status(), 400) << b;
    EXPECT_EQ(code(ex), jsonrpc::kInvalidParams) << b;
    EXPECT_EQ(body_json(ex).at("id"), json::parse(b).at("id")) << "errors echo the request id";
  }
  // clientInfo is optional.
  auto ok = modern("server/discover");
  EXPECT_EQ(ok->status(), 200);
  auto result = body_json(ok).at("result").as_object();
  EXPECT_EQ(result.at("resultType").as_string(), "complete");
  EXPECT_TRUE(result.contains("ttlMs"));
  EXPECT_TRUE(result.contains("cacheScope"));
  EXPECT_EQ(result.at("_meta").at("io.modelcontextprotocol/serverInfo").at("name").as_string(), "modern-http");
}

TEST_F(ModernHttpTest, UnsupportedVersionIs400WithSupportedAndRequested) {
  std::string body = R"({"jsonrpc":"2.0","id":301,"method":"server/discover","params":{"_meta":)" + meta_json("v999.0.0") + "}}";
  auto ex = raw("POST", body, headers_for("server/discover", std::nullopt, {{"MCP-Protocol-Version", "v999.0.0"}}));
  EXPECT_EQ(ex->status(), 400);
  EXPECT_EQ(code(ex), jsonrpc::kUnsupportedProtocolVersion);
  auto data = body_json(ex).at("error").at("data").as_object();
  EXPECT_EQ(data.at("requested").as_string(), "v999.0.0");
  EXPECT_EQ(data.at("supported").at(0).as_string(), kVersion);
  EXPECT_EQ(body_json(ex).at("id").as_int64(), 301);
  // A legacy revision in _meta: also -32022 (legacy revisions go through initialize).
  std::string legacy_body = R"({"jsonrpc":"2.0","id":302,"method":"tools/list","params":{"_meta":)" + meta_json("2025-11-25") + "}}";
  auto legacy = raw("POST", legacy_body, headers_for("tools/list", std::nullopt, {{"MCP-Protocol-Version", "2025-11-25"}}));
  EXPECT_EQ(legacy->status(), 400);
  EXPECT_EQ(code(legacy), jsonrpc::kUnsupportedProtocolVersion);
}

TEST_F(ModernHttpTest, MissingCapabilityIs400WithRequiredCapabilities) {
  auto ex = modern("tools/call", R"({"name":"needs_sampling","arguments":{}})");
  EXPECT_EQ(ex->status(), 400);
  EXPECT_EQ(code(ex), jsonrpc::kMissingRequiredClientCapability);
  EXPECT_TRUE(body_json(ex).at("error").at("data").at("requiredCapabilities").at("sampling").is_object());
  auto ok = modern("tools/call", R"({"name":"needs_sampling","arguments":{}})", {}, R"({"sampling":{}})");
  EXPECT_EQ(ok->status(), 200);
  EXPECT_EQ(body_json(ok).at("result").at("content").at(0).at("text").as_string(), "Success");
}

// ---- request-metadata headers ---------------------------------------------------------------

TEST_F(ModernHttpTest, ProtocolVersionHeaderMustBePresentAndMatch) {
  expect_header_mismatch(modern("tools/list", "{}", {{"MCP-Protocol-Version", ""}}), "missing");
  expect_header_mismatch(modern("tools/list", "{}", {{"MCP-Protocol-Version", "2025-11-25"}}), "mismatch");
  auto twice = modern("tools/list", "{}", {{"MCP-Protocol-Version", kVersion}});
  EXPECT_EQ(twice->status(), 200);
  HeaderList dup = headers_for("tools/list", std::nullopt);
  dup.emplace_back("mcp-protocol-version", kVersion);
  auto ex = raw("POST", R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":)" + meta_json() + "}}", dup);
  expect_header_mismatch(ex, "repeated");
}

TEST_F(ModernHttpTest, McpMethodHeaderMustMatchExactly) {
  expect_header_mismatch(modern("tools/list", "{}", {{"Mcp-Method", ""}}), "missing");
  expect_header_mismatch(modern("tools/list", "{}", {{"Mcp-Method", "prompts/list"}}), "mismatch");
  expect_header_mismatch(modern("tools/list", "{}", {{"Mcp-Method", "TOOLS/LIST"}}), "values are case-sensitive");
  expect_header_mismatch(modern("tools/list", "{}", {{"Mcp-Method", "tools/list\x01"}}), "invalid characters");
  // Names are case-insensitive; surrounding whitespace is not part of the value.
  EXPECT_EQ(modern("tools/list", "{}", {{"Mcp-Method", ""}, {"mcp-method", "tools/list"}})->status(), 200);
  EXPECT_EQ(modern("tools/list", "{}", {{"Mcp-Method", ""}, {"MCP-METHOD", " tools/list\t"}})->status(), 200);
}

TEST_F(ModernHttpTest, McpNameHeaderMustMatchTheBody) {
  const std::string call = R"({"name":"echo","arguments":{}})";
  expect_header_mismatch(modern("tools/call", call, {{"Mcp-Name", ""}}), "missing");
  expect_header_mismatch(modern("tools/call", call, {{"Mcp-Name", "wrong_tool_name"}}), "mismatch");
  EXPECT_EQ(modern("tools/call", call, {{"Mcp-Name", "  echo  "}})->status(), 200);
  EXPECT_EQ(modern("tools/call", call, {{"Mcp-Name", b64("echo")}})->status(), 200);
  expect_header_mismatch(modern("tools/call", call, {{"Mcp-Name", "=?base64?ZWNobw?="}}), "bad padding");
  expect_header_mismatch(modern("resources/read", R"({"uri":"test://r"})", {{"Mcp-Name", "test://x"}}), "uri");
  EXPECT_EQ(modern("resources/read", R"({"uri":"test://r"})")->status(), 200);
  // A name outside the header-safe set travels base64-encoded.
  EXPECT_EQ(modern("prompts/get", R"({"name":"hello prompt"})", {{"Mcp-Name", b64("hello prompt")}})->status(), 200);
  expect_header_mismatch(modern("prompts/get", R"({"name":"hello prompt"})", {{"Mcp-Name", b64("hello")}}), "prompt");
}

TEST_F(ModernHttpTest, McpParamHeadersAreCheckedAgainstAnnotatedArguments) {
  auto call = [&](std::string_view args, HeaderList headers) {
    return modern("tools/call", R"({"name":"routed","arguments":)" + std::string(args) + "}", std::move(headers));
  };
  // Present and matching, in every form.
  EXPECT_EQ(call(R"({"region":"us-west1"})", {{"Mcp-Param-Region", "us-west1"}})->status(), 200);
  EXPECT_EQ(call(R"({"region":"Hello"})", {{"Mcp-Param-Region", b64("Hello")}})->status(), 200);
  EXPECT_EQ(call(R"({"region":"Hello, 世界"})", {{"mcp-param-region", b64("Hello, 世界")}})->status(), 200);
  EXPECT_EQ(call(R"({"region":"SGVsbG8="})", {{"Mcp-Param-Region", "SGVsbG8="}})->status(), 200) << "no wrapper: literal";
  EXPECT_EQ(call(R"({"region":"=?base64?SGVsbG8="})", {{"Mcp-Param-Region", "=?base64?SGVsbG8="}})->status(), 200)
      << "no suffix: literal";
  EXPECT_EQ(call(R"({"priority":42})", {{"Mcp-Param-Priority", "42"}})->status(), 200);
  EXPECT_EQ(call(R"({"priority":42})", {{"Mcp-Param-Priority", "42.0"}})->status(), 200) << "compared numerically";
  EXPECT_EQ(call(R"({"verbose":false})", {{"Mcp-Param-Verbose", "false"}})->status(), 200);
  EXPECT_EQ(call(R"({"opts":{"tenant":"acme"}})", {{"Mcp-Param-Tenant", "acme"}})->status(), 200);
  // Null or absent: no header expected.
  EXPECT_EQ(call(R"({"region":null,"query":"q"})", {})->status(), 200);

  expect_header_mismatch(call(R"({"region":"test-value"})", {}), "omitted but in the body");
  expect_header_mismatch(call(R"({"region":"us-west1"})", {{"Mcp-Param-Region", "us-east1"}}), "mismatch");
  expect_header_mismatch(call(R"({"region":"Hello"})", {{"Mcp-Param-Region", "=?base64?SGVsbG8?="}}), "bad padding");
  expect_header_mismatch(call(R"({"region":"Hello"})", {{"Mcp-Param-Region", "=?base64?SGVs!!!bG8=?="}}), "bad alphabet");
  expect_header_mismatch(call(R"({"region":"a\u0001b"})", {{"Mcp-Param-Region", "a\x01" "b"}}), "invalid characters");
  expect_header_mismatch(call(R"({"priority":42})", {{"Mcp-Param-Priority", "43"}}), "integer");
  expect_header_mismatch(call(R"({"priority":42})", {{"Mcp-Param-Priority", "forty-two"}}), "not a number");
  expect_header_mismatch(call(R"({"verbose":true})", {{"Mcp-Param-Verbose", "TRUE"}}), "boolean literal");
  expect_header_mismatch(call(R"({"opts":{"tenant":"acme"}})", {{"Mcp-Param-Tenant", "other"}}), "nested");
  expect_header_mismatch(call(R"({})", {{"Mcp-Param-Region", "us-west1"}}), "header without a value");
  // Unknown Mcp-Param headers are none of our business.
  EXPECT_EQ(call(R"({})", {{"Mcp-Param-Unknown", "x"}})->status(), 200);
}

// ---- responses and streams -------------------------------------------------------------------

TEST_F(ModernHttpTest, NotificationsStreamOnTheRequestsOwnResponse) {
  auto ex = modern("tools/call", R"({"name":"progress","arguments":{}})", {}, "{}",
                   R"("progressToken":"p1","io.modelcontextprotocol/logLevel":"info")");
  ASSERT_TRUE(ex->wait_finished());
  EXPECT_TRUE(ex->is_stream());
  EXPECT_EQ(ex->header("Content-Type"), "text/event-stream");
  EXPECT_EQ(ex->header("X-Accel-Buffering"), "no");
  EXPECT_EQ(ex->streamed().find("id:"), std::string::npos) << "modern streams are not resumable: no event ids";
  auto ev = events(ex);
  ASSERT_EQ(ev.size(), 4u) << ex->streamed();
  EXPECT_EQ(ev[0].at("method").as_string(), "notifications/progress");
  EXPECT_EQ(ev[0].at("params").at("progressToken").as_string(), "p1");
  EXPECT_EQ(ev[2].at("method").as_string(), "notifications/message");
  EXPECT_EQ(ev[3].at("result").at("resultType").as_string(), "complete");
  for (auto& e : ev) EXPECT_FALSE(e.contains("method") && e.contains("id")) << "never a request on the stream";
}

TEST_F(ModernHttpTest, ClosingTheStreamCancelsTheRequest) {
  auto ex = modern("tools/call", R"({"name":"slow","arguments":{}})", {}, "{}", R"("progressToken":7)", false);
  ASSERT_TRUE(ex->wait_for_text("notifications/progress"));
  for (int i = 0; i < 500 && !probe->started; ++i) std::this_thread::sleep_for(5ms);
  std::string before = ex->streamed();
  ex->close_by_peer();
  for (int i = 0; i < 500 && !probe->finished; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(probe->finished);
  EXPECT_TRUE(probe->saw_cancel);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(ex->streamed(), before) << "nothing more is sent for a cancelled request";
}

TEST_F(ModernHttpTest, MultiRoundOverHttp) {
  auto first = modern("tools/call", R"({"name":"ask","arguments":{}})", {}, R"({"elicitation":{}})");
  EXPECT_EQ(first->status(), 200);
  auto r1 = body_json(first).at("result").as_object();
  EXPECT_EQ(r1.at("resultType").as_string(), "input_required");
  json::object retry{{"name", "ask"}, {"arguments", json::object{}}, {"requestState", r1.at("requestState")},
                     {"inputResponses", json::object{{"q", json::object{{"action", "accept"}}}}}};
  auto second = modern("tools/call", json::serialize(retry), {}, R"({"elicitation":{}})");
  EXPECT_EQ(body_json(second).at("result").at("content").at(0).at("text").as_string(), "accept");
  retry["requestState"] = std::string(r1.at("requestState").as_string()) + "-TAMPERED";
  auto tampered = modern("tools/call", json::serialize(retry), {}, R"({"elicitation":{}})");
  EXPECT_EQ(tampered->status(), 400);
  EXPECT_EQ(code(tampered), jsonrpc::kInvalidParams);
}

TEST_F(ModernHttpTest, ListenStreamsFilteredTaggedNotificationsUntilShutdown) {
  auto listen = modern("subscriptions/listen", R"({"notifications":{"toolsListChanged":true}})", {}, "{}", "", false);
  ASSERT_TRUE(listen->wait_for_text("notifications/subscriptions/acknowledged"));
  EXPECT_TRUE(listen->is_stream());
  std::int64_t id = next_id - 1;
  // A prompt change is not asked for; a tool change is.
  def->remove_prompt("hello prompt");
  def->remove_tool("needs_sampling");
  ASSERT_TRUE(listen->wait_for_text("notifications/tools/list_changed"));
  auto ev = events(listen);
  ASSERT_EQ(ev.size(), 2u) << listen->streamed();
  EXPECT_EQ(ev[0].at("method").as_string(), "notifications/subscriptions/acknowledged");
  for (auto& e : ev) EXPECT_EQ(e.at("params").at("_meta").at("io.modelcontextprotocol/subscriptionId").as_int64(), id);
  EXPECT_FALSE(listen->finished());

  // A second listener that goes away is forgotten.
  auto gone = modern("subscriptions/listen", R"({"notifications":{"toolsListChanged":true}})", {}, "{}", "", false);
  ASSERT_TRUE(gone->wait_for_text("acknowledged"));
  gone->close_by_peer();

  // Shutdown ends the stream with the graceful result.
  endpoint->shutdown();
  ASSERT_TRUE(listen->wait_finished());
  auto last = events(listen).back();
  EXPECT_EQ(last.at("id").as_int64(), id);
  EXPECT_EQ(last.at("result").at("resultType").as_string(), "complete");
  EXPECT_EQ(last.at("result").at("_meta").at("io.modelcontextprotocol/subscriptionId").as_int64(), id);
  EXPECT_EQ(gone->streamed().find("\"result\""), std::string::npos);
}

TEST_F(ModernHttpTest, PerRequestLogLevel) {
  auto quiet = modern("tools/call", R"({"name":"progress","arguments":{}})");
  EXPECT_EQ(quiet->status(), 200);
  EXPECT_FALSE(quiet->is_stream()) << "no logLevel and no progressToken: nothing to stream";
  auto loud = modern("tools/call", R"({"name":"progress","arguments":{}})", {}, "{}",
                     R"("io.modelcontextprotocol/logLevel":"debug")");
  ASSERT_TRUE(loud->wait_finished());
  EXPECT_NE(loud->streamed().find("halfway"), std::string::npos);
}
