// Fixture texts, names and argument names follow the scenario descriptions of the conformance
// suite (src/scenarios/server/*.ts in modelcontextprotocol/conformance); comments name the
// scenario each fixture serves.
//
// How the fixtures that need the client are written: a handler never blocks on the client. It
// returns InputRequired; on legacy sessions the framework sends the requests on the call's own
// SSE stream and calls the handler again with the answers (ctx.input), on the 2026-07-28 wire
// the InputRequired goes back to the client as an MRTR `input_required` result and the client
// retries with `inputResponses`. Either way: "answer present and well-formed -> result, else ask".
#include "modules/conformance/conformance_module.hpp"

#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "modules/conformance/media.hpp"

namespace bastion::modules::conformance {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kLogger = "conformance";

// ---- small builders -----------------------------------------------------------------------

json::object no_arguments() { return json::object{{"type", "object"}, {"properties", json::object{}}}; }

json::object string_arguments(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  json::object properties;
  json::array required;
  for (const auto& [name, description] : fields) {
    properties[name] = json::object{{"type", "string"}, {"description", description}};
    required.push_back(json::string(name));
  }
  return json::object{{"type", "object"}, {"properties", std::move(properties)}, {"required", std::move(required)}};
}

Tool make_tool(std::string name, std::string description, ToolHandler handler, json::object schema = no_arguments()) {
  Tool tool;
  tool.name = std::move(name);
  tool.description = std::move(description);
  tool.input_schema = std::move(schema);
  tool.handler = std::move(handler);
  return tool;
}

// An elicitation form with one required string field.
json::object one_string_field(std::string_view field) {
  return json::object{{"type", "object"},
                      {"properties", json::object{{field, json::object{{"type", "string"}}}}},
                      {"required", json::array{json::string(field)}}};
}

json::object sampling_params(std::string_view prompt, int max_tokens) {
  return json::object{
      {"messages", json::array{json::object{{"role", "user"}, {"content", json::object{{"type", "text"}, {"text", prompt}}}}}},
      {"maxTokens", max_tokens}};
}

json::object user_message(json::object content) {
  return json::object{{"role", "user"}, {"content", std::move(content)}};
}

std::string argument(const json::object& arguments, std::string_view key) {
  if (const auto* v = arguments.if_contains(key); v && v->is_string()) return std::string(v->get_string());
  return {};
}

std::string prompt_argument(const std::map<std::string, std::string>& arguments, const std::string& key) {
  const auto it = arguments.find(key);
  return it == arguments.end() ? std::string() : it->second;
}

// ---- reading the client's answers ---------------------------------------------------------
// Answers are client data: each reader checks the shape it needs and returns nullopt otherwise,
// and the handler then asks again (MRTR: "if inputs are missing, re-ask", MCP-REQUIREMENTS 57;
// the input-required-result-validate-input scenario sends a number instead of an object).

struct ElicitAnswer {
  std::string action;                     // accept | decline | cancel
  const json::object* content = nullptr;  // only with accept, may be absent
};

std::optional<ElicitAnswer> elicit_answer(const json::value* answer) {
  if (answer == nullptr || !answer->is_object()) return std::nullopt;
  const auto& o = answer->get_object();
  const auto* action = o.if_contains("action");
  if (action == nullptr || !action->is_string()) return std::nullopt;
  ElicitAnswer out{std::string(action->get_string())};
  if (out.action != "accept" && out.action != "decline" && out.action != "cancel") return std::nullopt;
  if (const auto* content = o.if_contains("content"); content && content->is_object()) out.content = &content->get_object();
  return out;
}

std::optional<std::string> content_string(const ElicitAnswer& answer, std::string_view field) {
  if (answer.content == nullptr) return std::nullopt;
  const auto* v = answer.content->if_contains(field);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}

std::string content_json(const ElicitAnswer& answer) {
  return answer.content ? json::serialize(*answer.content) : std::string("{}");
}

// The text of a CreateMessageResult; `content` is one block or (2025-11-25) an array of blocks.
std::optional<std::string> sampled_text(const json::value* answer) {
  if (answer == nullptr || !answer->is_object()) return std::nullopt;
  const auto* content = answer->get_object().if_contains("content");
  if (content == nullptr) return std::nullopt;
  auto block_text = [](const json::value& block) -> std::optional<std::string> {
    if (!block.is_object()) return std::nullopt;
    const auto* type = block.get_object().if_contains("type");
    if (type == nullptr || !type->is_string()) return std::nullopt;
    if (type->get_string() != "text") return std::string("[") + std::string(type->get_string()) + " content]";
    const auto* text = block.get_object().if_contains("text");
    if (text == nullptr || !text->is_string()) return std::nullopt;
    return std::string(text->get_string());
  };
  if (content->is_object()) return block_text(*content);
  if (!content->is_array() || content->get_array().empty()) return std::nullopt;
  std::string joined;
  for (const auto& block : content->get_array()) {
    auto text = block_text(block);
    if (!text) return std::nullopt;
    joined += *text;
  }
  return joined;
}

// The root URIs of a ListRootsResult.
std::optional<std::vector<std::string>> root_uris(const json::value* answer) {
  if (answer == nullptr || !answer->is_object()) return std::nullopt;
  const auto* roots = answer->get_object().if_contains("roots");
  if (roots == nullptr || !roots->is_array()) return std::nullopt;
  std::vector<std::string> uris;
  for (const auto& root : roots->get_array()) {
    const auto* uri = root.is_object() ? root.get_object().if_contains("uri") : nullptr;
    if (uri == nullptr || !uri->is_string()) return std::nullopt;
    uris.emplace_back(uri->get_string());
  }
  return uris;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out.empty() ? "(none)" : out;
}

// ---- requestState -------------------------------------------------------------------------
// The state is JSON text naming the fixture it belongs to. Integrity is the framework's job: it
// seals request_state before it leaves the server and rejects a tampered one with -32602 before
// the handler runs (MCP-REQUIREMENTS 57), so ctx.request_state() can be trusted as ours. The
// fixture name is still checked so that state minted by one tool is never taken by another.

std::string make_state(std::string_view fixture, json::object fields = {}) {
  fields["fixture"] = fixture;
  return json::serialize(fields);
}

std::optional<json::object> read_state(const RequestContext& ctx, std::string_view fixture) {
  const std::string* state = ctx.request_state();
  if (state == nullptr) return std::nullopt;
  boost::system::error_code ec;
  json::value parsed = json::parse(*state, ec);
  if (ec || !parsed.is_object()) return std::nullopt;
  const auto* name = parsed.get_object().if_contains("fixture");
  if (name == nullptr || !name->is_string() || name->get_string() != fixture) return std::nullopt;
  return std::move(parsed.get_object());
}

std::optional<std::string> state_string(const json::object& state, std::string_view key) {
  if (const auto* v = state.if_contains(key); v && v->is_string()) return std::string(v->get_string());
  return std::nullopt;
}

// ===== 2025 wire: tools ======================================================================

void add_content_tools(ServerDefinition& server) {
  // tools-call-simple-text (called without `arguments`).
  server.add_tool(make_tool("test_simple_text", "Returns a simple text content block.",
                            [](const json::object&, RequestContext&) -> ToolOutcome {
                              return ToolResult::text("This is a simple text response for testing.");
                            }));
  // tools-call-image
  server.add_tool(make_tool("test_image_content", "Returns an image content block (a 1x1 PNG).",
                            [](const json::object&, RequestContext&) -> ToolOutcome {
                              ToolResult r;
                              r.content.push_back(content::image(std::string(kPngBase64), "image/png"));
                              return r;
                            }));
  // tools-call-audio: the check wants mimeType exactly "audio/wav".
  server.add_tool(make_tool("test_audio_content", "Returns an audio content block (a short WAV tone).",
                            [](const json::object&, RequestContext&) -> ToolOutcome {
                              ToolResult r;
                              r.content.push_back(content::audio(std::string(kWavBase64), "audio/wav"));
                              return r;
                            }));
  // tools-call-embedded-resource
  server.add_tool(make_tool("test_embedded_resource", "Returns an embedded text resource.",
                            [](const json::object&, RequestContext&) -> ToolOutcome {
                              ToolResult r;
                              r.content.push_back(content::embedded_text("test://embedded-resource", "text/plain",
                                                                         "This is an embedded resource content."));
                              return r;
                            }));
  // tools-call-mixed-content
  server.add_tool(make_tool("test_multiple_content_types", "Returns text, image and embedded resource content together.",
                            [](const json::object&, RequestContext&) -> ToolOutcome {
                              ToolResult r;
                              r.content.push_back(content::text("Multiple content types test:"));
                              r.content.push_back(content::image(std::string(kPngBase64), "image/png"));
                              r.content.push_back(content::embedded_text("test://mixed-content-resource", "application/json",
                                                                         R"({"test":"data","value":123})"));
                              return r;
                            }));
  // tools-call-error: a result with isError, not a JSON-RPC error.
  server.add_tool(make_tool("test_error_handling", "Always fails, with an error result (isError: true).",
                            [](const json::object&, RequestContext&) -> ToolOutcome {
                              return ToolResult::error("This tool intentionally returns an error for testing");
                            }));
}

void add_notification_tools(ServerDefinition& server) {
  // tools-call-with-logging: three notifications/message on the call's own stream, ~50 ms apart
  // so that the client sees them arrive during the call.
  server.add_tool(make_tool("test_tool_with_logging", "Sends three log messages while it runs.",
                            [](const json::object&, RequestContext& ctx) -> ToolOutcome {
                              ctx.log(LogLevel::info, json::value("Tool execution started"), std::string(kLogger));
                              std::this_thread::sleep_for(50ms);
                              ctx.log(LogLevel::info, json::value("Tool processing data"), std::string(kLogger));
                              std::this_thread::sleep_for(50ms);
                              ctx.log(LogLevel::info, json::value("Tool execution completed"), std::string(kLogger));
                              return ToolResult::text("Tool with logging executed successfully");
                            }));
  // tools-call-with-progress: 0, 50, 100 of 100. The framework echoes the client's progressToken
  // with its JSON type (a number from the SDK, the string "progress-test-1" in alpha.12).
  server.add_tool(make_tool("test_tool_with_progress", "Reports progress three times (0, 50 and 100 of 100).",
                            [](const json::object&, RequestContext& ctx) -> ToolOutcome {
                              ctx.progress(0, 100, "Completed step 0 of 100");
                              std::this_thread::sleep_for(50ms);
                              ctx.progress(50, 100, "Completed step 50 of 100");
                              std::this_thread::sleep_for(50ms);
                              ctx.progress(100, 100, "Completed step 100 of 100");
                              return ToolResult::text("Progress test completed");
                            }));
  // server-sse-polling (SEP-1699): end the SSE connection mid-call; the client reconnects with
  // Last-Event-ID and gets the result, which is sent after the close, replayed from the event store.
  server.add_tool(make_tool(
      "test_reconnection",
      "Closes its SSE stream in the middle of the call and sends the result after the client reconnects (SEP-1699).",
      [](const json::object&, RequestContext& ctx) -> ToolOutcome {
        ctx.close_stream_for_polling(500ms);
        // Long enough that the result is certainly produced after the stream was closed.
        std::this_thread::sleep_for(200ms);
        return ToolResult::text(
            "Reconnection test completed successfully. If you received this, the client properly reconnected "
            "after stream closure.");
      }));
}

void add_client_request_tools(ServerDefinition& server) {
  // tools-call-sampling
  server.add_tool(make_tool(
      "test_sampling", "Asks the client's model to answer the given prompt (sampling/createMessage).",
      [](const json::object& arguments, RequestContext& ctx) -> ToolOutcome {
        if (const auto* answer = ctx.input("llm_response")) {
          auto text = sampled_text(answer);
          if (!text) return ToolResult::error("The client's sampling answer has no usable content.");
          return ToolResult::text("LLM response: " + *text);
        }
        return InputRequired{{{"llm_response", input::sample(sampling_params(argument(arguments, "prompt"), 100))}}, {}};
      },
      string_arguments({{"prompt", "The prompt to send to the LLM"}})));

  // tools-call-elicitation: the client answers {username, email}.
  server.add_tool(make_tool(
      "test_elicitation", "Asks the user for a username and an email address (elicitation/create).",
      [](const json::object& arguments, RequestContext& ctx) -> ToolOutcome {
        if (const auto* raw = ctx.input("user_info")) {
          auto answer = elicit_answer(raw);
          if (!answer) return ToolResult::error("The client's elicitation answer is malformed.");
          return ToolResult::text("User response: action=" + answer->action + ", content=" + content_json(*answer));
        }
        json::object schema{
            {"type", "object"},
            {"properties", json::object{{"username", json::object{{"type", "string"}, {"description", "User's response"}}},
                                        {"email", json::object{{"type", "string"}, {"description", "User's email address"}}}}},
            {"required", json::array{"username", "email"}}};
        return InputRequired{{{"user_info", input::elicit_form(argument(arguments, "message"), std::move(schema))}}, {}};
      },
      string_arguments({{"message", "The message to show the user"}})));

  // elicitation-sep1034-defaults: a default for every primitive type.
  server.add_tool(make_tool(
      "test_elicitation_sep1034_defaults", "Asks the user to confirm a form whose fields all have defaults (SEP-1034).",
      [](const json::object&, RequestContext& ctx) -> ToolOutcome {
        if (const auto* raw = ctx.input("profile")) {
          auto answer = elicit_answer(raw);
          if (!answer) return ToolResult::error("The client's elicitation answer is malformed.");
          return ToolResult::text("Elicitation completed: action=" + answer->action + ", content=" + content_json(*answer));
        }
        json::object properties{
            {"name", json::object{{"type", "string"}, {"description", "User name"}, {"default", "John Doe"}}},
            {"age", json::object{{"type", "integer"}, {"description", "User age"}, {"default", 30}}},
            {"score", json::object{{"type", "number"}, {"description", "User score"}, {"default", 95.5}}},
            {"status", json::object{{"type", "string"},
                                    {"description", "User status"},
                                    {"enum", json::array{"active", "inactive", "pending"}},
                                    {"default", "active"}}},
            {"verified", json::object{{"type", "boolean"}, {"description", "Verification status"}, {"default", true}}}};
        json::object schema{{"type", "object"}, {"properties", std::move(properties)}, {"required", json::array{}}};
        return InputRequired{
            {{"profile", input::elicit_form("Please review and update the form fields with defaults", std::move(schema))}}, {}};
      }));

  // elicitation-sep1330-enums: all five enum shapes.
  server.add_tool(make_tool(
      "test_elicitation_sep1330_enums", "Asks the user to pick from the five enum schema variants of SEP-1330.",
      [](const json::object&, RequestContext& ctx) -> ToolOutcome {
        if (const auto* raw = ctx.input("choices")) {
          auto answer = elicit_answer(raw);
          if (!answer) return ToolResult::error("The client's elicitation answer is malformed.");
          return ToolResult::text("Elicitation completed: action=" + answer->action + ", content=" + content_json(*answer));
        }
        auto titled = [](std::initializer_list<std::pair<const char*, const char*>> options) {
          json::array out;
          for (const auto& [value, title] : options) out.push_back(json::object{{"const", value}, {"title", title}});
          return out;
        };
        json::object properties{
            {"untitledSingle", json::object{{"type", "string"},
                                            {"description", "Select one option"},
                                            {"enum", json::array{"option1", "option2", "option3"}}}},
            {"titledSingle", json::object{{"type", "string"},
                                          {"description", "Select one option with titles"},
                                          {"oneOf", titled({{"value1", "First Option"},
                                                            {"value2", "Second Option"},
                                                            {"value3", "Third Option"}})}}},
            {"legacyEnum", json::object{{"type", "string"},
                                        {"description", "Select one option (legacy)"},
                                        {"enum", json::array{"opt1", "opt2", "opt3"}},
                                        {"enumNames", json::array{"Option One", "Option Two", "Option Three"}}}},
            {"untitledMulti", json::object{{"type", "array"},
                                           {"description", "Select multiple options"},
                                           {"minItems", 1},
                                           {"maxItems", 3},
                                           {"items", json::object{{"type", "string"},
                                                                  {"enum", json::array{"option1", "option2", "option3"}}}}}},
            {"titledMulti", json::object{{"type", "array"},
                                         {"description", "Select multiple options with titles"},
                                         {"minItems", 1},
                                         {"maxItems", 3},
                                         {"items", json::object{{"anyOf", titled({{"value1", "First Choice"},
                                                                                  {"value2", "Second Choice"},
                                                                                  {"value3", "Third Choice"}})}}}}}};
        json::object schema{{"type", "object"}, {"properties", std::move(properties)}, {"required", json::array{}}};
        return InputRequired{
            {{"choices", input::elicit_form("Please select options from the enum fields", std::move(schema))}}, {}};
      }));
}

// json-schema-2020-12 (pending in both versions): the exact inputSchema of alpha.12, which is a
// superset of what 0.1.16 checks. tools/list must carry it unchanged ($schema, $defs with an
// $anchor, $ref, allOf/anyOf, if/then/else, additionalProperties: false).
void add_json_schema_tool(ServerDefinition& server) {
  json::object schema{
      {"$schema", "https://json-schema.org/draft/2020-12/schema"},
      {"type", "object"},
      {"$defs", json::object{{"address", json::object{{"$anchor", "addressDef"},
                                                      {"type", "object"},
                                                      {"properties", json::object{{"street", json::object{{"type", "string"}}},
                                                                                  {"city", json::object{{"type", "string"}}}}}}}}},
      {"properties", json::object{{"name", json::object{{"type", "string"}}},
                                  {"address", json::object{{"$ref", "#/$defs/address"}}},
                                  {"contactMethod", json::object{{"type", "string"}, {"enum", json::array{"phone", "email"}}}},
                                  {"phone", json::object{{"type", "string"}}},
                                  {"email", json::object{{"type", "string"}}}}},
      {"allOf", json::array{json::object{{"anyOf", json::array{json::object{{"required", json::array{"phone"}}},
                                                               json::object{{"required", json::array{"email"}}}}}}}},
      {"if", json::object{{"properties", json::object{{"contactMethod", json::object{{"const", "phone"}}}}},
                          {"required", json::array{"contactMethod"}}}},
      {"then", json::object{{"required", json::array{"phone"}}}},
      {"else", json::object{{"required", json::array{"email"}}}},
      {"additionalProperties", false}};
  server.add_tool(make_tool("json_schema_2020_12_tool",
                            "Tool with JSON Schema 2020-12 features ($defs, $anchor, $ref, allOf/anyOf, if/then/else).",
                            [](const json::object& arguments, RequestContext&) -> ToolOutcome {
                              return ToolResult::text("JSON Schema 2020-12 tool called with: " + json::serialize(arguments));
                            },
                            std::move(schema)));
}

// ===== 2026 wire: stateless checks and subscriptions/listen hooks ============================

// Shared by the two trigger tools: they add or remove a fixture so that the route's tool or
// prompt list really changes, and the framework pushes list_changed to open listen streams.
struct DynamicCatalogue {
  // The ServerDefinition owns every tool, and therefore this object through the handlers; it
  // outlives every call it runs (the framework drains calls before destroying a definition).
  ServerDefinition* server = nullptr;
  std::mutex mutex;  // serialises the find-then-add/remove of concurrent triggers
};

Tool dynamic_tool() {
  return make_tool("test_dynamic_tool", "Appears and disappears each time test_trigger_tool_change is called.",
                   [](const json::object&, RequestContext&) -> ToolOutcome {
                     return ToolResult::text("This tool was added by test_trigger_tool_change.");
                   });
}

Prompt dynamic_prompt() {
  Prompt p;
  p.name = "test_dynamic_prompt";
  p.description = "Appears and disappears each time test_trigger_prompt_change is called.";
  p.get = [](const std::map<std::string, std::string>&, RequestContext&) -> PromptOutcome {
    return PromptResult{"", json::array{user_message(content::text("This prompt was added by test_trigger_prompt_change."))}};
  };
  return p;
}

void add_modern_tools(ServerDefinition& server) {
  // server-stateless, sep-2575-server-rejects-undeclared-capability: the call needs the client's
  // sampling capability. With it declared the tool succeeds at once. Without it the tool asks
  // for sampling anyway, and the framework, which checks every input request against the
  // request's declared capabilities, answers -32021 MissingRequiredClientCapability with
  // data.requiredCapabilities = {"sampling": {}} and HTTP 400 (MCP-REQUIREMENTS 22, 48, 57).
  server.add_tool(make_tool("test_missing_capability",
                            "Needs the client's sampling capability; without it the call fails with -32021.",
                            [](const json::object&, RequestContext& ctx) -> ToolOutcome {
                              if (ctx.client_supports("sampling")) return ToolResult::text("Success");
                              return InputRequired{{{"sampling_check", input::sample(sampling_params("Say OK.", 10))}}, {}};
                            }));

  // sep-2575-http-server-no-independent-requests-on-stream: answers well within 600 ms; the
  // response stream may carry notifications and the input_required result, never a request.
  server.add_tool(make_tool("test_streaming_elicitation",
                            "Asks the user for a value through MRTR; the response stream never carries a request.",
                            [](const json::object&, RequestContext& ctx) -> ToolOutcome {
                              if (auto answer = elicit_answer(ctx.input("stream_value"))) {
                                return ToolResult::text("Received: action=" + answer->action +
                                                        ", content=" + content_json(*answer));
                              }
                              ctx.log(LogLevel::info, json::value("Asking the client for a value"), std::string(kLogger));
                              return InputRequired{
                                  {{"stream_value", input::elicit_form("Please enter a value", one_string_field("value"))}}, {}};
                            }));

  // sep-2575-server-no-log-without-loglevel: it always logs; the framework forwards a message
  // only when the request's _meta carries io.modelcontextprotocol/logLevel (or, on legacy
  // sessions, at the level set with logging/setLevel). No sleeps: the check waits 500 ms.
  server.add_tool(make_tool("test_logging_tool",
                            "Logs one debug, one info and one warning message; they are sent only at the level the "
                            "request asked for.",
                            [](const json::object&, RequestContext& ctx) -> ToolOutcome {
                              ctx.log(LogLevel::debug, json::value("test_logging_tool: debug message"), std::string(kLogger));
                              ctx.log(LogLevel::info, json::value("test_logging_tool: info message"), std::string(kLogger));
                              ctx.log(LogLevel::warning, json::value("test_logging_tool: warning message"),
                                      std::string(kLogger));
                              return ToolResult::text("Logged three messages (debug, info, warning).");
                            }));

  // http-custom-header-server-validation (SEP-2243): `region` is mirrored into the
  // Mcp-Param-Region request header, which the transport checks against the body (plain or
  // =?base64?...?= encoded) before the tool runs; the tool itself only echoes what it got.
  server.add_tool(make_tool(
      "test_custom_headers", "Echoes a region that clients also send in the Mcp-Param-Region header.",
      [](const json::object& args, RequestContext&) -> ToolOutcome {
        std::string region = args.contains("region") ? std::string(args.at("region").as_string()) : "";
        return ToolResult::text("region=" + region);
      },
      json::object{{"type", "object"},
                   {"properties",
                    json::object{{"region", json::object{{"type", "string"},
                                                          {"description", "Region to query"},
                                                          {"x-mcp-header", "Region"}}},
                                 {"query", json::object{{"type", "string"}, {"description", "Free text"}}}}},
                   {"required", json::array{"region"}}}));

  auto catalogue = std::make_shared<DynamicCatalogue>();
  catalogue->server = &server;

  // sep-2575-server-sends-tools-list-changed-on-subscription / honors-notification-filter.
  server.add_tool(make_tool("test_trigger_tool_change",
                            "Adds test_dynamic_tool, or removes it when present, so that the tool list changes.",
                            [catalogue](const json::object&, RequestContext&) -> ToolOutcome {
                              std::lock_guard lock(catalogue->mutex);
                              if (catalogue->server->remove_tool("test_dynamic_tool"))
                                return ToolResult::text("Removed test_dynamic_tool; the tool list changed.");
                              catalogue->server->add_tool(dynamic_tool());
                              return ToolResult::text("Added test_dynamic_tool; the tool list changed.");
                            }));
  // sep-2575-server-sends-prompts-list-changed-on-subscription.
  server.add_tool(make_tool("test_trigger_prompt_change",
                            "Adds test_dynamic_prompt, or removes it when present, so that the prompt list changes.",
                            [catalogue](const json::object&, RequestContext&) -> ToolOutcome {
                              std::lock_guard lock(catalogue->mutex);
                              if (catalogue->server->remove_prompt("test_dynamic_prompt"))
                                return ToolResult::text("Removed test_dynamic_prompt; the prompt list changed.");
                              catalogue->server->add_prompt(dynamic_prompt());
                              return ToolResult::text("Added test_dynamic_prompt; the prompt list changed.");
                            }));
}

// ===== 2026 wire: MRTR (SEP-2322) fixtures ===================================================

json::object name_question() { return input::elicit_form("What is your name?", one_string_field("name")); }
json::object confirm_question() {
  return input::elicit_form("Please confirm",
                            json::object{{"type", "object"},
                                         {"properties", json::object{{"ok", json::object{{"type", "boolean"}}}}},
                                         {"required", json::array{"ok"}}});
}

// The name from an accepted {name} form, or a stand-in when the user declined or cancelled;
// nullopt when the answer is missing or malformed (then the caller asks again).
std::optional<std::string> answered_name(const json::value* raw) {
  auto answer = elicit_answer(raw);
  if (!answer) return std::nullopt;
  if (answer->action != "accept") return std::string("anonymous (the user chose to ") + answer->action + ")";
  return content_string(*answer, "name");
}

void add_mrtr_tools(ServerDefinition& server) {
  // input-required-result-basic-elicitation, -missing-input-response (wrong key: asks again),
  // -validate-input (a number as the answer: asks again), -ignore-extra-params (extra keys are
  // never looked at), -result-type.
  server.add_tool(make_tool("test_input_required_result_elicitation",
                            "Asks for the user's name (input key user_name), then greets them.",
                            [](const json::object&, RequestContext& ctx) -> ToolOutcome {
                              if (auto name = answered_name(ctx.input("user_name"))) return ToolResult::text("Hello, " + *name + "!");
                              return InputRequired{{{"user_name", name_question()}}, {}};
                            }));

  // input-required-result-basic-sampling
  server.add_tool(make_tool("test_input_required_result_sampling",
                            "Asks the client's model for the capital of France (input key capital_question).",
                            [](const json::object&, RequestContext& ctx) -> ToolOutcome {
                              if (auto text = sampled_text(ctx.input("capital_question")))
                                return ToolResult::text("The model answered: " + *text);
                              return InputRequired{
                                  {{"capital_question", input::sample(sampling_params("What is the capital of France?", 100))}},
                                  {}};
                            }));

  // input-required-result-basic-list-roots
  server.add_tool(make_tool("test_input_required_result_list_roots",
                            "Asks the client for its roots (input key client_roots) and lists them.",
                            [](const json::object&, RequestContext& ctx) -> ToolOutcome {
                              if (auto roots = root_uris(ctx.input("client_roots")))
                                return ToolResult::text("The client shared " + std::to_string(roots->size()) +
                                                        " root(s): " + join(*roots));
                              return InputRequired{{{"client_roots", input::list_roots()}}, {}};
                            }));

  // input-required-result-request-state: the final text must contain "state-ok".
  server.add_tool(make_tool(
      "test_input_required_result_request_state",
      "Asks for a confirmation (input key confirm) together with a requestState, and checks the state it gets back.",
      [](const json::object&, RequestContext& ctx) -> ToolOutcome {
        const auto state = read_state(ctx, "request_state");
        const auto answer = elicit_answer(ctx.input("confirm"));
        if (state && answer) {
          if (answer->action != "accept") return ToolResult::text("state-ok: the user chose to " + answer->action + ".");
          const auto* ok = answer->content ? answer->content->if_contains("ok") : nullptr;
          if (ok != nullptr && ok->is_bool())
            return ToolResult::text(std::string("state-ok: confirmed=") + (ok->get_bool() ? "true" : "false"));
        }
        return InputRequired{{{"confirm", confirm_question()}}, make_state("request_state", {{"step", "confirm"}})};
      }));

  // input-required-result-multiple-input-requests: elicitation + sampling + roots in one round.
  // Answers already received travel in the (sealed) requestState, so a client that answers only
  // some keys is asked again only for the others.
  server.add_tool(make_tool(
      "test_input_required_result_multiple_inputs",
      "Asks for a name, a model-generated greeting and the client's roots in one round, then combines them.",
      [](const json::object&, RequestContext& ctx) -> ToolOutcome {
        json::object collected = read_state(ctx, "multiple_inputs").value_or(json::object{});
        if (auto name = answered_name(ctx.input("user_name"))) collected["name"] = *name;
        if (auto greeting = sampled_text(ctx.input("greeting"))) collected["greeting"] = *greeting;
        if (auto roots = root_uris(ctx.input("client_roots"))) collected["roots"] = join(*roots);

        json::object missing;
        if (!state_string(collected, "name")) missing["user_name"] = name_question();
        if (!state_string(collected, "greeting"))
          missing["greeting"] = input::sample(sampling_params("Generate a greeting", 50));
        if (!state_string(collected, "roots")) missing["client_roots"] = input::list_roots();
        if (missing.empty()) {
          return ToolResult::text("Name: " + *state_string(collected, "name") + "; greeting: " +
                                  *state_string(collected, "greeting") + "; roots: " + *state_string(collected, "roots"));
        }
        collected.erase("fixture");
        return InputRequired{std::move(missing), make_state("multiple_inputs", std::move(collected))};
      }));

  // input-required-result-multi-round: step1 (name) -> step2 (colour) -> result, with a new
  // requestState each round; the name from round 1 travels in the state of round 2.
  server.add_tool(make_tool(
      "test_input_required_result_multi_round",
      "Asks for a name, then for a favourite colour, in two rounds, then combines both answers.",
      [](const json::object&, RequestContext& ctx) -> ToolOutcome {
        const auto state = read_state(ctx, "multi_round");
        const auto name = state ? state_string(*state, "name") : std::nullopt;
        if (name) {  // round 3 (or round 2 again)
          if (auto answer = elicit_answer(ctx.input("step2"))) {
            const auto color = answer->action == "accept" ? content_string(*answer, "color") : std::string("(not given)");
            if (color) return ToolResult::text(*name + "'s favorite color is " + *color + ".");
          }
          return InputRequired{
              {{"step2", input::elicit_form("Step 2: What is your favorite color?", one_string_field("color"))}},
              make_state("multi_round", {{"round", 2}, {"name", *name}})};
        }
        if (auto step1 = answered_name(ctx.input("step1"))) {  // round 2
          return InputRequired{
              {{"step2", input::elicit_form("Step 2: What is your favorite color?", one_string_field("color"))}},
              make_state("multi_round", {{"round", 2}, {"name", *step1}})};
        }
        return InputRequired{{{"step1", input::elicit_form("Step 1: What is your name?", one_string_field("name"))}},
                             make_state("multi_round", {{"round", 1}})};
      }));

  // input-required-result-tampered-state. NEEDS THE FRAMEWORK: the integrity check itself
  // (HMAC/AEAD over request_state, bound to the principal, method and tool; -32602 on failure)
  // happens before this handler runs. The handler only ever sees state that passed it.
  server.add_tool(make_tool("test_input_required_result_tampered_state",
                            "Issues an integrity-protected requestState; a modified one is rejected with -32602.",
                            [](const json::object&, RequestContext& ctx) -> ToolOutcome {
                              const auto state = read_state(ctx, "tampered_state");
                              const auto answer = elicit_answer(ctx.input("confirm"));
                              if (state && answer)
                                return ToolResult::text("The requestState passed its integrity check; action=" +
                                                        answer->action + ".");
                              return InputRequired{{{"confirm", confirm_question()}},
                                                   make_state("tampered_state", {{"issued", true}})};
                            }));

  // input-required-result-capability-check: ask only for what this request's client declared.
  server.add_tool(make_tool(
      "test_input_required_result_capabilities",
      "Asks for input only through the client features the request declared (elicitation, sampling, roots).",
      [](const json::object&, RequestContext& ctx) -> ToolOutcome {
        const bool elicitation = ctx.client_supports("elicitation");
        const bool sampling = ctx.client_supports("sampling");
        const bool roots = ctx.client_supports("roots");
        std::vector<std::string> received;
        json::object missing;
        if (elicitation) {
          if (auto name = answered_name(ctx.input("user_name"))) received.push_back("name=" + *name);
          else missing["user_name"] = name_question();
        }
        if (sampling) {
          if (auto text = sampled_text(ctx.input("greeting"))) received.push_back("greeting=" + *text);
          else missing["greeting"] = input::sample(sampling_params("Generate a greeting", 50));
        }
        if (roots) {
          if (auto uris = root_uris(ctx.input("client_roots"))) received.push_back("roots=" + join(*uris));
          else missing["client_roots"] = input::list_roots();
        }
        if (!elicitation && !sampling && !roots)
          return ToolResult::text("The client declared none of elicitation, sampling and roots, so nothing was asked.");
        if (!missing.empty()) return InputRequired{std::move(missing), {}};
        return ToolResult::text("Received through declared capabilities only: " + join(received));
      }));
}

// ===== resources =============================================================================

void add_resources(ServerDefinition& server) {
  auto static_resource = [](std::string uri, std::string name, std::string title, std::string description,
                            std::string mime_type, json::object item) {
    Resource r;
    r.uri = std::move(uri);
    r.name = std::move(name);
    r.title = std::move(title);
    r.description = std::move(description);
    r.mime_type = std::move(mime_type);
    item["uri"] = r.uri;
    item["mimeType"] = r.mime_type;
    r.read = [item = std::move(item)](RequestContext&) -> ReadOutcome { return ResourceContents{json::array{item}}; };
    return r;
  };
  // resources-read-text (also the first resource, which the caching scenario reads).
  server.add_resource(static_resource("test://static-text", "static-text", "Static Text Resource",
                                      "A static text resource for testing.", "text/plain",
                                      {{"text", "This is the content of the static text resource."}}));
  // resources-read-binary
  server.add_resource(static_resource("test://static-binary", "static-binary", "Static Binary Resource",
                                      "A static binary resource (a PNG image) for testing.", "image/png",
                                      {{"blob", std::string(kPngBase64)}}));
  // resources-subscribe / resources-unsubscribe: subscriptions themselves are the framework's.
  server.add_resource(static_resource("test://watched-resource", "watched-resource", "Watched Resource",
                                      "A resource to subscribe to and unsubscribe from.", "text/plain",
                                      {{"text", "Watched resource content"}}));

  // resources-templates-read: the text must contain the id.
  ResourceTemplate t;
  t.uri_template = "test://template/{id}/data";
  t.name = "template";
  t.title = "Resource Template";
  t.description = "A resource template with parameter substitution.";
  t.mime_type = "application/json";
  t.read = [](const std::string& uri, const std::map<std::string, std::string>& vars, RequestContext&) -> ReadOutcome {
    const auto id = vars.find("id");
    if (id == vars.end() || id->second.empty()) return ResourceNotFound{};
    // Serialised by Boost.JSON, so whatever the id holds is escaped properly.
    const std::string text = json::serialize(
        json::object{{"id", id->second}, {"templateTest", true}, {"data", "Data for ID: " + id->second}});
    return ResourceContents{json::array{json::object{{"uri", uri}, {"mimeType", "application/json"}, {"text", text}}}};
  };
  t.complete = [](const std::string& variable, const std::string& prefix) {
    std::vector<std::string> values;
    if (variable != "id") return values;
    for (const char* id : {"123", "456", "789"})
      if (std::string_view(id).starts_with(prefix)) values.emplace_back(id);
    return values;
  };
  server.add_resource_template(std::move(t));
}

// ===== prompts ===============================================================================

void add_prompts(ServerDefinition& server) {
  // prompts-get-simple
  Prompt simple;
  simple.name = "test_simple_prompt";
  simple.title = "Simple Test Prompt";
  simple.description = "A simple prompt without arguments.";
  simple.get = [](const std::map<std::string, std::string>&, RequestContext&) -> PromptOutcome {
    return PromptResult{"", json::array{user_message(content::text("This is a simple prompt for testing."))}};
  };
  server.add_prompt(std::move(simple));

  // prompts-get-with-args, and completion-complete for argument arg1.
  Prompt with_args;
  with_args.name = "test_prompt_with_arguments";
  with_args.title = "Prompt With Arguments";
  with_args.description = "A prompt with two required arguments.";
  with_args.arguments = {PromptArgument{"arg1", "", "First test argument", true},
                         PromptArgument{"arg2", "", "Second test argument", true}};
  with_args.get = [](const std::map<std::string, std::string>& arguments, RequestContext&) -> PromptOutcome {
    return PromptResult{"", json::array{user_message(content::text("Prompt with arguments: arg1='" +
                                                                   prompt_argument(arguments, "arg1") + "', arg2='" +
                                                                   prompt_argument(arguments, "arg2") + "'"))}};
  };
  with_args.complete = [](const std::string& argument, const std::string& prefix,
                          const std::map<std::string, std::string>&) {
    std::vector<std::string> values;
    if (argument != "arg1") return values;
    for (const char* v : {"paris", "park", "party", "test", "test-value", "testing"})
      if (std::string_view(v).starts_with(prefix)) values.emplace_back(v);
    return values;
  };
  server.add_prompt(std::move(with_args));

  // prompts-get-embedded-resource
  Prompt embedded;
  embedded.name = "test_prompt_with_embedded_resource";
  embedded.title = "Prompt With Embedded Resource";
  embedded.description = "A prompt that embeds a resource.";
  embedded.arguments = {PromptArgument{"resourceUri", "", "URI of the resource to embed", true}};
  embedded.get = [](const std::map<std::string, std::string>& arguments, RequestContext&) -> PromptOutcome {
    return PromptResult{
        "", json::array{user_message(content::embedded_text(prompt_argument(arguments, "resourceUri"), "text/plain",
                                                            "Embedded resource content for testing.")),
                        user_message(content::text("Please process the embedded resource above."))}};
  };
  server.add_prompt(std::move(embedded));

  // prompts-get-with-image
  Prompt image;
  image.name = "test_prompt_with_image";
  image.title = "Prompt With Image";
  image.description = "A prompt that includes an image.";
  image.get = [](const std::map<std::string, std::string>&, RequestContext&) -> PromptOutcome {
    return PromptResult{"", json::array{user_message(content::image(std::string(kPngBase64), "image/png")),
                                        user_message(content::text("Please analyze the image above."))}};
  };
  server.add_prompt(std::move(image));

  // input-required-result-non-tool-request: MRTR on prompts/get.
  Prompt mrtr;
  mrtr.name = "test_input_required_result_prompt";
  mrtr.title = "Prompt Needing Input";
  mrtr.description = "Asks the user what context to use (input key user_context), then builds the prompt.";
  mrtr.get = [](const std::map<std::string, std::string>&, RequestContext& ctx) -> PromptOutcome {
    if (auto answer = elicit_answer(ctx.input("user_context"))) {
      const auto context = answer->action == "accept" ? content_string(*answer, "context") : std::string("none");
      if (context)
        return PromptResult{"A prompt built from the user's context",
                            json::array{user_message(content::text("Use this context: " + *context))}};
    }
    return InputRequired{{{"user_context", input::elicit_form("What context should the prompt use?",
                                                              one_string_field("context"))}},
                         {}};
  };
  server.add_prompt(std::move(mrtr));
}

}  // namespace

void install(ServerDefinition& server, const ModuleOptions& options) {
  if (!options.settings.empty()) throw std::invalid_argument("this module takes no settings");
  // Registration order is the tools/list order (deterministic, MCP-REQUIREMENTS item 42).
  add_content_tools(server);
  add_notification_tools(server);
  add_client_request_tools(server);
  add_json_schema_tool(server);
  add_modern_tools(server);
  add_mrtr_tools(server);
  add_resources(server);
  add_prompts(server);
}

}  // namespace bastion::modules::conformance
