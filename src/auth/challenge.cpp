#include "auth/challenge.hpp"

namespace bastion::auth {

std::string quote(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) continue;
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string www_authenticate(const Challenge& c) {
  std::string out = "Bearer";
  bool first = true;
  auto param = [&](std::string_view name, std::string_view value) {
    out += first ? " " : ", ";
    first = false;
    out += name;
    out += '=';
    out += quote(value);
  };
  if (!c.resource_metadata.empty()) param("resource_metadata", c.resource_metadata);
  if (!c.scopes.empty()) {
    std::string joined;
    for (const auto& s : c.scopes) {
      if (!joined.empty()) joined += ' ';
      joined += s;
    }
    param("scope", joined);
  }
  if (!c.error.empty()) param("error", c.error);
  if (!c.error_description.empty()) param("error_description", c.error_description);
  return out;
}

}  // namespace bastion::auth
