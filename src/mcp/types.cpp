// Builders of the public API (include/bastion/types.hpp).
#include "bastion/types.hpp"

namespace bastion {
namespace {
constexpr std::string_view kLevelNames[] = {"debug", "info",     "notice", "warning",
                                            "error", "critical", "alert",  "emergency"};
}

std::string_view to_string(LogLevel level) { return kLevelNames[static_cast<int>(level)]; }

std::optional<LogLevel> parse_log_level(std::string_view text) {
  for (int i = 0; i < 8; ++i)
    if (kLevelNames[i] == text) return static_cast<LogLevel>(i);
  return std::nullopt;
}

namespace input {
json::object elicit_form(std::string message, json::object requested_schema) {
  json::object params{{"mode", "form"}, {"message", std::move(message)}, {"requestedSchema", std::move(requested_schema)}};
  return json::object{{"method", "elicitation/create"}, {"params", std::move(params)}};
}
json::object elicit_url(std::string message, std::string url, std::string elicitation_id) {
  json::object params{{"mode", "url"}, {"message", std::move(message)}, {"url", std::move(url)}};
  if (!elicitation_id.empty()) params["elicitationId"] = std::move(elicitation_id);
  return json::object{{"method", "elicitation/create"}, {"params", std::move(params)}};
}
json::object sample(json::object create_message_params) {
  return json::object{{"method", "sampling/createMessage"}, {"params", std::move(create_message_params)}};
}
json::object list_roots() { return json::object{{"method", "roots/list"}, {"params", json::object{}}}; }
}  // namespace input

namespace content {
json::object text(std::string text) { return json::object{{"type", "text"}, {"text", std::move(text)}}; }
json::object image(std::string data, std::string mime) {
  return json::object{{"type", "image"}, {"data", std::move(data)}, {"mimeType", std::move(mime)}};
}
json::object audio(std::string data, std::string mime) {
  return json::object{{"type", "audio"}, {"data", std::move(data)}, {"mimeType", std::move(mime)}};
}
json::object embedded_text(std::string uri, std::string mime, std::string text) {
  json::object res{{"uri", std::move(uri)}, {"text", std::move(text)}};
  if (!mime.empty()) res["mimeType"] = std::move(mime);
  return json::object{{"type", "resource"}, {"resource", std::move(res)}};
}
json::object embedded_blob(std::string uri, std::string mime, std::string blob) {
  json::object res{{"uri", std::move(uri)}, {"blob", std::move(blob)}};
  if (!mime.empty()) res["mimeType"] = std::move(mime);
  return json::object{{"type", "resource"}, {"resource", std::move(res)}};
}
json::object resource_link(std::string uri, std::string name, std::string mime) {
  json::object o{{"type", "resource_link"}, {"uri", std::move(uri)}, {"name", std::move(name)}};
  if (!mime.empty()) o["mimeType"] = std::move(mime);
  return o;
}
}  // namespace content

ToolResult ToolResult::text(std::string text) {
  ToolResult r;
  r.content.push_back(content::text(std::move(text)));
  return r;
}

ToolResult ToolResult::error(std::string message) {
  ToolResult r = text(std::move(message));
  r.is_error = true;
  return r;
}

ToolResult ToolResult::structured_value(json::value value) {
  ToolResult r;
  r.structured = std::move(value);
  return r;
}

}  // namespace bastion
