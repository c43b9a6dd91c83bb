// The table of built-in modules a route can name in the config (`modules: [demo]`).
#include "bastion/module.hpp"

#include "modules/conformance/conformance_module.hpp"
#include "modules/demo/demo_module.hpp"

namespace bastion {

const std::vector<ModuleInfo>& builtin_modules() {
  // A function-local static: built on first use, thread-safe, never destroyed before use.
  static const std::vector<ModuleInfo> modules = {
      {"demo", "Useful, safe example tools: echo, current_time, calculate, search_text (when a folder is configured).",
       &modules::demo::install},
      {"conformance", "The fixtures of the official MCP conformance suite. For test routes only.",
       &modules::conformance::install},
  };
  return modules;
}

const ModuleInfo* find_builtin_module(const std::string& name) {
  for (const auto& module : builtin_modules())
    if (module.name == name) return &module;
  return nullptr;
}

}  // namespace bastion
