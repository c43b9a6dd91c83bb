#include "mcp/uri_template.hpp"

#include <vector>

namespace bastion::mcp {
namespace {

constexpr std::size_t kMaxMatchedUriLength = 4096;

struct Part {
  bool variable;
  bool reserved;     // {+var}
  std::string text;  // literal text, or the variable name
};

std::optional<std::vector<Part>> split(std::string_view t) {
  std::vector<Part> parts;
  std::size_t i = 0;
  while (i < t.size()) {
    if (t[i] == '{') {
      auto end = t.find('}', i);
      if (end == std::string_view::npos) return std::nullopt;
      std::string_view name = t.substr(i + 1, end - i - 1);
      bool reserved = !name.empty() && name[0] == '+';
      if (reserved) name.remove_prefix(1);
      if (name.empty()) return std::nullopt;
      parts.push_back({true, reserved, std::string(name)});
      i = end + 1;
    } else {
      auto next = t.find('{', i);
      if (next == std::string_view::npos) next = t.size();
      parts.push_back({false, false, std::string(t.substr(i, next - i))});
      i = next;
    }
  }
  return parts;
}

bool match_from(const std::vector<Part>& parts, std::size_t p, std::string_view uri,
                std::map<std::string, std::string>& vars) {
  if (p == parts.size()) return uri.empty();
  const Part& part = parts[p];
  if (!part.variable) {
    if (!uri.starts_with(part.text)) return false;
    return match_from(parts, p + 1, uri.substr(part.text.size()), vars);
  }
  // Try every non-empty length for the variable; templates are short, so this stays cheap.
  for (std::size_t len = 1; len <= uri.size(); ++len) {
    char c = uri[len - 1];
    if (!part.reserved && (c == '/' || c == '?' || c == '#')) break;
    vars[part.text] = std::string(uri.substr(0, len));
    if (match_from(parts, p + 1, uri.substr(len), vars)) return true;
  }
  vars.erase(part.text);
  return false;
}

}  // namespace

std::optional<std::map<std::string, std::string>> match_uri_template(std::string_view uri_template,
                                                                     std::string_view uri) {
  // Matching backtracks over variable lengths; bounding the URI bounds the work an attacker can
  // cause with a long URI.
  if (uri.size() > kMaxMatchedUriLength) return std::nullopt;
  auto parts = split(uri_template);
  if (!parts) return std::nullopt;
  std::map<std::string, std::string> vars;
  if (!match_from(*parts, 0, uri, vars)) return std::nullopt;
  return vars;
}

}  // namespace bastion::mcp
