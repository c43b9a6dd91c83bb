#include "auth/scope_policy.hpp"

#include <algorithm>

namespace bastion::auth {

bool glob_match(std::string_view p, std::string_view t) {
  // Iterative wildcard match with one backtrack point: linear-ish, no recursion.
  std::size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (pi < p.size() && p[pi] == t[ti]) {
      ++pi;
      ++ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

namespace {

void add_all(std::vector<std::string>& out, const std::vector<std::string>& scopes) {
  for (const auto& s : scopes)
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
}

void add_matching(std::vector<std::string>& out, const std::vector<ScopeRule>& rules, std::string_view name) {
  for (const auto& r : rules)
    if (glob_match(r.pattern, name)) add_all(out, r.scopes);
}

}  // namespace

std::vector<std::string> ScopePolicy::required(std::string_view method, std::string_view name) const {
  std::vector<std::string> out;
  add_all(out, settings_.route_scopes);
  add_matching(out, settings_.methods, method);
  if (method == "tools/call") add_matching(out, settings_.tools, name);
  else if (method == "prompts/get") add_matching(out, settings_.prompts, name);
  else if (method == "resources/read" || method == "resources/subscribe") add_matching(out, settings_.resources, name);
  return out;
}

std::vector<std::string> ScopePolicy::required_for_item(ItemKind kind, std::string_view name) const {
  switch (kind) {
    case ItemKind::tool: return required("tools/call", name);
    case ItemKind::prompt: return required("prompts/get", name);
    case ItemKind::resource: return required("resources/read", name);
  }
  return {};
}

bool ScopePolicy::allows(const std::set<std::string>& held, std::string_view method, std::string_view name) const {
  auto all_held = [&](const std::vector<std::string>& scopes) {
    for (const auto& s : scopes)
      if (!held.contains(s)) return false;
    return true;
  };
  auto rules_held = [&](const std::vector<ScopeRule>& rules, std::string_view text) {
    for (const auto& r : rules)
      if (glob_match(r.pattern, text) && !all_held(r.scopes)) return false;
    return true;
  };
  if (!all_held(settings_.route_scopes) || !rules_held(settings_.methods, method)) return false;
  if (method == "tools/call") return rules_held(settings_.tools, name);
  if (method == "prompts/get") return rules_held(settings_.prompts, name);
  if (method == "resources/read" || method == "resources/subscribe") return rules_held(settings_.resources, name);
  return true;
}

bool ScopePolicy::satisfied(const std::set<std::string>& held, const std::vector<std::string>& required) {
  return std::all_of(required.begin(), required.end(), [&](const std::string& s) { return held.contains(s); });
}

}  // namespace bastion::auth
