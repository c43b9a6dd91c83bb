// The conformance fixtures, called directly with a fake context: the shapes the suite checks,
// and the MRTR round trips (which the legacy path reuses through the same handlers).
#include "modules/conformance/conformance_module.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>
#include <variant>

#include "modules/conformance/media.hpp"
#include "tests/unit/modules/fake_request_context.hpp"

namespace bastion::modules::conformance {
namespace {

using test_support::accepted;
using test_support::FakeRequestContext;
using test_support::roots_answer;
using test_support::sampled;

class ConformanceModuleTest : public ::testing::Test {
 protected:
  void SetUp() override { install(server_, ModuleOptions{}); }

  ToolOutcome call(const std::string& name, FakeRequestContext& ctx, json::object arguments = {}) {
    auto tool = server_.find_tool(name);
    EXPECT_TRUE(tool) << name;
    return tool ? tool->handler(arguments, ctx) : ToolOutcome{ToolResult::error("no such tool")};
  }
  // By value: callers pass temporaries and keep the result.
  static ToolResult result(const ToolOutcome& outcome) {
    EXPECT_TRUE(std::holds_alternative<ToolResult>(outcome));
    return std::holds_alternative<ToolResult>(outcome) ? std::get<ToolResult>(outcome) : ToolResult{};
  }
  static InputRequired needs_input(const ToolOutcome& outcome) {
    EXPECT_TRUE(std::holds_alternative<InputRequired>(outcome));
    return std::holds_alternative<InputRequired>(outcome) ? std::get<InputRequired>(outcome) : InputRequired{};
  }
  static std::string text(const ToolResult& r, std::size_t i = 0) {
    if (i >= r.content.size()) return {};
    const auto* t = r.content[i].as_object().if_contains("text");
    return t ? std::string(t->as_string()) : std::string();
  }
  static std::string method(const InputRequired& ir, std::string_view key) {
    const auto* request = ir.input_requests.if_contains(key);
    return request ? std::string(request->as_object().at("method").as_string()) : std::string();
  }

  ServerDefinition server_;
};

TEST_F(ConformanceModuleTest, EveryFixtureIsRegisteredWithADescription) {
  std::set<std::string> tools;
  const std::regex valid_name("[A-Za-z0-9_.-]{1,128}");
  for (const auto& tool : server_.tools()) {
    tools.insert(tool->name);
    EXPECT_FALSE(tool->description.empty()) << tool->name;
    EXPECT_TRUE(std::regex_match(tool->name, valid_name)) << tool->name;
    EXPECT_EQ(tool->input_schema.at("type"), "object") << tool->name;
  }
  for (const char* name :
       {"test_simple_text", "test_image_content", "test_audio_content", "test_embedded_resource",
        "test_multiple_content_types", "test_tool_with_logging", "test_tool_with_progress", "test_error_handling",
        "test_sampling", "test_elicitation", "test_elicitation_sep1034_defaults", "test_elicitation_sep1330_enums",
        "json_schema_2020_12_tool", "test_reconnection", "test_missing_capability", "test_streaming_elicitation",
        "test_logging_tool", "test_trigger_tool_change", "test_trigger_prompt_change",
        "test_input_required_result_elicitation", "test_input_required_result_sampling",
        "test_input_required_result_list_roots", "test_input_required_result_request_state",
        "test_input_required_result_multiple_inputs", "test_input_required_result_multi_round",
        "test_input_required_result_tampered_state", "test_input_required_result_capabilities"}) {
    EXPECT_TRUE(tools.count(name)) << name;
  }
  std::set<std::string> prompts;
  for (const auto& prompt : server_.prompts()) {
    prompts.insert(prompt->name);
    EXPECT_FALSE(prompt->description.empty()) << prompt->name;
  }
  for (const char* name : {"test_simple_prompt", "test_prompt_with_arguments", "test_prompt_with_embedded_resource",
                           "test_prompt_with_image", "test_input_required_result_prompt"}) {
    EXPECT_TRUE(prompts.count(name)) << name;
  }
  std::vector<std::string> uris;
  for (const auto& r : server_.resources()) {
    uris.push_back(r->uri);
    EXPECT_FALSE(r->description.empty());
  }
  EXPECT_EQ(uris, (std::vector<std::string>{"test://static-text", "test://static-binary", "test://watched-resource"}));
  ASSERT_EQ(server_.resource_templates().size(), 1u);
  EXPECT_EQ(server_.resource_templates()[0]->uri_template, "test://template/{id}/data");
}

TEST_F(ConformanceModuleTest, RejectsSettings) {
  ServerDefinition other;
  EXPECT_THROW(install(other, ModuleOptions{json::object{{"x", 1}}}), std::invalid_argument);
}

TEST_F(ConformanceModuleTest, ContentTools) {
  FakeRequestContext ctx;
  EXPECT_EQ(text(result(call("test_simple_text", ctx))), "This is a simple text response for testing.");

  const json::object image = result(call("test_image_content", ctx)).content.at(0).as_object();
  EXPECT_EQ(image.at("type"), "image");
  EXPECT_EQ(image.at("mimeType"), "image/png");
  EXPECT_EQ(std::string_view(image.at("data").as_string()), kPngBase64);

  const json::object audio = result(call("test_audio_content", ctx)).content.at(0).as_object();
  EXPECT_EQ(audio.at("type"), "audio");
  EXPECT_EQ(audio.at("mimeType"), "audio/wav");

  const json::object embedded = result(call("test_embedded_resource", ctx)).content.at(0).as_object();
  EXPECT_EQ(embedded.at("type"), "resource");
  EXPECT_EQ(embedded.at("resource").at("uri"), "test://embedded-resource");

  const auto mixed = result(call("test_multiple_content_types", ctx));
  ASSERT_EQ(mixed.content.size(), 3u);
  EXPECT_EQ(mixed.content[0].at("type"), "text");
  EXPECT_EQ(mixed.content[1].at("type"), "image");
  EXPECT_EQ(mixed.content[2].at("type"), "resource");
  EXPECT_EQ(json::parse(mixed.content[2].at("resource").at("text").as_string()), (json::object{{"test", "data"}, {"value", 123}}));

  const auto error = result(call("test_error_handling", ctx));
  EXPECT_TRUE(error.is_error);
  EXPECT_EQ(text(error), "This tool intentionally returns an error for testing");
}

TEST_F(ConformanceModuleTest, LoggingProgressAndReconnection) {
  FakeRequestContext ctx;
  EXPECT_FALSE(result(call("test_tool_with_logging", ctx)).is_error);
  ASSERT_EQ(ctx.logs.size(), 3u);
  EXPECT_EQ(ctx.logs[0].second, "Tool execution started");
  EXPECT_EQ(ctx.logs[2].second, "Tool execution completed");

  EXPECT_FALSE(result(call("test_tool_with_progress", ctx)).is_error);
  ASSERT_EQ(ctx.progress_calls.size(), 3u);
  EXPECT_LT(ctx.progress_calls[0].progress, ctx.progress_calls[1].progress);
  EXPECT_LT(ctx.progress_calls[1].progress, ctx.progress_calls[2].progress);
  EXPECT_EQ(ctx.progress_calls[2].total, 100.0);

  const auto reconnect = result(call("test_reconnection", ctx));
  EXPECT_EQ(ctx.stream_closes.size(), 1u);
  EXPECT_NE(text(reconnect).find("Reconnection test completed"), std::string::npos);
}

TEST_F(ConformanceModuleTest, SamplingRoundTrip) {
  FakeRequestContext ctx;
  const auto ask = call("test_sampling", ctx, {{"prompt", "Test prompt for sampling"}});
  const auto ir = needs_input(ask);
  EXPECT_EQ(method(ir, "llm_response"), "sampling/createMessage");
  const auto& params = ir.input_requests.at("llm_response").at("params");
  EXPECT_EQ(params.at("maxTokens"), 100);
  EXPECT_EQ(params.at("messages").at(0).at("content").at("text"), "Test prompt for sampling");

  ctx.inputs["llm_response"] = sampled("This is a test response from the client");
  EXPECT_EQ(text(result(call("test_sampling", ctx, {{"prompt", "x"}}))), "LLM response: This is a test response from the client");

  // 2025-11-25 allows an array of content blocks.
  ctx.inputs["llm_response"] = json::object{{"role", "assistant"},
                                            {"content", json::array{json::object{{"type", "text"}, {"text", "a"}},
                                                                    json::object{{"type", "text"}, {"text", "b"}}}}};
  EXPECT_EQ(text(result(call("test_sampling", ctx, {{"prompt", "x"}}))), "LLM response: ab");

  ctx.inputs["llm_response"] = 42;
  EXPECT_TRUE(result(call("test_sampling", ctx, {{"prompt", "x"}})).is_error);
}

TEST_F(ConformanceModuleTest, ElicitationFixtures) {
  FakeRequestContext ctx;
  const auto ir = needs_input(call("test_elicitation", ctx, {{"message", "Please provide your information"}}));
  EXPECT_EQ(method(ir, "user_info"), "elicitation/create");
  const auto& params = ir.input_requests.at("user_info").at("params");
  EXPECT_EQ(params.at("message"), "Please provide your information");
  EXPECT_EQ(params.at("requestedSchema").at("required"), (json::array{"username", "email"}));
  ctx.inputs["user_info"] = accepted({{"username", "testuser"}, {"email", "test@example.com"}});
  EXPECT_EQ(text(result(call("test_elicitation", ctx, {{"message", "m"}}))),
            R"(User response: action=accept, content={"username":"testuser","email":"test@example.com"})");
  ctx.inputs["user_info"] = json::object{{"action", "decline"}};
  EXPECT_EQ(text(result(call("test_elicitation", ctx, {{"message", "m"}}))), "User response: action=decline, content={}");
  ctx.inputs["user_info"] = json::object{{"action", "maybe"}};
  EXPECT_TRUE(result(call("test_elicitation", ctx, {{"message", "m"}})).is_error);

  FakeRequestContext fresh;
  const auto defaults = needs_input(call("test_elicitation_sep1034_defaults", fresh));
  const auto& props = defaults.input_requests.at("profile").at("params").at("requestedSchema").at("properties");
  EXPECT_EQ(props.at("name").at("default"), "John Doe");
  EXPECT_EQ(props.at("age").at("type"), "integer");
  EXPECT_EQ(props.at("age").at("default"), 30);
  EXPECT_EQ(props.at("score").at("default"), 95.5);
  EXPECT_EQ(props.at("status").at("default"), "active");
  EXPECT_EQ(props.at("status").at("enum"), (json::array{"active", "inactive", "pending"}));
  EXPECT_EQ(props.at("verified").at("default"), true);

  const auto enums = needs_input(call("test_elicitation_sep1330_enums", fresh));
  const auto& e = enums.input_requests.at("choices").at("params").at("requestedSchema").at("properties");
  EXPECT_TRUE(e.at("untitledSingle").as_object().contains("enum"));
  EXPECT_FALSE(e.at("untitledSingle").as_object().contains("oneOf"));
  EXPECT_EQ(e.at("titledSingle").at("oneOf").at(0), (json::object{{"const", "value1"}, {"title", "First Option"}}));
  EXPECT_FALSE(e.at("titledSingle").as_object().contains("enum"));
  EXPECT_EQ(e.at("legacyEnum").at("enumNames").as_array().size(), 3u);
  EXPECT_EQ(e.at("untitledMulti").at("items").at("enum").as_array().size(), 3u);
  EXPECT_EQ(e.at("titledMulti").at("items").at("anyOf").at(2).at("title"), "Third Choice");
}

TEST_F(ConformanceModuleTest, JsonSchema2020Tool) {
  const auto tool = server_.find_tool("json_schema_2020_12_tool");
  ASSERT_TRUE(tool);
  const auto& s = tool->input_schema;
  EXPECT_EQ(s.at("$schema"), "https://json-schema.org/draft/2020-12/schema");
  EXPECT_EQ(s.at("$defs").at("address").at("$anchor"), "addressDef");
  EXPECT_EQ(s.at("properties").at("address").at("$ref"), "#/$defs/address");
  EXPECT_TRUE(s.at("allOf").at(0).as_object().contains("anyOf"));
  EXPECT_TRUE(s.contains("if") && s.contains("then") && s.contains("else"));
  EXPECT_EQ(s.at("additionalProperties"), false);
}

TEST_F(ConformanceModuleTest, MissingCapabilityAsksForSamplingSoTheFrameworkRejects) {
  FakeRequestContext with;
  EXPECT_EQ(text(result(call("test_missing_capability", with))), "Success");
  FakeRequestContext without;
  without.capabilities = json::object{};
  EXPECT_EQ(method(needs_input(call("test_missing_capability", without)), "sampling_check"), "sampling/createMessage");
}

TEST_F(ConformanceModuleTest, StreamingElicitationAndLoggingTool) {
  FakeRequestContext ctx;
  EXPECT_EQ(method(needs_input(call("test_streaming_elicitation", ctx)), "stream_value"), "elicitation/create");
  ctx.inputs["stream_value"] = accepted({{"value", "v"}});
  EXPECT_NE(text(result(call("test_streaming_elicitation", ctx))).find("action=accept"), std::string::npos);

  FakeRequestContext logging;
  EXPECT_FALSE(result(call("test_logging_tool", logging)).is_error);
  EXPECT_EQ(logging.logs.size(), 3u);
}

TEST_F(ConformanceModuleTest, TriggersChangeTheCatalogue) {
  FakeRequestContext ctx;
  EXPECT_FALSE(server_.find_tool("test_dynamic_tool"));
  call("test_trigger_tool_change", ctx);
  ASSERT_TRUE(server_.find_tool("test_dynamic_tool"));
  EXPECT_FALSE(server_.find_tool("test_dynamic_tool")->description.empty());
  call("test_trigger_tool_change", ctx);
  EXPECT_FALSE(server_.find_tool("test_dynamic_tool"));

  call("test_trigger_prompt_change", ctx);
  ASSERT_TRUE(server_.find_prompt("test_dynamic_prompt"));
  call("test_trigger_prompt_change", ctx);
  EXPECT_FALSE(server_.find_prompt("test_dynamic_prompt"));
}

TEST_F(ConformanceModuleTest, MrtrElicitation) {
  FakeRequestContext ctx;
  const auto first = needs_input(call("test_input_required_result_elicitation", ctx));
  EXPECT_EQ(method(first, "user_name"), "elicitation/create");
  EXPECT_EQ(first.input_requests.at("user_name").at("params").at("message"), "What is your name?");

  ctx.inputs["wrong_key"] = accepted({{"data", "wrong"}});  // missing-input-response: ask again
  needs_input(call("test_input_required_result_elicitation", ctx));
  ctx.inputs["user_name"] = 12345;  // validate-input: not an object, ask again
  needs_input(call("test_input_required_result_elicitation", ctx));
  ctx.inputs["user_name"] = accepted({{"nom", "Alice"}});  // accepted but without the field
  needs_input(call("test_input_required_result_elicitation", ctx));

  ctx.inputs["user_name"] = accepted({{"name", "Alice"}});  // extra keys stay ignored
  EXPECT_EQ(text(result(call("test_input_required_result_elicitation", ctx))), "Hello, Alice!");
  ctx.inputs["user_name"] = json::object{{"action", "cancel"}};
  EXPECT_NE(text(result(call("test_input_required_result_elicitation", ctx))).find("cancel"), std::string::npos);
}

TEST_F(ConformanceModuleTest, MrtrSamplingAndRoots) {
  FakeRequestContext ctx;
  EXPECT_EQ(method(needs_input(call("test_input_required_result_sampling", ctx)), "capital_question"),
            "sampling/createMessage");
  ctx.inputs["capital_question"] = sampled("The capital of France is Paris.");
  EXPECT_NE(text(result(call("test_input_required_result_sampling", ctx))).find("Paris"), std::string::npos);

  EXPECT_EQ(method(needs_input(call("test_input_required_result_list_roots", ctx)), "client_roots"), "roots/list");
  ctx.inputs["client_roots"] = roots_answer();
  EXPECT_NE(text(result(call("test_input_required_result_list_roots", ctx))).find("file:///test/root"), std::string::npos);
}

TEST_F(ConformanceModuleTest, MrtrRequestState) {
  FakeRequestContext ctx;
  const auto first = needs_input(call("test_input_required_result_request_state", ctx));
  ASSERT_TRUE(first.request_state);
  ctx.inputs["confirm"] = accepted({{"ok", true}});
  // Without the state the answer is not enough.
  needs_input(call("test_input_required_result_request_state", ctx));
  // State minted by another fixture is not accepted either.
  ctx.state = R"({"fixture":"multi_round","round":1})";
  needs_input(call("test_input_required_result_request_state", ctx));
  ctx.state = first.request_state;
  EXPECT_NE(text(result(call("test_input_required_result_request_state", ctx))).find("state-ok"), std::string::npos);
  ctx.state = "not json";
  needs_input(call("test_input_required_result_request_state", ctx));
}

TEST_F(ConformanceModuleTest, MrtrMultiRoundEvolvesTheState) {
  FakeRequestContext ctx;
  const auto r1 = needs_input(call("test_input_required_result_multi_round", ctx));
  ASSERT_TRUE(r1.request_state);
  EXPECT_TRUE(r1.input_requests.contains("step1"));

  FakeRequestContext round2;
  round2.state = r1.request_state;
  round2.inputs["step1"] = accepted({{"name", "Alice"}});
  const auto r2 = needs_input(call("test_input_required_result_multi_round", round2));
  ASSERT_TRUE(r2.request_state);
  EXPECT_NE(*r2.request_state, *r1.request_state);
  EXPECT_EQ(r2.input_requests.at("step2").at("params").at("message"), "Step 2: What is your favorite color?");

  FakeRequestContext round3;
  round3.state = r2.request_state;
  round3.inputs["step2"] = accepted({{"color", "blue"}});
  EXPECT_EQ(text(result(call("test_input_required_result_multi_round", round3))), "Alice's favorite color is blue.");

  // Round 3 without the colour asks again, keeping the name.
  FakeRequestContext again;
  again.state = r2.request_state;
  const auto retry = needs_input(call("test_input_required_result_multi_round", again));
  EXPECT_TRUE(retry.input_requests.contains("step2"));
  EXPECT_NE(retry.request_state->find("Alice"), std::string::npos);
}

TEST_F(ConformanceModuleTest, MrtrMultipleInputsAllAtOnceOrInParts) {
  FakeRequestContext ctx;
  const auto first = needs_input(call("test_input_required_result_multiple_inputs", ctx));
  ASSERT_TRUE(first.request_state);
  EXPECT_EQ(method(first, "user_name"), "elicitation/create");
  EXPECT_EQ(method(first, "greeting"), "sampling/createMessage");
  EXPECT_EQ(method(first, "client_roots"), "roots/list");

  FakeRequestContext all;
  all.state = first.request_state;
  all.inputs["user_name"] = accepted({{"name", "Alice"}});
  all.inputs["greeting"] = sampled("Hello there!");
  all.inputs["client_roots"] = roots_answer();
  EXPECT_EQ(text(result(call("test_input_required_result_multiple_inputs", all))),
            "Name: Alice; greeting: Hello there!; roots: file:///test/root");

  FakeRequestContext part;
  part.state = first.request_state;
  part.inputs["user_name"] = accepted({{"name", "Alice"}});
  const auto second = needs_input(call("test_input_required_result_multiple_inputs", part));
  EXPECT_FALSE(second.input_requests.contains("user_name"));
  EXPECT_EQ(second.input_requests.size(), 2u);

  FakeRequestContext rest;
  rest.state = second.request_state;
  rest.inputs["greeting"] = sampled("Hi!");
  rest.inputs["client_roots"] = roots_answer();
  EXPECT_EQ(text(result(call("test_input_required_result_multiple_inputs", rest))),
            "Name: Alice; greeting: Hi!; roots: file:///test/root");
}

TEST_F(ConformanceModuleTest, MrtrTamperedStateFixtureIssuesState) {
  FakeRequestContext ctx;
  const auto first = needs_input(call("test_input_required_result_tampered_state", ctx));
  ASSERT_TRUE(first.request_state);
  ctx.state = first.request_state;
  ctx.inputs["confirm"] = accepted({{"ok", true}});
  EXPECT_NE(text(result(call("test_input_required_result_tampered_state", ctx))).find("integrity"), std::string::npos);
}

TEST_F(ConformanceModuleTest, MrtrCapabilitiesAsksOnlyForDeclaredFeatures) {
  FakeRequestContext sampling_only;
  sampling_only.capabilities = json::object{{"sampling", json::object{}}};
  const auto ir = needs_input(call("test_input_required_result_capabilities", sampling_only));
  ASSERT_EQ(ir.input_requests.size(), 1u);
  EXPECT_EQ(method(ir, "greeting"), "sampling/createMessage");
  sampling_only.inputs["greeting"] = sampled("Hi");
  EXPECT_NE(text(result(call("test_input_required_result_capabilities", sampling_only))).find("greeting=Hi"),
            std::string::npos);

  FakeRequestContext nothing;
  nothing.capabilities = json::object{};
  EXPECT_FALSE(result(call("test_input_required_result_capabilities", nothing)).is_error);
}

TEST_F(ConformanceModuleTest, Resources) {
  FakeRequestContext ctx;
  auto read = [&](const std::string& uri) {
    auto outcome = server_.find_resource(uri)->read(ctx);
    EXPECT_TRUE(std::holds_alternative<ResourceContents>(outcome));
    return std::get<ResourceContents>(outcome).contents.at(0).as_object();
  };
  auto text_item = read("test://static-text");
  EXPECT_EQ(text_item.at("text"), "This is the content of the static text resource.");
  EXPECT_EQ(text_item.at("mimeType"), "text/plain");
  EXPECT_EQ(text_item.at("uri"), "test://static-text");
  auto blob_item = read("test://static-binary");
  EXPECT_EQ(std::string_view(blob_item.at("blob").as_string()), kPngBase64);
  EXPECT_EQ(blob_item.at("mimeType"), "image/png");
  EXPECT_EQ(read("test://watched-resource").at("mimeType"), "text/plain");

  const auto& tmpl = *server_.resource_templates().at(0);
  auto outcome = tmpl.read("test://template/123/data", {{"id", "123"}}, ctx);
  ASSERT_TRUE(std::holds_alternative<ResourceContents>(outcome));
  const auto& item = std::get<ResourceContents>(outcome).contents.at(0).as_object();
  EXPECT_EQ(item.at("uri"), "test://template/123/data");
  EXPECT_EQ(json::parse(item.at("text").as_string()),
            (json::object{{"id", "123"}, {"templateTest", true}, {"data", "Data for ID: 123"}}));
  // An id full of JSON syntax stays a string.
  auto tricky = tmpl.read("test://template/x/data", {{"id", R"(","templateTest":false,")"}}, ctx);
  const auto parsed = json::parse(std::get<ResourceContents>(tricky).contents.at(0).at("text").as_string());
  EXPECT_EQ(parsed.at("templateTest"), true);
  EXPECT_TRUE(std::holds_alternative<ResourceNotFound>(tmpl.read("test://template//data", {{"id", ""}}, ctx)));
  EXPECT_EQ(tmpl.complete("id", "4"), (std::vector<std::string>{"456"}));
}

TEST_F(ConformanceModuleTest, Prompts) {
  FakeRequestContext ctx;
  auto get = [&](const std::string& name, const std::map<std::string, std::string>& args) {
    auto outcome = server_.find_prompt(name)->get(args, ctx);
    EXPECT_TRUE(std::holds_alternative<PromptResult>(outcome)) << name;
    return std::holds_alternative<PromptResult>(outcome) ? std::get<PromptResult>(outcome).messages : json::array{};
  };
  EXPECT_EQ(get("test_simple_prompt", {}).at(0).at("content").at("text"), "This is a simple prompt for testing.");
  EXPECT_EQ(get("test_prompt_with_arguments", {{"arg1", "testValue1"}, {"arg2", "testValue2"}}).at(0).at("content").at("text"),
            "Prompt with arguments: arg1='testValue1', arg2='testValue2'");
  const auto embedded = get("test_prompt_with_embedded_resource", {{"resourceUri", "test://example-resource"}});
  EXPECT_EQ(embedded.at(0).at("content").at("type"), "resource");
  EXPECT_EQ(embedded.at(0).at("content").at("resource").at("uri"), "test://example-resource");
  EXPECT_EQ(get("test_prompt_with_image", {}).at(0).at("content").at("mimeType"), "image/png");

  const auto& with_args = *server_.find_prompt("test_prompt_with_arguments");
  ASSERT_EQ(with_args.arguments.size(), 2u);
  EXPECT_TRUE(with_args.arguments[0].required && with_args.arguments[1].required);
  EXPECT_EQ(with_args.complete("arg1", "test", {}), (std::vector<std::string>{"test", "test-value", "testing"}));
  EXPECT_EQ(with_args.complete("arg1", "par", {}), (std::vector<std::string>{"paris", "park", "party"}));
  EXPECT_TRUE(with_args.complete("arg2", "", {}).empty());

  const auto& mrtr = *server_.find_prompt("test_input_required_result_prompt");
  auto first = mrtr.get({}, ctx);
  ASSERT_TRUE(std::holds_alternative<InputRequired>(first));
  EXPECT_EQ(std::get<InputRequired>(first).input_requests.at("user_context").at("params").at("message"),
            "What context should the prompt use?");
  ctx.inputs["user_context"] = accepted({{"context", "test context"}});
  auto second = mrtr.get({}, ctx);
  ASSERT_TRUE(std::holds_alternative<PromptResult>(second));
  EXPECT_NE(json::serialize(std::get<PromptResult>(second).messages).find("test context"), std::string::npos);
}

}  // namespace
}  // namespace bastion::modules::conformance
