#include <gtest/gtest.h>

#include <condition_variable>
#include <thread>

#include "bastion/server.hpp"
#include "jsonrpc/error_codes.hpp"
#include "mcp/dispatcher.hpp"
#include "support/recording_outbound.hpp"

namespace json = boost::json;
namespace rpc = bastion::jsonrpc;
using namespace bastion;
using namespace std::chrono_literals;

namespace {

using bastion::testing::RecordingOutbound;

rpc::Request request(std::int64_t id, std::string method, std::string_view params = "{}") {
  return rpc::Request{rpc::Id(id), std::move(method), json::parse(params).as_object(), true};
}

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    def = std::make_shared<ServerDefinition>();
    Tool echo;
    echo.name = "echo";
    echo.description = "Echoes";
    echo.input_schema = json::parse(R"({"type":"object","properties":{"message":{"type":"string"}},"required":["message"]})").as_object();
    echo.handler = [](const json::object& a, RequestContext&) -> ToolOutcome {
      return ToolResult::text(std::string(a.at("message").as_string()));
    };
    echo.inline_handler = true;
    def->add_tool(echo);

    Tool boom;
    boom.name = "boom";
    boom.description = "Throws";
    boom.handler = [](const json::object&, RequestContext&) -> ToolOutcome { throw std::runtime_error("kaput"); };
    def->add_tool(boom);

    Tool ask;
    ask.name = "ask";
    ask.description = "Elicits a name";
    ask.handler = [](const json::object&, RequestContext& ctx) -> ToolOutcome {
      if (const json::value* answer = ctx.input("name")) {
        return ToolResult::text("hello " + std::string(answer->at("content").at("name").as_string()) + " state=" +
                                (ctx.request_state() ? *ctx.request_state() : std::string("none")));
      }
      return InputRequired{json::object{{"name", input::elicit_form("Your name?", json::parse(R"({"type":"object","properties":{"name":{"type":"string"}}})").as_object())}},
                           std::string("round1")};
    };
    def->add_tool(ask);

    Tool slow;
    slow.name = "slow";
    slow.description = "Reports progress until cancelled";
    slow.handler = [this](const json::object&, RequestContext& ctx) -> ToolOutcome {
      for (int i = 1; i <= 3; ++i) ctx.progress(i, 3, "step");
      ctx.log(LogLevel::debug, "debug line");
      ctx.log(LogLevel::error, "error line");
      for (int i = 0; i < 500 && !ctx.cancelled(); ++i) std::this_thread::sleep_for(2ms);
      slow_saw_cancel = ctx.cancelled();
      return ToolResult::text("done");
    };
    def->add_tool(slow);

    Tool typed;
    typed.name = "typed";
    typed.description = "Declares an output schema";
    typed.output_schema = json::parse(R"({"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]})").as_object();
    typed.handler = [](const json::object& a, RequestContext&) -> ToolOutcome {
      if (a.contains("bad")) return ToolResult::structured_value(json::object{{"n", "not a number"}});
      return ToolResult::structured_value(json::object{{"n", 3}});
    };
    def->add_tool(typed);

    Resource r;
    r.uri = "test://static";
    r.name = "static";
    r.mime_type = "text/plain";
    r.read = [](RequestContext&) -> ReadOutcome {
      return ResourceContents{json::array{json::object{{"uri", "test://static"}, {"text", "hi"}}}};
    };
    def->add_resource(r);
    ResourceTemplate t;
    t.uri_template = "test://item/{id}";
    t.name = "item";
    t.read = [](const std::string& uri, const std::map<std::string, std::string>& vars, RequestContext&) -> ReadOutcome {
      if (vars.at("id") == "missing") return ResourceNotFound{};
      return ResourceContents{json::array{json::object{{"uri", uri}, {"text", "item " + vars.at("id")}}}};
    };
    t.complete = [](const std::string&, const std::string& prefix) { return std::vector<std::string>{prefix + "1", prefix + "2"}; };
    def->add_resource_template(t);

    Prompt p;
    p.name = "greet";
    p.description = "Greets";
    p.arguments = {{"who", "", "", true}};
    p.get = [](const std::map<std::string, std::string>& a, RequestContext&) -> PromptOutcome {
      return PromptResult{"", json::array{json::object{{"role", "user"}, {"content", content::text("hi " + a.at("who"))}}}};
    };
    p.complete = [](const std::string&, const std::string& prefix, const std::map<std::string, std::string>&) {
      std::vector<std::string> v;
      for (int i = 0; i < 150; ++i) v.push_back(prefix + std::to_string(i));
      return v;
    };
    def->add_prompt(p);

    dispatcher = std::make_unique<mcp::Dispatcher>(def, mcp::DispatchOptions{2s, 8, 2, {}}, workers, timers);
    session = std::make_shared<mcp::Session>("s1");
    auto init = dispatcher->initialize(*session, json::parse(R"({"protocolVersion":"2025-06-18","capabilities":{"elicitation":{}}})").as_object());
    ASSERT_TRUE(init);
    dispatcher->handle_notification(session, rpc::Notification{"notifications/initialized", {}});
  }

  json::object call(std::int64_t id, std::string method, std::string_view params = "{}") {
    auto out = std::make_shared<RecordingOutbound>();
    dispatcher->handle_request(session, request(id, std::move(method), params), out);
    return out->wait_response();
  }

  core::WorkerPool workers{4, 100};
  core::TimerQueue timers;
  std::shared_ptr<ServerDefinition> def;
  std::unique_ptr<mcp::Dispatcher> dispatcher;
  std::shared_ptr<mcp::Session> session;
  std::atomic<bool> slow_saw_cancel{false};
};

int error_code(const json::object& r) { return r.contains("error") ? static_cast<int>(r.at("error").at("code").as_int64()) : 0; }

}  // namespace

TEST_F(DispatcherTest, InitializeNegotiatesVersions) {
  mcp::Session s("x");
  auto r = dispatcher->initialize(s, json::parse(R"({"protocolVersion":"2025-03-26","capabilities":{}})").as_object());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->at("protocolVersion").as_string(), "2025-03-26");
  auto newer = dispatcher->initialize(s, json::parse(R"({"protocolVersion":"2099-01-01"})").as_object());
  EXPECT_EQ(newer->at("protocolVersion").as_string(), "2025-11-25");
  EXPECT_TRUE(newer->at("capabilities").as_object().contains("tools"));
  EXPECT_TRUE(newer->at("capabilities").as_object().contains("completions"));
  EXPECT_FALSE(dispatcher->initialize(s, json::object{}));
}

TEST_F(DispatcherTest, ListsPageWithOpaqueCursors) {
  auto first = call(1, "tools/list");
  auto& page1 = first.at("result").as_object();
  EXPECT_EQ(page1.at("tools").as_array().size(), 2u);
  ASSERT_TRUE(page1.contains("nextCursor"));
  std::vector<std::string> names;
  json::value cursor = page1.at("nextCursor");
  for (auto& t : page1.at("tools").as_array()) names.emplace_back(t.at("name").as_string());
  for (int guard = 0; guard < 10 && !cursor.is_null(); ++guard) {
    auto next = call(2, "tools/list", json::serialize(json::object{{"cursor", cursor}}));
    auto& r = next.at("result").as_object();
    for (auto& t : r.at("tools").as_array()) names.emplace_back(t.at("name").as_string());
    cursor = r.contains("nextCursor") ? r.at("nextCursor") : json::value(nullptr);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"echo", "boom", "ask", "slow", "typed"}));
  EXPECT_EQ(error_code(call(3, "tools/list", R"({"cursor":"garbage"})")), rpc::kInvalidParams);
}

TEST_F(DispatcherTest, CallsToolsAndMapsErrors) {
  auto ok = call(1, "tools/call", R"({"name":"echo","arguments":{"message":"hi"}})");
  EXPECT_EQ(ok.at("result").at("content").at(0).at("text").as_string(), "hi");
  EXPECT_EQ(error_code(call(2, "tools/call", R"({"name":"nope"})")), rpc::kInvalidParams);
  EXPECT_EQ(error_code(call(3, "tools/call", R"({"arguments":{}})")), rpc::kInvalidParams);
  EXPECT_EQ(error_code(call(4, "tools/call", R"({"name":"echo","arguments":[1]})")), rpc::kInvalidParams);

  auto invalid = call(5, "tools/call", R"({"name":"echo","arguments":{"message":7}})");
  EXPECT_TRUE(invalid.at("result").at("isError").as_bool());
  auto thrown = call(6, "tools/call", R"({"name":"boom"})");
  EXPECT_TRUE(thrown.at("result").at("isError").as_bool());
  EXPECT_NE(std::string(thrown.at("result").at("content").at(0).at("text").as_string()).find("kaput"), std::string::npos);
}

TEST_F(DispatcherTest, ChecksStructuredOutputAgainstOutputSchema) {
  auto ok = call(1, "tools/call", R"({"name":"typed"})");
  EXPECT_EQ(ok.at("result").at("structuredContent").at("n").as_int64(), 3);
  EXPECT_EQ(ok.at("result").at("content").at(0).at("text").as_string(), R"({"n":3})");
  auto bad = call(2, "tools/call", R"({"name":"typed","arguments":{"bad":true}})");
  EXPECT_TRUE(bad.at("result").at("isError").as_bool());
  EXPECT_FALSE(bad.at("result").as_object().contains("structuredContent"));
}

TEST_F(DispatcherTest, AsksTheClientAndRunsTheHandlerAgain) {
  auto out = std::make_shared<RecordingOutbound>();
  dispatcher->handle_request(session, request(9, "tools/call", R"({"name":"ask"})"), out);
  json::object asked = out->wait_message(1);
  EXPECT_EQ(asked.at("method").as_string(), "elicitation/create");
  EXPECT_EQ(asked.at("params").at("message").as_string(), "Your name?");
  auto id = rpc::Id::from_json(asked.at("id"));
  ASSERT_TRUE(id);
  dispatcher->handle_response(session, rpc::Response{*id, json::parse(R"({"action":"accept","content":{"name":"Ada"}})"), std::nullopt});
  auto r = out->wait_response();
  EXPECT_EQ(r.at("result").at("content").at(0).at("text").as_string(), "hello Ada state=round1");
}

TEST_F(DispatcherTest, RefusesInputRequestsTheClientCannotServe) {
  auto plain = std::make_shared<mcp::Session>("s2");
  ASSERT_TRUE(dispatcher->initialize(*plain, json::parse(R"({"protocolVersion":"2025-06-18","capabilities":{}})").as_object()));
  auto out = std::make_shared<RecordingOutbound>();
  dispatcher->handle_request(plain, request(1, "tools/call", R"({"name":"ask"})"), out);
  auto r = out->wait_response();
  EXPECT_TRUE(r.at("result").at("isError").as_bool());
  EXPECT_TRUE(out->sent.empty());
}

TEST_F(DispatcherTest, ClientRequestsTimeOut) {
  auto out = std::make_shared<RecordingOutbound>();
  dispatcher->handle_request(session, request(1, "tools/call", R"({"name":"ask"})"), out);
  EXPECT_TRUE(out->wait_sent(1));
  auto r = out->wait_response();  // the 2 s client timeout of this fixture
  EXPECT_TRUE(r.at("result").at("isError").as_bool());
}

TEST_F(DispatcherTest, ProgressLoggingAndCancellation) {
  auto out = std::make_shared<RecordingOutbound>();
  dispatcher->handle_request(session, request(5, "tools/call", R"({"name":"slow","_meta":{"progressToken":"tok"}})"), out);
  auto p = out->wait_message(3);
  EXPECT_EQ(p.at("method").as_string(), "notifications/progress");
  EXPECT_EQ(p.at("params").at("progressToken").as_string(), "tok");
  EXPECT_EQ(p.at("params").at("progress").as_double(), 3.0);
  EXPECT_TRUE(out->wait_sent(5));  // both log lines: no level set means everything is sent
  dispatcher->handle_notification(session, rpc::Notification{"notifications/cancelled", json::parse(R"({"requestId":5})").as_object()});
  {
    std::unique_lock l(out->mu);
    EXPECT_TRUE(out->cv.wait_for(l, 5s, [&] { return out->abandoned; }));
  }
  for (int i = 0; i < 500 && !slow_saw_cancel; ++i) std::this_thread::sleep_for(2ms);
  EXPECT_TRUE(slow_saw_cancel);
  EXPECT_FALSE(out->response.has_value());
}

TEST_F(DispatcherTest, LogLevelFilters) {
  EXPECT_EQ(error_code(call(1, "logging/setLevel", R"({"level":"loud"})")), rpc::kInvalidParams);
  call(2, "logging/setLevel", R"({"level":"warning"})");
  auto out = std::make_shared<RecordingOutbound>();
  dispatcher->handle_request(session, request(3, "tools/call", R"({"name":"slow"})"), out);
  auto first = out->wait_message(1);
  EXPECT_EQ(first.at("params").at("level").as_string(), "error");  // debug dropped, no progress token
  dispatcher->handle_notification(session, rpc::Notification{"notifications/cancelled", json::parse(R"({"requestId":3})").as_object()});
}

TEST_F(DispatcherTest, ResourcesReadTemplatesAndNotFound) {
  auto r = call(1, "resources/read", R"({"uri":"test://static"})");
  EXPECT_EQ(r.at("result").at("contents").at(0).at("text").as_string(), "hi");
  auto t = call(2, "resources/read", R"({"uri":"test://item/7"})");
  EXPECT_EQ(t.at("result").at("contents").at(0).at("text").as_string(), "item 7");
  auto missing = call(3, "resources/read", R"({"uri":"test://nothing"})");
  EXPECT_EQ(error_code(missing), rpc::kResourceNotFound);
  EXPECT_EQ(missing.at("error").at("data").at("uri").as_string(), "test://nothing");
  EXPECT_EQ(error_code(call(4, "resources/read", R"({"uri":"test://item/missing"})")), rpc::kResourceNotFound);
  EXPECT_TRUE(call(5, "resources/subscribe", R"({"uri":"test://static"})").at("result").as_object().empty());
  auto list = call(6, "resources/templates/list");
  EXPECT_EQ(list.at("result").at("resourceTemplates").at(0).at("uriTemplate").as_string(), "test://item/{id}");
}

TEST_F(DispatcherTest, PromptsAndCompletion) {
  auto p = call(1, "prompts/get", R"({"name":"greet","arguments":{"who":"Bo"}})");
  EXPECT_EQ(p.at("result").at("messages").at(0).at("content").at("text").as_string(), "hi Bo");
  EXPECT_EQ(error_code(call(2, "prompts/get", R"({"name":"greet"})")), rpc::kInvalidParams);
  EXPECT_EQ(error_code(call(3, "prompts/get", R"({"name":"greet","arguments":{"who":1}})")), rpc::kInvalidParams);
  EXPECT_EQ(error_code(call(4, "prompts/get", R"({"name":"nope"})")), rpc::kInvalidParams);
  auto c = call(5, "completion/complete", R"({"ref":{"type":"ref/prompt","name":"greet"},"argument":{"name":"who","value":"x"}})");
  auto& completion = c.at("result").at("completion").as_object();
  EXPECT_EQ(completion.at("values").as_array().size(), 100u);
  EXPECT_TRUE(completion.at("hasMore").as_bool());
  auto rc = call(6, "completion/complete", R"({"ref":{"type":"ref/resource","uri":"test://item/{id}"},"argument":{"name":"id","value":"a"}})");
  EXPECT_EQ(rc.at("result").at("completion").at("values").at(0).as_string(), "a1");
  EXPECT_EQ(error_code(call(7, "completion/complete", R"({"ref":{"type":"ref/other"},"argument":{"name":"a","value":""}})")), rpc::kInvalidParams);
}

TEST_F(DispatcherTest, UnknownMethodsAndPing) {
  EXPECT_EQ(error_code(call(1, "nope/nope")), rpc::kMethodNotFound);
  EXPECT_TRUE(call(2, "ping").at("result").as_object().empty());
  EXPECT_EQ(error_code(call(3, "initialize", R"({"protocolVersion":"2025-06-18"})")), rpc::kInvalidRequest);
}

TEST_F(DispatcherTest, ListChangedReachesInitializedSessions) {
  auto sink = std::make_shared<std::vector<json::object>>();
  session->set_unsolicited_sink([sink](json::object m) { sink->push_back(std::move(m)); });
  def->subscribe(session);
  def->remove_tool("boom");
  ASSERT_EQ(sink->size(), 1u);
  EXPECT_EQ(sink->at(0).at("method").as_string(), "notifications/tools/list_changed");
  def->notify_resource_updated("test://static");  // not subscribed: nothing
  EXPECT_EQ(sink->size(), 1u);
  session->subscribe("test://static");
  def->notify_resource_updated("test://static");
  EXPECT_EQ(sink->size(), 2u);
}

TEST(ServerDefinitionTools, HasToolFollowsEveryChangeAndKeepsDefinitionsApart) {
  const auto tool = [](std::string name) {
    Tool t;
    t.name = std::move(name);
    t.description = "d";
    t.handler = [](const json::object&, RequestContext&) -> ToolOutcome { return ToolResult::text(""); };
    return t;
  };
  ServerDefinition first, second;
  first.add_tool(tool("alpha"));
  EXPECT_TRUE(first.has_tool("alpha"));
  EXPECT_FALSE(first.has_tool("beta"));
  EXPECT_FALSE(second.has_tool("alpha"));
  first.add_tool(tool("beta"));
  EXPECT_TRUE(first.has_tool("beta"));
  ASSERT_TRUE(first.remove_tool("alpha"));
  EXPECT_FALSE(first.has_tool("alpha"));
  second.add_tool(tool("alpha"));
  EXPECT_TRUE(second.has_tool("alpha"));
  EXPECT_FALSE(first.has_tool(std::string(4096, 'x')));
}

TEST(ServerDefinitionObservers, GoneObserversAreSweptAndLiveOnesStillNotified) {
  struct Counter : CatalogueObserver {
    int changes = 0;
    void tools_changed() override { ++changes; }
    void prompts_changed() override {}
    void resources_changed() override {}
    void resource_updated(const std::string&) override {}
  };
  ServerDefinition def;
  auto live = std::make_shared<Counter>();
  def.subscribe(live);
  for (int i = 0; i < 1000; ++i) def.subscribe(std::make_shared<Counter>());  // each gone at once
  Tool t;
  t.name = "t";
  t.description = "d";
  t.handler = [](const json::object&, RequestContext&) -> ToolOutcome { return ToolResult::text(""); };
  def.add_tool(t);
  EXPECT_EQ(live->changes, 1);
}
