// The JSON-RPC 2.0 message model and its codec. No I/O, no MCP knowledge.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/result.hpp"

namespace bastion::jsonrpc {

namespace json = boost::json;

// A request id: a string or an integer up to 64 bits, never null (MCP-REQUIREMENTS item 2).
class Id {
 public:
  Id() = default;
  explicit Id(std::int64_t v) : value_(v) {}
  explicit Id(std::string v) : value_(std::move(v)) {}

  bool is_string() const { return std::holds_alternative<std::string>(value_); }
  json::value to_json() const;
  // A stable text form used as a map key: "i:<n>" or "s:<text>".
  std::string key() const;
  friend bool operator==(const Id&, const Id&) = default;

  static std::optional<Id> from_json(const json::value& v);

 private:
  std::variant<std::int64_t, std::string> value_{std::int64_t{0}};
};

struct Request {
  Id id;
  std::string method;
  json::object params;  // absent params decode as an empty object
  bool has_params = false;
};

struct Notification {
  std::string method;
  json::object params;
};

struct Response {
  Id id;
  json::value result;  // set when error is empty
  std::optional<json::object> error;
};

using Message = std::variant<Request, Notification, Response>;

// Decodes one message from an already parsed JSON value. Errors carry kInvalidRequest and,
// where the id could be read, that id in `id_out` so the answer can echo it.
Result<Message> decode(const json::value& v, std::optional<Id>* id_out = nullptr);
// The same, taking the parsed value over: params and results are moved, not copied.
Result<Message> decode(json::value&& v, std::optional<Id>* id_out = nullptr);

// Parses text into JSON without throwing; kParseError on malformed JSON or on nesting deeper
// than `max_depth` (a bound against stack exhaustion).
Result<json::value> parse(std::string_view text, std::size_t max_depth = 64);

json::object make_request(const Id& id, std::string_view method, json::object params);
json::object make_notification(std::string_view method, json::object params);
json::object make_result(const Id& id, json::value result);
// id may be absent only when the request's id could not be read (item 3).
json::object make_error(const std::optional<Id>& id, int code, std::string_view message,
                        std::optional<json::value> data = std::nullopt);

std::string serialize(const json::value& v);

}  // namespace bastion::jsonrpc
