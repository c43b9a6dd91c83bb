// JSON Schema validation of tool inputs and outputs (valijson, draft 7 engine).
//
// Supported: the draft-7 vocabulary (type, enum, const, properties, required,
// additionalProperties, patternProperties, items, min/max*, pattern, format is not asserted,
// allOf/anyOf/oneOf/not, if/then/else, dependencies) plus the 2020-12 spellings `$defs` and
// `$anchor` (anchors are rewritten to JSON pointers before compiling). Not supported:
// prefixItems, unevaluated*, dependentSchemas, dynamic references: such keywords are ignored.
// A `$ref` to a network URI is never fetched (MCP 2026-07-28 basic/index.mdx §$ref Resolution)
// and, like any unresolved reference, makes the schema invalid.
#pragma once

#include <boost/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bastion::mcp {

namespace json = boost::json;

class CompiledSchema {
 public:
  // Nullptr plus a reason in `error` when the schema cannot be compiled.
  static std::shared_ptr<const CompiledSchema> compile(const json::object& schema, std::string* error);
  ~CompiledSchema();

  // Empty when valid; otherwise one readable line per problem ("/path: what is wrong"),
  // capped at `max_errors`.
  std::vector<std::string> validate(const json::value& instance, std::size_t max_errors = 8) const;

 private:
  CompiledSchema();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A reason when the schema cannot be used, nullopt when it compiles.
std::optional<std::string> check_schema(const json::object& schema);

}  // namespace bastion::mcp
