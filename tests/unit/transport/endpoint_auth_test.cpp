// The endpoint's side of authentication: sessions bound to the principal that created them,
// the step-5 authorization hook on every era, and list filtering through may_use.
#include <gtest/gtest.h>

#include "jsonrpc/error_codes.hpp"
#include "support/fake_exchange.hpp"
#include "transport/mcp_endpoint.hpp"

namespace json = boost::json;
using namespace bastion;
using bastion::testing::FakeExchange;

namespace {

constexpr const char* kAccept = "application/json, text/event-stream";
const std::string kInit =
    R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})";

std::shared_ptr<ServerDefinition> definition() {
  auto def = std::make_shared<ServerDefinition>();
  for (const char* name : {"echo", "admin_reset"}) {
    Tool t;
    t.name = name;
    t.description = name;
    t.inline_handler = true;
    t.handler = [name](const json::object&, RequestContext& ctx) -> ToolOutcome {
      return ToolResult::text(std::string(name) + ":" + (ctx.principal() ? ctx.principal()->subject : "-"));
    };
    def->add_tool(t);
  }
  return def;
}

std::shared_ptr<const Principal> principal(std::string sub, std::set<std::string> scopes = {}) {
  auto p = std::make_shared<Principal>();
  p->issuer = "https://as";
  p->subject = std::move(sub);
  p->scopes = std::move(scopes);
  return p;
}

class EndpointAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    transport::EndpointOptions o;
    o.worker_threads = 1;
    o.authorize = [this](const Principal* p, const jsonrpc::Request& r) -> std::optional<http::Response> {
      seen.push_back(r.method);
      if (r.method == "tools/call" && r.params.at("name").as_string() == "admin_reset" && !p->scopes.contains("admin"))
        return http::plain_response(403, "denied");
      return std::nullopt;
    };
    o.may_use = [](const Principal* p, mcp::ListedKind, std::string_view name) {
      return name != "admin_reset" || (p && p->scopes.contains("admin"));
    };
    endpoint = std::make_unique<transport::McpEndpoint>(definition(), o);
  }

  std::shared_ptr<FakeExchange> send(std::string method, std::string path, std::string body, std::string session,
                                     std::shared_ptr<const Principal> who,
                                     std::vector<std::pair<std::string, std::string>> extra = {}) {
    std::vector<std::pair<std::string, std::string>> h{{"Accept", kAccept}, {"Content-Type", "application/json"}};
    if (!session.empty()) h.emplace_back("Mcp-Session-Id", session);
    for (auto& e : extra) h.push_back(e);
    auto ex = FakeExchange::make(std::move(method), std::move(path), std::move(body), std::move(h));
    endpoint->handle(ex, std::move(who));
    EXPECT_TRUE(ex->wait_answered());
    return ex;
  }
  std::shared_ptr<FakeExchange> post(std::string body, std::string session, std::shared_ptr<const Principal> who) {
    return send("POST", "/mcp", std::move(body), std::move(session), std::move(who));
  }
  std::string open(std::shared_ptr<const Principal> who) {
    auto ex = post(kInit, "", who);
    EXPECT_EQ(ex->status(), 200) << ex->body();
    auto id = ex->header("Mcp-Session-Id");
    post(R"({"jsonrpc":"2.0","method":"notifications/initialized"})", id, who);
    return id;
  }

  std::vector<std::string> seen;
  std::unique_ptr<transport::McpEndpoint> endpoint;
};

}  // namespace

TEST_F(EndpointAuthTest, AnotherPrincipalGets404ForTheSession) {
  auto alice = principal("alice");
  auto sid = open(alice);
  auto mallory = principal("mallory");
  const std::string call = R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo"}})";
  auto stolen = post(call, sid, mallory);
  EXPECT_EQ(stolen->status(), 404);
  EXPECT_EQ(json::parse(stolen->body()).at("error").at("code").as_int64(), jsonrpc::kSessionNotFound);
  EXPECT_EQ(send("GET", "/mcp", "", sid, mallory, {{"Accept", "text/event-stream"}})->status(), 404);
  EXPECT_EQ(send("DELETE", "/mcp", "", sid, mallory)->status(), 404);
  EXPECT_EQ(post(call, sid, nullptr)->status(), 404) << "no principal on a bound session";
  // A new token of the same issuer and subject is the same owner.
  auto ok = post(call, sid, principal("alice", {"more"}));
  EXPECT_EQ(ok->status(), 200);
  EXPECT_EQ(json::parse(ok->body()).at("result").at("content").at(0).at("text").as_string(), "echo:alice")
      << "handlers see the principal";
  EXPECT_EQ(endpoint->session_count(), 1u);
}

TEST_F(EndpointAuthTest, TheHookRunsBeforeDispatchOnSessionsAndBatchesAndStateless) {
  auto alice = principal("alice");
  auto sid = open(alice);
  auto denied = post(R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"admin_reset"}})", sid, alice);
  EXPECT_EQ(denied->status(), 403);
  EXPECT_EQ(denied->body(), "denied");
  EXPECT_EQ(seen.front(), "initialize");
  auto admin = principal("alice", {"admin"});
  auto ok = post(R"({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"admin_reset"}})", sid, admin);
  EXPECT_EQ(ok->status(), 200);
  // 2026-07-28 stateless request.
  const std::string modern =
      R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"admin_reset","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}})";
  auto m = send("POST", "/mcp", modern, "", alice,
                {{"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", "tools/call"}, {"Mcp-Name", "admin_reset"}});
  EXPECT_EQ(m->status(), 403) << m->body();
  auto m2 = send("POST", "/mcp", modern, "", admin,
                 {{"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", "tools/call"}, {"Mcp-Name", "admin_reset"}});
  EXPECT_EQ(m2->status(), 200) << m2->body();
  EXPECT_NE(m2->body().find("admin_reset:alice"), std::string::npos) << m2->body();
}

TEST_F(EndpointAuthTest, ListsShowOnlyWhatThePrincipalMayUse) {
  auto alice = principal("alice");
  auto sid = open(alice);
  auto list = post(R"({"jsonrpc":"2.0","id":6,"method":"tools/list"})", sid, alice);
  auto tools = json::parse(list->body()).at("result").at("tools").as_array();
  ASSERT_EQ(tools.size(), 1u);
  EXPECT_EQ(tools[0].at("name").as_string(), "echo");
  auto admin = principal("bob", {"admin"});
  auto sid2 = open(admin);
  auto list2 = post(R"({"jsonrpc":"2.0","id":7,"method":"tools/list"})", sid2, admin);
  EXPECT_EQ(json::parse(list2->body()).at("result").at("tools").as_array().size(), 2u);
}

TEST_F(EndpointAuthTest, LegacySseSessionsAreBoundToo) {
  auto alice = principal("alice");
  auto sse = FakeExchange::make("GET", "/mcp/sse", "", {{"Accept", "text/event-stream"}});
  endpoint->handle(sse, alice);
  ASSERT_TRUE(sse->wait_answered());
  const std::string s = sse->streamed();
  const auto at = s.find("session_id=");
  ASSERT_NE(at, std::string::npos) << s;
  const std::string id = s.substr(at + 11, 32);
  auto stolen = FakeExchange::make("POST", "/mcp/messages?session_id=" + id, kInit, {{"Content-Type", "application/json"}});
  endpoint->handle(stolen, principal("mallory"));
  ASSERT_TRUE(stolen->wait_answered());
  EXPECT_EQ(stolen->status(), 404);
  auto mine = FakeExchange::make("POST", "/mcp/messages?session_id=" + id, kInit, {{"Content-Type", "application/json"}});
  endpoint->handle(mine, alice);
  ASSERT_TRUE(mine->wait_answered());
  EXPECT_EQ(mine->status(), 202);
  endpoint->shutdown();
}

TEST_F(EndpointAuthTest, AStepUpTokenOnTheSameSessionIsWhatListsAndHandlersSee) {
  auto alice = principal("alice");
  auto sid = open(alice);
  auto before = post(R"({"jsonrpc":"2.0","id":8,"method":"tools/list"})", sid, alice);
  EXPECT_EQ(json::parse(before->body()).at("result").at("tools").as_array().size(), 1u);
  // Same subject, a newer token with more scopes: the session stays hers, the lists grow.
  auto stepped = principal("alice", {"admin"});
  auto after = post(R"({"jsonrpc":"2.0","id":9,"method":"tools/list"})", sid, stepped);
  EXPECT_EQ(json::parse(after->body()).at("result").at("tools").as_array().size(), 2u);
}
