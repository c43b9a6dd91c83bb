#include "jsonrpc/message.hpp"

#include "jsonrpc/error_codes.hpp"

namespace bastion::jsonrpc {

json::value Id::to_json() const {
  if (auto* s = std::get_if<std::string>(&value_)) return json::value(*s);
  return json::value(std::get<std::int64_t>(value_));
}

std::string Id::key() const {
  if (auto* s = std::get_if<std::string>(&value_)) return "s:" + *s;
  return "i:" + std::to_string(std::get<std::int64_t>(value_));
}

std::optional<Id> Id::from_json(const json::value& v) {
  if (v.is_string()) return Id(std::string(v.get_string()));
  if (v.is_int64()) return Id(v.get_int64());
  if (v.is_uint64()) {
    // Ids above INT64_MAX cannot round-trip as the integer the client sent; refuse them.
    return std::nullopt;
  }
  if (v.is_double()) {
    // Integers that arrived with an exponent or a trailing ".0" are still integers.
    double d = v.get_double();
    if (d == static_cast<double>(static_cast<std::int64_t>(d)) && d >= -9.2e18 && d <= 9.2e18)
      return Id(static_cast<std::int64_t>(d));
  }
  return std::nullopt;
}

Result<json::value> parse(std::string_view text, std::size_t max_depth) {
  json::parse_options opts;
  opts.max_depth = max_depth;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, {}, opts);
  if (ec) return fail(kParseError, "Parse error: " + ec.message());
  return v;
}

Result<Message> decode(const json::value& v, std::optional<Id>* id_out) {
  json::value copy = v;
  return decode(std::move(copy), id_out);
}

Result<Message> decode(json::value&& v, std::optional<Id>* id_out) {
  json::object* obj = v.if_object();
  if (!obj) return fail(kInvalidRequest, "Invalid Request: a message must be a JSON object");

  std::optional<Id> id;
  const json::value* idv = obj->if_contains("id");
  if (idv && !idv->is_null()) {
    id = Id::from_json(*idv);
    if (id && id_out) *id_out = id;
  }
  const json::value* ver = obj->if_contains("jsonrpc");
  if (!ver || !ver->is_string() || ver->get_string() != "2.0")
    return fail(kInvalidRequest, "Invalid Request: jsonrpc must be \"2.0\"");

  const json::value* method = obj->if_contains("method");
  if (method) {
    if (!method->is_string()) return fail(kInvalidRequest, "Invalid Request: method must be a string");
    json::object params;
    bool has_params = false;
    if (json::value* p = obj->if_contains("params")) {
      // MCP params are always objects (by-name); positional arrays are not used by any method.
      if (!p->is_object()) return fail(kInvalidRequest, "Invalid Request: params must be an object");
      params = std::move(p->get_object());
      has_params = true;
    }
    if (!idv) return Message{Notification{std::string(method->get_string()), std::move(params)}};
    if (idv->is_null()) return fail(kInvalidRequest, "Invalid Request: id must not be null");
    if (!id) return fail(kInvalidRequest, "Invalid Request: id must be a string or a 64-bit integer");
    return Message{Request{*id, std::string(method->get_string()), std::move(params), has_params}};
  }

  // A response: exactly one of result and error.
  if (!id) return fail(kInvalidRequest, "Invalid Request: response without a valid id");
  const json::value* result = obj->if_contains("result");
  const json::value* error = obj->if_contains("error");
  if ((result != nullptr) == (error != nullptr))
    return fail(kInvalidRequest, "Invalid Request: a response carries exactly one of result and error");
  Response r{*id, {}, std::nullopt};
  if (result) {
    r.result = std::move(*obj->if_contains("result"));
  } else {
    if (!error->is_object()) return fail(kInvalidRequest, "Invalid Request: error must be an object");
    r.error = std::move(obj->if_contains("error")->get_object());
  }
  return Message{std::move(r)};
}

json::object make_request(const Id& id, std::string_view method, json::object params) {
  json::object o;
  o["jsonrpc"] = "2.0";
  o["id"] = id.to_json();
  o["method"] = method;
  o["params"] = std::move(params);
  return o;
}

json::object make_notification(std::string_view method, json::object params) {
  json::object o;
  o["jsonrpc"] = "2.0";
  o["method"] = method;
  o["params"] = std::move(params);
  return o;
}

json::object make_result(const Id& id, json::value result) {
  json::object o;
  o["jsonrpc"] = "2.0";
  o["id"] = id.to_json();
  o["result"] = std::move(result);
  return o;
}

json::object make_error(const std::optional<Id>& id, int code, std::string_view message,
                        std::optional<json::value> data) {
  json::object err;
  err["code"] = code;
  err["message"] = message;
  if (data) err["data"] = std::move(*data);
  json::object o;
  o["jsonrpc"] = "2.0";
  if (id) o["id"] = id->to_json();
  else o["id"] = nullptr;
  o["error"] = std::move(err);
  return o;
}

std::string serialize(const json::value& v) { return json::serialize(v); }

}  // namespace bastion::jsonrpc
