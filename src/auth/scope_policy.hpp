// Which scopes an operation needs: the route's scopes, plus those of every matching MCP-method
// rule, plus those of every matching tool / prompt / resource rule. Patterns use `*` for any
// run of characters ("tools/*", "admin_*", "*"). A principal may use an operation when it holds
// every scope required (MCP authorization: the challenge names all of them at once).
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace bastion::auth {

struct ScopeRule {
  std::string pattern;
  std::vector<std::string> scopes;
};

struct ScopePolicySettings {
  std::vector<std::string> route_scopes;  // every request on the route
  std::vector<ScopeRule> methods;         // by JSON-RPC method ("tools/call", "resources/*")
  std::vector<ScopeRule> tools;           // by tool name (tools/call, and tools/list filtering)
  std::vector<ScopeRule> prompts;         // by prompt name (prompts/get)
  std::vector<ScopeRule> resources;       // by resource URI (resources/read)
};

enum class ItemKind { tool, prompt, resource };

bool glob_match(std::string_view pattern, std::string_view text);

class ScopePolicy {
 public:
  explicit ScopePolicy(ScopePolicySettings settings) : settings_(std::move(settings)) {}

  // Scopes required for `method` on the item `name` (tool/prompt name or resource URI; empty
  // for methods without one). Ordered, without duplicates.
  std::vector<std::string> required(std::string_view method, std::string_view name) const;
  // Scopes required to use one item (its call/get/read method included).
  std::vector<std::string> required_for_item(ItemKind kind, std::string_view name) const;

  static bool satisfied(const std::set<std::string>& held, const std::vector<std::string>& required);
  // satisfied(held, required(method, name)) without building the list (the per-request path).
  bool allows(const std::set<std::string>& held, std::string_view method, std::string_view name) const;

  const ScopePolicySettings& settings() const { return settings_; }

 private:
  ScopePolicySettings settings_;
};

}  // namespace bastion::auth
