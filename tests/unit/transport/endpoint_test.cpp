// The Streamable HTTP and 2024-11-05 HTTP+SSE endpoint, over in-memory exchanges: every status
// code of the transport, sessions, caps and reaping, streams and their resumption.
#include <gtest/gtest.h>

#include <thread>

#include "jsonrpc/error_codes.hpp"
#include "support/fake_exchange.hpp"
#include "transport/event_stream.hpp"
#include "transport/mcp_endpoint.hpp"
#include "support/echo_tool.hpp"

namespace json = boost::json;
using namespace bastion;
using bastion::testing::FakeExchange;
using namespace std::chrono_literals;

namespace {

constexpr const char* kAccept = "application/json, text/event-stream";
const std::string kInit =
    R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{}},"clientInfo":{"name":"t","version":"1"}}})";

std::shared_ptr<ServerDefinition> make_definition() {
  auto def = std::make_shared<ServerDefinition>();
  def->add_tool(bastion::testing::echo_tool());

  Tool chatty;
  chatty.name = "chatty";
  chatty.description = "Logs before answering";
  chatty.handler = [](const json::object&, RequestContext& ctx) -> ToolOutcome {
    ctx.log(LogLevel::info, "working");
    return ToolResult::text("done");
  };
  def->add_tool(chatty);

  Tool polling;
  polling.name = "polling";
  polling.description = "Closes the stream mid-call, then finishes";
  polling.handler = [](const json::object&, RequestContext& ctx) -> ToolOutcome {
    ctx.log(LogLevel::info, "before");
    ctx.close_stream_for_polling(100ms);
    std::this_thread::sleep_for(50ms);
    ctx.log(LogLevel::info, "after");
    return ToolResult::text("finished after reconnect");
  };
  def->add_tool(polling);

  Tool ask;
  ask.name = "ask";
  ask.description = "Elicits";
  ask.handler = [](const json::object&, RequestContext& ctx) -> ToolOutcome {
    if (auto* a = ctx.input("q")) return ToolResult::text(std::string(a->at("action").as_string()));
    return InputRequired{json::object{{"q", input::elicit_form("ok?", json::object{{"type", "object"}})}}, {}};
  };
  def->add_tool(ask);
  return def;
}

class EndpointTest : public ::testing::Test {
 protected:
  void SetUp() override { make_endpoint({}); }
  void make_endpoint(transport::EndpointOptions o) {
    o.worker_threads = 2;
    endpoint = std::make_unique<transport::McpEndpoint>(make_definition(), o);
  }

  std::shared_ptr<FakeExchange> send(std::string method, std::string path, std::string body,
                                     std::vector<std::pair<std::string, std::string>> headers) {
    auto ex = FakeExchange::make(std::move(method), std::move(path), std::move(body), std::move(headers));
    endpoint->handle(ex);
    EXPECT_TRUE(ex->wait_answered());
    return ex;
  }

  std::shared_ptr<FakeExchange> post(std::string body, std::string session = {}, std::string version = {}) {
    std::vector<std::pair<std::string, std::string>> h{{"Accept", kAccept}, {"Content-Type", "application/json"}};
    if (!session.empty()) h.emplace_back("Mcp-Session-Id", session);
    if (!version.empty()) h.emplace_back("MCP-Protocol-Version", version);
    return send("POST", "/mcp", std::move(body), std::move(h));
  }

  std::string initialize(std::string_view version = "2025-11-25") {
    std::string body = kInit;
    body.replace(body.find("2025-11-25"), 10, version);
    auto ex = post(body);
    EXPECT_EQ(ex->status(), 200) << ex->body();
    std::string id = ex->header("Mcp-Session-Id");
    EXPECT_EQ(id.size(), 32u);
    post(R"({"jsonrpc":"2.0","method":"notifications/initialized"})", id);
    return id;
  }

  static int rpc_code(const std::string& body) {
    auto v = json::parse(body);
    return static_cast<int>(v.at("error").at("code").as_int64());
  }

  std::unique_ptr<transport::McpEndpoint> endpoint;
};

}  // namespace

TEST_F(EndpointTest, InitializeMintsARandomSessionId) {
  auto a = initialize();
  auto b = initialize();
  EXPECT_NE(a, b);
  for (char c : a) EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(c)));
  EXPECT_EQ(endpoint->session_count(), 2u);
}

TEST_F(EndpointTest, RequestsAreAnsweredAsJsonWhenNothingElseIsSent) {
  auto sid = initialize();
  auto ex = post(R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}})", sid);
  EXPECT_EQ(ex->status(), 200);
  EXPECT_EQ(ex->header("Content-Type"), "application/json");
  EXPECT_EQ(json::parse(ex->body()).at("result").at("content").at(0).at("text").as_string(), "hi");
}

TEST_F(EndpointTest, NotificationsGoOnTheRequestsOwnStream) {
  auto sid = initialize();
  auto ex = post(R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"chatty"}})", sid);
  ASSERT_TRUE(ex->wait_finished());
  EXPECT_TRUE(ex->is_stream());
  EXPECT_EQ(ex->header("Content-Type"), "text/event-stream");
  EXPECT_EQ(ex->header("X-Accel-Buffering"), "no");
  std::string s = ex->streamed();
  // Priming event (2025-11-25), then the log message, then the response, in that order.
  auto priming = s.find("id: 1_0\ndata: \n\n");
  auto log = s.find("notifications/message");
  auto result = s.find("\"result\"");
  ASSERT_NE(priming, std::string::npos) << s;
  ASSERT_NE(log, std::string::npos);
  ASSERT_NE(result, std::string::npos);
  EXPECT_LT(priming, log);
  EXPECT_LT(log, result);
}

TEST_F(EndpointTest, NoPrimingEventBefore2025_11_25) {
  auto sid = initialize("2025-06-18");
  auto ex = post(R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"chatty"}})", sid);
  ASSERT_TRUE(ex->wait_finished());
  EXPECT_EQ(ex->streamed().find("_0\ndata: \n"), std::string::npos);
}

TEST_F(EndpointTest, TransportErrors) {
  auto sid = initialize();
  auto no_accept = send("POST", "/mcp", kInit, {{"Accept", "application/json"}, {"Content-Type", "application/json"}});
  EXPECT_EQ(no_accept->status(), 406);
  auto wrong_type = send("POST", "/mcp", kInit, {{"Accept", kAccept}, {"Content-Type", "text/plain"}});
  EXPECT_EQ(wrong_type->status(), 415);
  auto malformed = post("{nope", sid);
  EXPECT_EQ(malformed->status(), 400);
  EXPECT_EQ(rpc_code(malformed->body()), jsonrpc::kParseError);
  auto invalid = post(R"({"jsonrpc":"2.0","id":null,"method":"ping"})", sid);
  EXPECT_EQ(invalid->status(), 400);
  EXPECT_EQ(rpc_code(invalid->body()), jsonrpc::kInvalidRequest);
  auto missing = post(R"({"jsonrpc":"2.0","id":2,"method":"ping"})");
  EXPECT_EQ(missing->status(), 400);
  auto unknown = post(R"({"jsonrpc":"2.0","id":2,"method":"ping"})", std::string(32, 'a'));
  EXPECT_EQ(unknown->status(), 404);
  EXPECT_EQ(rpc_code(unknown->body()), jsonrpc::kSessionNotFound);
  auto bad_version = post(R"({"jsonrpc":"2.0","id":2,"method":"ping"})", sid, "1999-01-01");
  EXPECT_EQ(bad_version->status(), 400);
  auto old_version = post(R"({"jsonrpc":"2.0","id":2,"method":"ping"})", sid, "2025-03-26");
  EXPECT_EQ(old_version->status(), 200);
  auto reinit = post(kInit, sid);
  EXPECT_EQ(reinit->status(), 400);
  auto put = send("PUT", "/mcp", "", {});
  EXPECT_EQ(put->status(), 405);
  EXPECT_EQ(put->header("Allow"), "GET, POST, DELETE");
  auto note = post(R"({"jsonrpc":"2.0","method":"notifications/whatever"})", sid);
  EXPECT_EQ(note->status(), 202);
  EXPECT_TRUE(note->body().empty());
}

TEST_F(EndpointTest, BatchesOnlyOn2025_03_26) {
  auto modern = initialize("2025-06-18");
  auto refused = post(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])", modern);
  EXPECT_EQ(refused->status(), 400);
  EXPECT_TRUE(json::parse(refused->body()).is_object());

  auto old = initialize("2025-03-26");
  auto ok = post(R"([{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/x"},{"jsonrpc":"2.0","id":2,"method":"tools/list"}])", old);
  EXPECT_EQ(ok->status(), 200);
  auto arr = json::parse(ok->body()).as_array();
  EXPECT_EQ(arr.size(), 2u);
  auto init_in_batch = post("[" + kInit + "]", old);
  EXPECT_EQ(init_in_batch->status(), 400);
}

TEST_F(EndpointTest, DeleteEndsTheSession) {
  auto sid = initialize();
  auto del = send("DELETE", "/mcp", "", {{"Mcp-Session-Id", sid}});
  EXPECT_EQ(del->status(), 200);
  EXPECT_EQ(post(R"({"jsonrpc":"2.0","id":2,"method":"ping"})", sid)->status(), 404);
  EXPECT_EQ(send("DELETE", "/mcp", "", {{"Mcp-Session-Id", sid}})->status(), 404);
}

TEST_F(EndpointTest, OneStandaloneStreamPerSession) {
  auto sid = initialize();
  auto first = send("GET", "/mcp", "", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", sid}});
  EXPECT_EQ(first->status(), 200);
  EXPECT_TRUE(first->is_stream());
  auto second = send("GET", "/mcp", "", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", sid}});
  EXPECT_EQ(second->status(), 409);
  auto no_accept = send("GET", "/mcp", "", {{"Accept", "application/json"}, {"Mcp-Session-Id", sid}});
  EXPECT_EQ(no_accept->status(), 406);
  // When the first goes away, a new one may open.
  first->close_by_peer();
  auto third = send("GET", "/mcp", "", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", sid}});
  EXPECT_EQ(third->status(), 200);
}

TEST_F(EndpointTest, ResumesOnlyTheStreamThatDropped) {
  auto sid = initialize();
  // Another stream with its own events, which must never be replayed into the first.
  auto other = post(R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"chatty"}})", sid);
  ASSERT_TRUE(other->wait_finished());

  auto ex = post(R"({"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"polling"}})", sid);
  ASSERT_TRUE(ex->wait_finished());  // the server closed the connection for polling
  std::string first_part = ex->streamed();
  ASSERT_NE(first_part.find("retry: 100"), std::string::npos) << first_part;
  ASSERT_NE(first_part.find("before"), std::string::npos);
  EXPECT_EQ(first_part.find("\"result\""), std::string::npos);
  // The last id the client saw.
  auto pos = first_part.rfind("id: ");
  std::string last_id = first_part.substr(pos + 4, first_part.find('\n', pos) - pos - 4);
  std::this_thread::sleep_for(150ms);  // the tool finishes while nobody is connected

  auto resumed = send("GET", "/mcp", "", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", sid}, {"Last-Event-ID", last_id}});
  ASSERT_TRUE(resumed->wait_for_text("finished after reconnect"));
  ASSERT_TRUE(resumed->wait_finished());
  std::string replay = resumed->streamed();
  EXPECT_NE(replay.find("after"), std::string::npos);
  EXPECT_EQ(replay.find("before"), std::string::npos);  // already delivered, not replayed
  EXPECT_EQ(replay.find("working"), std::string::npos);  // the other stream's event

  auto bogus = send("GET", "/mcp", "", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", sid}, {"Last-Event-ID", "99_1"}});
  EXPECT_EQ(bogus->status(), 404);
}

TEST_F(EndpointTest, ServerToClientRequestsTravelOnTheRequestStream) {
  auto sid = initialize();
  auto ex = post(R"({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"ask"}})", sid);
  ASSERT_TRUE(ex->wait_for_text("elicitation/create"));
  // The client answers with its own POST; the answer is routed back to the waiting tool.
  json::value request;
  for (auto& data : bastion::testing::sse_data(ex->streamed()))
    if (data.find("elicitation/create") != std::string::npos) request = json::parse(data);
  ASSERT_TRUE(request.is_object());
  EXPECT_EQ(request.at("params").at("message").as_string(), "ok?");
  auto& v = request;
  auto answer = post(R"({"jsonrpc":"2.0","id":)" + json::serialize(v.at("id")) + R"(,"result":{"action":"accept","content":{}}})", sid);
  EXPECT_EQ(answer->status(), 202);
  ASSERT_TRUE(ex->wait_for_text("\"text\":\"accept\""));
  EXPECT_TRUE(ex->wait_finished());
}

TEST_F(EndpointTest, SessionCaps) {
  transport::EndpointOptions o;
  o.max_sessions = 2;
  make_endpoint(o);
  initialize();
  initialize();
  auto over = post(kInit);
  EXPECT_EQ(over->status(), 503);

  transport::EndpointOptions per_client;
  per_client.max_sessions_per_client = 1;
  make_endpoint(per_client);
  initialize();
  EXPECT_EQ(post(kInit)->status(), 429);
}

TEST_F(EndpointTest, IdleSessionsAreReaped) {
  transport::EndpointOptions o;
  o.session_idle_timeout = 200ms;
  make_endpoint(o);
  auto sid = initialize();
  auto busy = initialize();
  auto stream = send("GET", "/mcp", "", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", busy}});
  for (int i = 0; i < 100 && endpoint->session_count() > 1; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(endpoint->session_count(), 1u);  // the one with an open stream stays
  EXPECT_EQ(post(R"({"jsonrpc":"2.0","id":2,"method":"ping"})", sid)->status(), 404);
  EXPECT_EQ(post(R"({"jsonrpc":"2.0","id":2,"method":"ping"})", busy)->status(), 200);
}

TEST_F(EndpointTest, LegacyHttpWithSse) {
  auto stream = FakeExchange::make("GET", "/mcp/sse", "", {{"Accept", "text/event-stream"}});
  endpoint->handle(stream);
  ASSERT_TRUE(stream->wait_for_text("event: endpoint\ndata: /mcp/messages?session_id="));
  std::string s = stream->streamed();
  auto start = s.find("session_id=") + 11;
  std::string sid = s.substr(start, s.find('\n', start) - start);

  auto post_msg = [&](std::string body) {
    return send("POST", "/mcp/messages?session_id=" + sid, std::move(body), {{"Content-Type", "application/json"}});
  };
  std::string init = kInit;
  init.replace(init.find("2025-11-25"), 10, "2024-11-05");
  EXPECT_EQ(post_msg(init)->status(), 202);
  ASSERT_TRUE(stream->wait_for_text("\"protocolVersion\":\"2024-11-05\""));
  post_msg(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  EXPECT_EQ(post_msg(R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"over sse"}}})")->status(), 202);
  ASSERT_TRUE(stream->wait_for_text("over sse"));
  EXPECT_NE(stream->streamed().find("event: message\ndata: {"), std::string::npos);

  EXPECT_EQ(send("POST", "/mcp/messages?session_id=nope", "{}", {{"Content-Type", "application/json"}})->status(), 404);
  EXPECT_EQ(send("POST", "/mcp/messages", "{}", {{"Content-Type", "application/json"}})->status(), 400);
  // Streamable HTTP requests cannot borrow a 2024-11-05 session.
  EXPECT_EQ(post(R"({"jsonrpc":"2.0","id":2,"method":"ping"})", sid)->status(), 404);

  // The session ends with its stream.
  stream->close_by_peer();
  EXPECT_EQ(post_msg(R"({"jsonrpc":"2.0","id":3,"method":"ping"})")->status(), 404);
}

TEST(EventId, ParsesOnlyWhatWeSend) {
  auto id = transport::parse_event_id("12_34");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->first, "12");
  EXPECT_EQ(id->second, 34u);
  EXPECT_FALSE(transport::parse_event_id("1234"));
  EXPECT_FALSE(transport::parse_event_id("_1"));
  EXPECT_FALSE(transport::parse_event_id("1_"));
  EXPECT_FALSE(transport::parse_event_id("1_x"));
  EXPECT_FALSE(transport::parse_event_id("1_99999999999999999999999"));
}
