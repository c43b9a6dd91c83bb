// The demo module as a client sees it: registration, settings validation, and each handler.
#include "modules/demo/demo_module.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <variant>

#include "tests/unit/modules/fake_request_context.hpp"

namespace bastion::modules::demo {
namespace {

namespace fs = std::filesystem;
using test_support::FakeRequestContext;

std::vector<std::string> tool_names(const ServerDefinition& server) {
  std::vector<std::string> names;
  for (const auto& t : server.tools()) names.push_back(t->name);
  return names;
}

ToolResult call(const ServerDefinition& server, const std::string& name, json::object arguments) {
  FakeRequestContext ctx;
  auto outcome = server.find_tool(name)->handler(arguments, ctx);
  EXPECT_TRUE(std::holds_alternative<ToolResult>(outcome));
  return std::get<ToolResult>(outcome);
}

std::string first_text(const ToolResult& r) {
  return r.content.empty() ? std::string() : std::string(r.content[0].at("text").as_string());
}

class DemoModuleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = fs::temp_directory_path() / ("bastion-demo-test-" + std::to_string(::getpid()));
    fs::remove_all(folder_);
    fs::create_directories(folder_ / "docs");
    std::ofstream(folder_ / "docs" / "notes.md") << "first line\nTODO: write tests\n";
  }
  void TearDown() override { fs::remove_all(folder_); }
  fs::path folder_;
};

TEST_F(DemoModuleTest, RegistersToolsResourceAndPrompt) {
  ServerDefinition server;
  install(server, ModuleOptions{});
  EXPECT_EQ(tool_names(server), (std::vector<std::string>{"echo", "current_time", "calculate"}));
  for (const auto& t : server.tools()) {
    EXPECT_FALSE(t->description.empty());
    EXPECT_FALSE(t->title.empty());
    EXPECT_EQ(t->annotations.at("readOnlyHint"), true);
  }
  EXPECT_TRUE(server.find_tool("echo")->inline_handler);
  ASSERT_TRUE(server.find_resource("demo://about"));
  ASSERT_TRUE(server.find_prompt("summarize"));
}

TEST_F(DemoModuleTest, SearchToolOnlyWithAConfiguredFolder) {
  ServerDefinition server;
  install(server, ModuleOptions{json::object{{"root", folder_.string()}, {"max_matches", 10}}});
  EXPECT_EQ(tool_names(server), (std::vector<std::string>{"echo", "current_time", "calculate", "search_text"}));
  const auto r = call(server, "search_text", {{"query", "todo"}});
  EXPECT_FALSE(r.is_error);
  EXPECT_EQ(first_text(r).substr(0, 30), "docs/notes.md:2: TODO: write t");
  EXPECT_EQ(r.structured->at("matches").at(0).at("line"), 2);
  EXPECT_TRUE(r.structured->at("matches").at(0).at("line").is_int64());
  EXPECT_TRUE(r.structured->at("files_scanned").is_int64());
  EXPECT_EQ(r.structured->at("truncated"), false);
  // The tool description states the configured limits, not the folder's location.
  EXPECT_EQ(server.find_tool("search_text")->description.find(folder_.string()), std::string::npos);
  EXPECT_NE(server.find_tool("search_text")->description.find("At most 10 matching lines"), std::string::npos);

  const auto escape = call(server, "search_text", {{"query", "x"}, {"path", "../"}});
  EXPECT_TRUE(escape.is_error);
  EXPECT_NE(first_text(escape).find("'..'"), std::string::npos);
  EXPECT_EQ(first_text(call(server, "search_text", {{"query", "absent"}})).substr(0, 11), "No matches.");
}

TEST_F(DemoModuleTest, BadSettingsFailAtStartUp) {
  auto install_with = [](json::object settings) {
    ServerDefinition server;
    install(server, ModuleOptions{std::move(settings)});
  };
  EXPECT_THROW(install_with({{"rooot", "/tmp"}}), std::invalid_argument);
  EXPECT_THROW(install_with({{"root", (folder_ / "missing").string()}}), std::invalid_argument);
  EXPECT_THROW(install_with({{"root", (folder_ / "docs" / "notes.md").string()}}), std::invalid_argument);
  EXPECT_THROW(install_with({{"root", ""}}), std::invalid_argument);
  EXPECT_THROW(install_with({{"max_files", "many"}}), std::invalid_argument);
  EXPECT_THROW(install_with({{"max_matches", 0}}), std::invalid_argument);
  EXPECT_THROW(install_with({{"max_file_bytes", -5}}), std::invalid_argument);
  try {
    install_with({{"colour", "blue"}});
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown setting 'colour'"), std::string::npos);
  }
}

TEST_F(DemoModuleTest, EchoAndCalculate) {
  ServerDefinition server;
  install(server, ModuleOptions{});
  EXPECT_EQ(first_text(call(server, "echo", {{"message", "héllo \"world\""}})), "héllo \"world\"");

  const auto sum = call(server, "calculate", {{"expression", "2^10 / (3 - 1)"}});
  EXPECT_FALSE(sum.is_error);
  EXPECT_EQ(sum.structured->at("result"), 512);
  EXPECT_TRUE(sum.structured->at("result").is_int64());
  EXPECT_EQ(call(server, "calculate", {{"expression", "1/4"}}).structured->at("result"), 0.25);
  EXPECT_EQ(sum.structured->at("result_text"), "512");
  const auto bad = call(server, "calculate", {{"expression", "1/0"}});
  EXPECT_TRUE(bad.is_error);
  EXPECT_EQ(first_text(bad), "Cannot evaluate the expression: division by zero (at character 2).");
}

TEST_F(DemoModuleTest, CurrentTime) {
  ServerDefinition server;
  install(server, ModuleOptions{});
  const auto utc = call(server, "current_time", {});
  ASSERT_FALSE(utc.is_error) << first_text(utc);
  EXPECT_EQ(utc.structured->at("timezone"), "UTC");
  EXPECT_EQ(utc.structured->at("utc_offset"), "+00:00");
  const auto unknown = call(server, "current_time", {{"timezone", "Mars/Olympus_Mons"}});
  EXPECT_TRUE(unknown.is_error);
  EXPECT_NE(first_text(unknown).find("IANA"), std::string::npos);
  const auto hostile = call(server, "current_time", {{"timezone", "../../etc/passwd"}});
  EXPECT_TRUE(hostile.is_error);

  const auto tokyo = call(server, "current_time", {{"timezone", "Asia/Tokyo"}});
  if (tokyo.is_error) GTEST_SKIP() << "no tz database on this machine";
  EXPECT_EQ(tokyo.structured->at("utc_offset"), "+09:00");
  EXPECT_EQ(tokyo.structured->at("is_dst"), false);
}

TEST_F(DemoModuleTest, AboutResourceAndSummarizePrompt) {
  ServerDefinition server;
  install(server, ModuleOptions{});
  FakeRequestContext ctx;
  auto about = server.find_resource("demo://about")->read(ctx);
  ASSERT_TRUE(std::holds_alternative<ResourceContents>(about));
  EXPECT_EQ(std::get<ResourceContents>(about).contents.at(0).at("mimeType"), "text/markdown");

  const auto& prompt = *server.find_prompt("summarize");
  EXPECT_EQ(prompt.complete("style", "one", {}), (std::vector<std::string>{"one-paragraph", "one-sentence"}));
  EXPECT_EQ(prompt.complete("style", "BU", {}), (std::vector<std::string>{"bullet-points"}));
  EXPECT_EQ(prompt.complete("style", "", {}).size(), 5u);
  EXPECT_TRUE(prompt.complete("text", "", {}).empty());
  auto result = prompt.get({{"text", "Long text."}, {"style", "bullet-points"}}, ctx);
  ASSERT_TRUE(std::holds_alternative<PromptResult>(result));
  const std::string message(std::get<PromptResult>(result).messages.at(0).at("content").at("text").as_string());
  EXPECT_NE(message.find("bullet points"), std::string::npos);
  EXPECT_NE(message.find("<text>\nLong text.\n</text>"), std::string::npos);
  auto custom = prompt.get({{"text", "t"}, {"style", std::string(500, 'z') + "\x1b"}}, ctx);
  const std::string custom_text(std::get<PromptResult>(custom).messages.at(0).at("content").at("text").as_string());
  EXPECT_EQ(custom_text.find(std::string(101, 'z')), std::string::npos);  // bounded
}

}  // namespace
}  // namespace bastion::modules::demo
