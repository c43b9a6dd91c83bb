#include "mcp/schema.hpp"

// Without this valijson prints and calls abort() on a schema it cannot resolve; a bad schema
// must become an error, never a dead process.
#define VALIJSON_USE_EXCEPTIONS 1
#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <cstdint>
#include <map>

namespace bastion::mcp {
namespace {

std::string escape_pointer_token(std::string_view token) {
  std::string out;
  for (char c : token) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

void collect_anchors(const json::value& node, const std::string& pointer, std::map<std::string, std::string>& anchors) {
  if (const json::object* obj = node.if_object()) {
    if (const json::value* a = obj->if_contains("$anchor"); a && a->is_string())
      anchors.emplace(std::string(a->get_string()), pointer);
    for (const auto& [k, v] : *obj) collect_anchors(v, pointer + "/" + escape_pointer_token(k), anchors);
  } else if (const json::array* arr = node.if_array()) {
    for (std::size_t i = 0; i < arr->size(); ++i) collect_anchors((*arr)[i], pointer + "/" + std::to_string(i), anchors);
  }
}

// valijson's Boost.JSON adapter treats only int64 as an integer, while Boost.JSON stores a
// std::size_t (and any positive value built from an unsigned type) as uint64. Values that fit
// are turned into int64 so they validate as the integers they are. Returns whether anything
// needed converting (the caller can then skip copying).
bool has_uint64(const json::value& node) {
  if (node.is_uint64()) return true;
  if (const json::object* obj = node.if_object()) {
    for (const auto& [k, v] : *obj)
      if (has_uint64(v)) return true;
  } else if (const json::array* arr = node.if_array()) {
    for (const auto& v : *arr)
      if (has_uint64(v)) return true;
  }
  return false;
}

void uint64_to_int64(json::value& node) {
  if (node.is_uint64()) {
    if (node.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) node = static_cast<std::int64_t>(node.get_uint64());
  } else if (json::object* obj = node.if_object()) {
    for (auto& [k, v] : *obj) uint64_to_int64(v);
  } else if (json::array* arr = node.if_array()) {
    for (auto& v : *arr) uint64_to_int64(v);
  }
}

// Rewrites 2020-12 spellings into what the draft-7 engine understands; returns an error for
// references that must not be followed.
std::optional<std::string> normalise(json::value& node, const std::map<std::string, std::string>& anchors,
                                     std::size_t depth) {
  if (depth > 64) return "schema nested deeper than 64 levels";
  if (json::object* obj = node.if_object()) {
    if (json::value* ref = obj->if_contains("$ref"); ref && ref->is_string()) {
      std::string r(ref->get_string());
      if (r.starts_with("#") && r.size() > 1 && r[1] != '/') {
        auto it = anchors.find(r.substr(1));
        if (it == anchors.end()) return "unresolved $ref '" + r + "'";
        *ref = "#" + it->second;
      } else if (!r.starts_with("#")) {
        // Network and relative-document references are never dereferenced.
        return "$ref '" + r + "' points outside this schema; only local references are resolved";
      }
    }
    // The draft-7 engine knows `id`, not `$id`; a 2020-12 `$id` only names the document.
    obj->erase("$id");
    obj->erase("$schema");
    for (auto& [k, v] : *obj)
      if (auto err = normalise(v, anchors, depth + 1)) return err;
  } else if (json::array* arr = node.if_array()) {
    for (auto& v : *arr)
      if (auto err = normalise(v, anchors, depth + 1)) return err;
  }
  return std::nullopt;
}

// JSON Schema 2020-12 (or no $schema, which means 2020-12 per MCP 2025-11-25 basic/index.mdx
// §JSON Schema Usage) and draft-07 are accepted; other dialects are refused rather than
// validated with the wrong rules.
std::optional<std::string> check_dialect(const json::object& schema) {
  const json::value* s = schema.if_contains("$schema");
  if (!s) return std::nullopt;
  if (!s->is_string()) return "$schema must be a string";
  std::string_view d = s->get_string();
  if (d == "https://json-schema.org/draft/2020-12/schema" || d == "http://json-schema.org/draft-07/schema#" ||
      d == "http://json-schema.org/draft-07/schema")
    return std::nullopt;
  return "unsupported JSON Schema dialect '" + std::string(d) + "'";
}

}  // namespace

struct CompiledSchema::Impl {
  json::value document;  // valijson's schema keeps references into nothing of ours, but keep it simple
  valijson::Schema schema;
};

CompiledSchema::CompiledSchema() : impl_(std::make_unique<Impl>()) {}
CompiledSchema::~CompiledSchema() = default;

std::shared_ptr<const CompiledSchema> CompiledSchema::compile(const json::object& schema, std::string* error) {
  if (auto err = check_dialect(schema)) {
    if (error) *error = *err;
    return nullptr;
  }
  std::map<std::string, std::string> anchors;
  json::value doc = schema;
  uint64_to_int64(doc);
  collect_anchors(doc, "", anchors);
  if (auto err = normalise(doc, anchors, 0)) {
    if (error) *error = *err;
    return nullptr;
  }
  std::shared_ptr<CompiledSchema> compiled(new CompiledSchema());
  compiled->impl_->document = std::move(doc);
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::BoostJsonAdapter adapter(compiled->impl_->document);
    // No fetch callback is given, so a remote reference can only fail, never be fetched.
    parser.populateSchema(adapter, compiled->impl_->schema);
  } catch (const std::exception& e) {
    if (error) *error = std::string("invalid schema: ") + e.what();
    return nullptr;
  }
  return compiled;
}

std::vector<std::string> CompiledSchema::validate(const json::value& instance, std::size_t max_errors) const {
  valijson::Validator validator;
  valijson::ValidationResults results;
  std::optional<json::value> converted;
  if (has_uint64(instance)) {
    converted = instance;
    uint64_to_int64(*converted);
  }
  valijson::adapters::BoostJsonAdapter target(converted ? *converted : instance);
  std::vector<std::string> out;
  try {
    if (validator.validate(impl_->schema, target, &results)) return out;
  } catch (const std::exception& e) {
    out.push_back(std::string("validation failed: ") + e.what());
    return out;
  }
  valijson::ValidationResults::Error err;
  // valijson reports a chain from the outermost to the innermost failure; the innermost ones
  // (deepest context) say most about what to fix.
  std::vector<std::string> all;
  while (results.popError(err)) {
    std::string path;
    for (const auto& c : err.context) if (c != "<root>") path += c;
    all.push_back((path.empty() ? std::string("(root)") : path) + ": " + err.description);
  }
  for (auto it = all.rbegin(); it != all.rend() && out.size() < max_errors; ++it) out.push_back(*it);
  return out;
}

std::optional<std::string> check_schema(const json::object& schema) {
  std::string error;
  if (!CompiledSchema::compile(schema, &error)) return error;
  return std::nullopt;
}

}  // namespace bastion::mcp
