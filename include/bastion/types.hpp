// Public types for writing MCP servers with libbastion.
#pragma once

#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace bastion {

namespace json = boost::json;

// Who is calling, once authentication exists. Handlers receive a null pointer on routes
// without authentication. The raw token is never part of it.
struct Principal {
  std::string issuer;
  std::string subject;
  std::string client_id;
  std::set<std::string> scopes;
  std::chrono::system_clock::time_point expires_at{};
  json::object claims;  // the selected claims the route's profile keeps
};

// RFC 5424 severities, as MCP logging uses them.
enum class LogLevel { debug, info, notice, warning, error, critical, alert, emergency };
std::string_view to_string(LogLevel level);
std::optional<LogLevel> parse_log_level(std::string_view text);

// The multi-round answer of a handler that needs something from the client first
// (MCP 2026-07-28 basic/patterns/mrtr.mdx). On modern requests it is returned to the client as
// `resultType: "input_required"`; on legacy sessions the server sends each input request to the
// client itself (elicitation/create, sampling/createMessage, roots/list on the request's stream),
// then calls the handler again with the answers. Either way the handler is written once.
struct InputRequired {
  // key -> {"method": "elicitation/create" | "sampling/createMessage" | "roots/list",
  //         "params": {...}}
  json::object input_requests;
  std::optional<std::string> request_state;  // opaque to the client
};

// Builders for input requests.
namespace input {
json::object elicit_form(std::string message, json::object requested_schema);
json::object elicit_url(std::string message, std::string url, std::string elicitation_id);
json::object sample(json::object create_message_params);
json::object list_roots();
}  // namespace input

// Content block builders (MCP server/tools.mdx §Tool Result).
namespace content {
json::object text(std::string text);
json::object image(std::string base64_data, std::string mime_type);
json::object audio(std::string base64_data, std::string mime_type);
json::object embedded_text(std::string uri, std::string mime_type, std::string text);
json::object embedded_blob(std::string uri, std::string mime_type, std::string base64_blob);
json::object resource_link(std::string uri, std::string name, std::string mime_type = {});
}  // namespace content

// A tool result. `structured` is checked against the tool's outputSchema when it has one, and
// its JSON text is added as a text block when `content` is empty (for older clients).
struct ToolResult {
  json::array content;
  std::optional<json::value> structured;
  bool is_error = false;
  json::object meta;

  static ToolResult text(std::string text);
  static ToolResult error(std::string message);
  static ToolResult structured_value(json::value value);
};

class RequestContext;

using ToolOutcome = std::variant<ToolResult, InputRequired>;
using ToolHandler = std::function<ToolOutcome(const json::object& arguments, RequestContext& ctx)>;

struct Tool {
  std::string name;         // [A-Za-z0-9_.-]{1,128}
  std::string title;
  std::string description;  // required on every route the conformance suite checks
  json::object input_schema = json::object{{"type", "object"}};
  std::optional<json::object> output_schema;
  json::object annotations;  // readOnlyHint, destructiveHint, idempotentHint, openWorldHint, title
  json::array icons;
  json::object meta;
  ToolHandler handler;
  // Runs the handler on the I/O thread instead of the worker pool. Only for handlers that never
  // block, never sleep and finish in microseconds (echo, arithmetic).
  bool inline_handler = false;
};

// Resource contents: each item is {"uri", "mimeType"?, "text" | "blob"}.
struct ResourceContents {
  json::array contents;
};
struct ResourceNotFound {};
using ReadOutcome = std::variant<ResourceContents, ResourceNotFound, InputRequired>;

struct Resource {
  std::string uri;
  std::string name;
  std::string title;
  std::string description;
  std::string mime_type;
  std::optional<std::int64_t> size;
  json::object annotations;
  json::array icons;
  std::function<ReadOutcome(RequestContext& ctx)> read;
};

// An RFC 6570 level-1 template ({var} expansions); `read` gets the variables it matched.
struct ResourceTemplate {
  std::string uri_template;
  std::string name;
  std::string title;
  std::string description;
  std::string mime_type;
  json::object annotations;
  json::array icons;
  std::function<ReadOutcome(const std::string& uri, const std::map<std::string, std::string>& vars,
                            RequestContext& ctx)>
      read;
  // Completion for a template variable: (variable, typed prefix) -> candidates.
  std::function<std::vector<std::string>(const std::string& variable, const std::string& prefix)> complete;
};

struct PromptArgument {
  std::string name;
  std::string title;
  std::string description;
  bool required = false;
};

struct PromptResult {
  std::string description;
  json::array messages;  // [{"role": "user"|"assistant", "content": {...}}]
};
using PromptOutcome = std::variant<PromptResult, InputRequired>;

struct Prompt {
  std::string name;
  std::string title;
  std::string description;
  std::vector<PromptArgument> arguments;
  json::array icons;
  std::function<PromptOutcome(const std::map<std::string, std::string>& arguments, RequestContext& ctx)> get;
  // Completion for an argument: (argument, typed prefix, other arguments) -> candidates.
  std::function<std::vector<std::string>(const std::string& argument, const std::string& prefix,
                                         const std::map<std::string, std::string>& context)>
      complete;
};

}  // namespace bastion
