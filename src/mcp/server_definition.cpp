#include <algorithm>
#include <stdexcept>

#include "bastion/server.hpp"
#include "mcp/param_headers.hpp"
#include "mcp/schema.hpp"

namespace bastion {
namespace {

// MCP 2025-11-25 server/tools.mdx §Tool Names: 1-128 characters of [A-Za-z0-9_.-].
bool valid_tool_name(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  for (unsigned char c : name)
    if (!(std::isalnum(c) || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

template <class T, class Key>
bool contains_key(const std::vector<std::shared_ptr<const T>>& items, const Key& key, std::string T::*field) {
  for (const auto& item : items)
    if ((*item).*field == key) return true;
  return false;
}

}  // namespace

void ServerDefinition::add_tool(Tool tool) {
  if (!valid_tool_name(tool.name)) throw std::invalid_argument("invalid tool name: '" + tool.name + "'");
  if (!tool.handler) throw std::invalid_argument("tool '" + tool.name + "' has no handler");
  // inputSchema MUST be a JSON Schema object with root type "object" (server/tools.mdx).
  const json::value* type = tool.input_schema.if_contains("type");
  if (!type || !type->is_string() || type->get_string() != "object")
    throw std::invalid_argument("tool '" + tool.name + "': inputSchema must have type \"object\"");
  if (auto problem = mcp::check_schema(tool.input_schema))
    throw std::invalid_argument("tool '" + tool.name + "': inputSchema: " + *problem);
  // x-mcp-header annotations that break their constraints make the tool definition invalid
  // (2026-07-28 transports/streamable-http.mdx §Schema Extension).
  if (auto headers = mcp::param_headers(tool.input_schema); !headers)
    throw std::invalid_argument("tool '" + tool.name + "': inputSchema: " + headers.error());
  if (tool.output_schema)
    if (auto problem = mcp::check_schema(*tool.output_schema))
      throw std::invalid_argument("tool '" + tool.name + "': outputSchema: " + *problem);
  {
    std::lock_guard lock(mutex_);
    if (contains_key(tools_, tool.name, &Tool::name))
      throw std::invalid_argument("duplicate tool name: '" + tool.name + "'");
    tools_.push_back(std::make_shared<const Tool>(std::move(tool)));
  }
  notify([](CatalogueObserver& o) { o.tools_changed(); });
}

bool ServerDefinition::remove_tool(const std::string& name) {
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(tools_.begin(), tools_.end(), [&](auto& t) { return t->name == name; });
    if (it == tools_.end()) return false;
    tools_.erase(it);
  }
  notify([](CatalogueObserver& o) { o.tools_changed(); });
  return true;
}

void ServerDefinition::add_resource(Resource resource) {
  if (resource.uri.empty() || !resource.read) throw std::invalid_argument("resource needs a uri and a reader");
  {
    std::lock_guard lock(mutex_);
    if (contains_key(resources_, resource.uri, &Resource::uri))
      throw std::invalid_argument("duplicate resource uri: '" + resource.uri + "'");
    resources_.push_back(std::make_shared<const Resource>(std::move(resource)));
  }
  notify([](CatalogueObserver& o) { o.resources_changed(); });
}

void ServerDefinition::add_resource_template(ResourceTemplate tmpl) {
  if (tmpl.uri_template.empty() || !tmpl.read) throw std::invalid_argument("resource template needs a uriTemplate and a reader");
  {
    std::lock_guard lock(mutex_);
    templates_.push_back(std::make_shared<const ResourceTemplate>(std::move(tmpl)));
  }
  notify([](CatalogueObserver& o) { o.resources_changed(); });
}

void ServerDefinition::add_prompt(Prompt prompt) {
  if (prompt.name.empty() || !prompt.get) throw std::invalid_argument("prompt needs a name and a handler");
  {
    std::lock_guard lock(mutex_);
    if (contains_key(prompts_, prompt.name, &Prompt::name))
      throw std::invalid_argument("duplicate prompt name: '" + prompt.name + "'");
    prompts_.push_back(std::make_shared<const Prompt>(std::move(prompt)));
  }
  notify([](CatalogueObserver& o) { o.prompts_changed(); });
}

bool ServerDefinition::remove_prompt(const std::string& name) {
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(prompts_.begin(), prompts_.end(), [&](auto& p) { return p->name == name; });
    if (it == prompts_.end()) return false;
    prompts_.erase(it);
  }
  notify([](CatalogueObserver& o) { o.prompts_changed(); });
  return true;
}

std::vector<std::shared_ptr<const Tool>> ServerDefinition::tools() const {
  std::lock_guard lock(mutex_);
  return tools_;
}
std::vector<std::shared_ptr<const Resource>> ServerDefinition::resources() const {
  std::lock_guard lock(mutex_);
  return resources_;
}
std::vector<std::shared_ptr<const ResourceTemplate>> ServerDefinition::resource_templates() const {
  std::lock_guard lock(mutex_);
  return templates_;
}
std::vector<std::shared_ptr<const Prompt>> ServerDefinition::prompts() const {
  std::lock_guard lock(mutex_);
  return prompts_;
}

std::shared_ptr<const Tool> ServerDefinition::find_tool(const std::string& name) const {
  std::lock_guard lock(mutex_);
  for (const auto& t : tools_)
    if (t->name == name) return t;
  return nullptr;
}
bool ServerDefinition::has_tool(std::string_view name) const {
  std::lock_guard lock(mutex_);
  return std::any_of(tools_.begin(), tools_.end(), [&](const auto& t) { return t->name == name; });
}
std::shared_ptr<const Resource> ServerDefinition::find_resource(const std::string& uri) const {
  std::lock_guard lock(mutex_);
  for (const auto& r : resources_)
    if (r->uri == uri) return r;
  return nullptr;
}
std::shared_ptr<const Prompt> ServerDefinition::find_prompt(const std::string& name) const {
  std::lock_guard lock(mutex_);
  for (const auto& p : prompts_)
    if (p->name == name) return p;
  return nullptr;
}

bool ServerDefinition::has_tools() const {
  std::lock_guard lock(mutex_);
  return !tools_.empty();
}
bool ServerDefinition::has_resources() const {
  std::lock_guard lock(mutex_);
  return !resources_.empty() || !templates_.empty();
}
bool ServerDefinition::has_prompts() const {
  std::lock_guard lock(mutex_);
  return !prompts_.empty();
}
bool ServerDefinition::has_completions() const {
  std::lock_guard lock(mutex_);
  for (const auto& p : prompts_)
    if (p->complete) return true;
  for (const auto& t : templates_)
    if (t->complete) return true;
  return false;
}

void ServerDefinition::notify_resource_updated(const std::string& uri) {
  notify([&](CatalogueObserver& o) { o.resource_updated(uri); });
}

void ServerDefinition::subscribe(std::weak_ptr<CatalogueObserver> observer) {
  std::lock_guard lock(mutex_);
  // Drop observers that are gone, but only when the list has doubled since the last sweep:
  // sweeping on every subscribe made opening n sessions cost O(n^2).
  if (observers_.size() >= prune_at_) {
    std::erase_if(observers_, [](auto& w) { return w.expired(); });
    prune_at_ = std::max<std::size_t>(64, 2 * observers_.size());
  }
  observers_.push_back(std::move(observer));
}

void ServerDefinition::notify(const std::function<void(CatalogueObserver&)>& fn) {
  std::vector<std::shared_ptr<CatalogueObserver>> live;
  {
    std::lock_guard lock(mutex_);
    for (auto& w : observers_)
      if (auto s = w.lock()) live.push_back(std::move(s));
  }
  for (auto& o : live) fn(*o);  // outside the lock: observers may call back into the registry
}

}  // namespace bastion
