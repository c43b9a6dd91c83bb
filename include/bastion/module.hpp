// Built-in modules: named bundles of tools/resources/prompts a route can serve by name in the
// config (`modules: [demo]`). Each module registers itself into a ServerDefinition.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "bastion/server.hpp"

namespace bastion {

struct ModuleOptions {
  json::object settings;  // the module's own block from the config file
};

using ModuleFactory = std::function<void(ServerDefinition&, const ModuleOptions&)>;

struct ModuleInfo {
  std::string name;
  std::string description;
  ModuleFactory install;
};

// All built-in modules, in a fixed order.
const std::vector<ModuleInfo>& builtin_modules();
const ModuleInfo* find_builtin_module(const std::string& name);

}  // namespace bastion
