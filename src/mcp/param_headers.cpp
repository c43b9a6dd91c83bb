#include "mcp/param_headers.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace bastion::mcp {
namespace {

bool is_tchar(unsigned char c) {
  static constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return std::isalnum(c) || kSpecials.find(static_cast<char>(c)) != std::string_view::npos;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The single primitive type a property declares ("null" alongside it is allowed), or "".
std::string primitive_type(const json::object& schema) {
  const json::value* t = schema.if_contains("type");
  if (!t) return {};
  if (t->is_string()) return std::string(t->get_string());
  if (const json::array* list = t->if_array()) {
    std::string found;
    for (const auto& item : *list) {
      if (!item.is_string()) return {};
      if (item.get_string() == "null") continue;
      if (!found.empty()) return {};
      found = std::string(item.get_string());
    }
    return found;
  }
  return {};
}

// Keywords whose value is one subschema, and those whose value is a map or a list of them
// (JSON Schema 2020-12 core §10 and validation vocabularies; draft-7 spellings included).
constexpr std::array<std::string_view, 12> kSchemaKeywords = {
    "items", "additionalItems", "additionalProperties", "unevaluatedItems", "unevaluatedProperties", "contains",
    "propertyNames", "not", "if", "then", "else", "contentSchema"};
constexpr std::array<std::string_view, 5> kSchemaMapKeywords = {"patternProperties", "$defs", "definitions",
                                                                "dependentSchemas", "dependencies"};
constexpr std::array<std::string_view, 4> kSchemaListKeywords = {"allOf", "anyOf", "oneOf", "prefixItems"};

template <std::size_t N>
bool one_of(const std::array<std::string_view, N>& set, std::string_view key) {
  return std::find(set.begin(), set.end(), key) != set.end();
}

struct Walker {
  std::vector<ParamHeader> found;
  std::string error;

  // `path` is set while the schema is reached through `properties` alone.
  void visit(const json::object& schema, const std::vector<std::string>* path) {
    if (!error.empty()) return;
    if (const json::value* annotation = schema.if_contains("x-mcp-header")) {
      if (!path || path->empty()) {
        error = "x-mcp-header is allowed only on a property reached from the root through `properties`";
        return;
      }
      if (!annotation->is_string() || !is_http_token(annotation->get_string())) {
        error = "x-mcp-header of '" + path->back() + "' must be a non-empty HTTP token";
        return;
      }
      std::string type = primitive_type(schema);
      if (type != "string" && type != "integer" && type != "boolean") {
        error = "x-mcp-header of '" + path->back() + "' needs a string, integer or boolean parameter";
        return;
      }
      std::string name(annotation->get_string());
      for (const auto& other : found)
        if (lower(other.name) == lower(name)) {
          error = "x-mcp-header '" + name + "' is used twice (names are compared ignoring case)";
          return;
        }
      found.push_back(ParamHeader{std::move(name), *path, std::move(type)});
    }
    for (const auto& [key, value] : schema) {
      if (key == "properties") {
        const json::object* props = value.if_object();
        if (!props) continue;
        for (const auto& [name, sub] : *props) {
          const json::object* sub_schema = sub.if_object();
          if (!sub_schema) continue;
          if (path) {
            std::vector<std::string> next = *path;
            next.emplace_back(name);
            visit(*sub_schema, &next);
          } else {
            visit(*sub_schema, nullptr);
          }
        }
      } else if (one_of(kSchemaKeywords, key) || one_of(kSchemaListKeywords, key)) {
        // One subschema, or a list of them (draft-7 `items` may be either).
        if (const json::object* sub = value.if_object()) visit(*sub, nullptr);
        else if (const json::array* list = value.if_array())
          for (const auto& item : *list)
            if (const json::object* s = item.if_object()) visit(*s, nullptr);
      } else if (one_of(kSchemaMapKeywords, key)) {
        if (const json::object* map = value.if_object())
          for (const auto& [_, sub] : *map)
            if (const json::object* s = sub.if_object()) visit(*s, nullptr);
      }
      // Everything else (const, enum, default, examples, ...) is data, not schema.
    }
  }
};

}  // namespace

bool is_http_token(std::string_view text) {
  if (text.empty()) return false;
  return std::all_of(text.begin(), text.end(), [](char c) { return is_tchar(static_cast<unsigned char>(c)); });
}

std::expected<std::vector<ParamHeader>, std::string> param_headers(const json::object& input_schema) {
  Walker w;
  std::vector<std::string> root;
  w.visit(input_schema, &root);
  if (!w.error.empty()) return std::unexpected(std::move(w.error));
  return std::move(w.found);
}

const json::value* param_value(const json::object& arguments, const ParamHeader& header) {
  const json::object* node = &arguments;
  const json::value* value = nullptr;
  for (std::size_t i = 0; i < header.path.size(); ++i) {
    value = node->if_contains(header.path[i]);
    if (!value) return nullptr;
    if (i + 1 < header.path.size()) {
      node = value->if_object();
      if (!node) return nullptr;
    }
  }
  return value && !value->is_null() ? value : nullptr;
}

}  // namespace bastion::mcp
