// x-mcp-header: tool parameters that a client mirrors into `Mcp-Param-{Name}` HTTP headers so
// that gateways can route and authorize without parsing bodies (MCP 2026-07-28
// server/tools.mdx §x-mcp-header; basic/transports/streamable-http.mdx §Custom Headers from Tool
// Parameters; MCP-REQUIREMENTS items 42 and 72).
#pragma once

#include <boost/json.hpp>

#include <expected>
#include <string>
#include <vector>

namespace bastion::mcp {

namespace json = boost::json;

struct ParamHeader {
  std::string name;               // the x-mcp-header value; the header is "Mcp-Param-" + name
  std::vector<std::string> path;  // the chain of `properties` keys from the schema root
  std::string type;               // "string", "integer" or "boolean"
};

// The annotated parameters of a tool's input schema, in schema order, or why the annotations
// make the tool definition invalid: a name that is not an RFC 9110 token, a name repeated
// (ignoring case), a parameter whose type is not string/integer/boolean, or an annotation that
// is not reached from the root through `properties` alone (items, composition, conditionals,
// $ref and $defs are all excluded).
std::expected<std::vector<ParamHeader>, std::string> param_headers(const json::object& input_schema);

// The value at the parameter's path in the call arguments; nullptr when absent or null (then no
// header is expected).
const json::value* param_value(const json::object& arguments, const ParamHeader& header);

// RFC 9110 §5.6.2 token.
bool is_http_token(std::string_view text);

}  // namespace bastion::mcp
