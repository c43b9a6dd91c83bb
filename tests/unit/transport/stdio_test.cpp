#include <gtest/gtest.h>

#include <sstream>

#include "transport/stdio.hpp"

namespace json = boost::json;
using namespace bastion;

namespace {

std::vector<json::value> run(const std::string& input, transport::StdioOptions options = {}) {
  auto def = std::make_shared<ServerDefinition>();
  Tool echo;
  echo.name = "echo";
  echo.description = "Echoes";
  echo.handler = [](const json::object& a, RequestContext& ctx) -> ToolOutcome {
    ctx.log(LogLevel::info, "echoing");
    return ToolResult::text(std::string(a.at("message").as_string()));
  };
  def->add_tool(echo);
  std::istringstream in(input);
  std::ostringstream out;
  EXPECT_EQ(transport::run_stdio(def, options, in, out), 0);
  std::vector<json::value> lines;
  std::istringstream reader(out.str());
  std::string line;
  while (std::getline(reader, line)) lines.push_back(json::parse(line));  // every line is one JSON message
  return lines;
}

const json::value* find_id(const std::vector<json::value>& lines, std::int64_t id) {
  for (auto& l : lines)
    if (l.as_object().contains("id") && l.at("id").is_int64() && l.at("id").as_int64() == id) return &l;
  return nullptr;
}

}  // namespace

TEST(Stdio, ServesOneMessagePerLine) {
  auto lines = run(
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{}}})"
      "\n"
      R"({"jsonrpc":"2.0","method":"notifications/initialized"})"
      "\n\n"
      R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"over stdio"}}})"
      "\n");
  auto* init = find_id(lines, 1);
  ASSERT_TRUE(init);
  EXPECT_EQ(init->at("result").at("protocolVersion").as_string(), "2025-06-18");
  auto* call = find_id(lines, 2);
  ASSERT_TRUE(call);
  EXPECT_EQ(call->at("result").at("content").at(0).at("text").as_string(), "over stdio");
  bool saw_log = false;
  for (auto& l : lines)
    if (l.as_object().contains("method") && l.at("method").as_string() == "notifications/message") saw_log = true;
  EXPECT_TRUE(saw_log);
}

TEST(Stdio, BadLinesGetErrorsAndLoseNothingElse) {
  transport::StdioOptions o;
  o.max_line_bytes = 256;
  auto lines = run("{not json\n" + std::string(1000, 'x') + "\n" +
                       R"({"jsonrpc":"2.0","id":3,"method":"initialize","params":{"protocolVersion":"2025-06-18"}})" "\n",
                   o);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].at("error").at("code").as_int64(), -32700);
  EXPECT_EQ(lines[1].at("error").at("code").as_int64(), -32600);
  EXPECT_TRUE(find_id(lines, 3));
}
