// A server definition: what one MCP route serves. Built once, then shared immutably by all
// sessions; list changes are announced through the notify_* calls.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "bastion/context.hpp"
#include "bastion/types.hpp"

namespace bastion {

struct ServerInfo {
  std::string name = "bastion";
  std::string version = "0.0.0";
  std::string title;
  std::string description;
  std::string website_url;
  json::array icons;
};

// Observers of catalogue changes (sessions subscribe; the registry never blocks on them).
class CatalogueObserver {
 public:
  virtual ~CatalogueObserver() = default;
  virtual void tools_changed() = 0;
  virtual void prompts_changed() = 0;
  virtual void resources_changed() = 0;
  virtual void resource_updated(const std::string& uri) = 0;
};

class ServerDefinition {
 public:
  ServerDefinition() = default;
  ServerDefinition(const ServerDefinition&) = delete;
  ServerDefinition& operator=(const ServerDefinition&) = delete;

  ServerInfo info;
  std::string instructions;
  // Capabilities are derived from what is registered; these switch on the optional parts.
  bool logging = true;

  // Registration. Throws std::invalid_argument for an invalid name, a duplicate or an input
  // schema that is not a JSON object with type "object" (a programming error, caught at start-up).
  void add_tool(Tool tool);
  void add_resource(Resource resource);
  void add_resource_template(ResourceTemplate tmpl);
  void add_prompt(Prompt prompt);
  bool remove_tool(const std::string& name);
  bool remove_prompt(const std::string& name);

  // Snapshots in registration order (deterministic, MCP-REQUIREMENTS item 42).
  std::vector<std::shared_ptr<const Tool>> tools() const;
  std::vector<std::shared_ptr<const Resource>> resources() const;
  std::vector<std::shared_ptr<const ResourceTemplate>> resource_templates() const;
  std::vector<std::shared_ptr<const Prompt>> prompts() const;
  std::shared_ptr<const Tool> find_tool(const std::string& name) const;
  // Whether a tool of that name exists (no copy of the name or of the tool).
  bool has_tool(std::string_view name) const;
  std::shared_ptr<const Resource> find_resource(const std::string& uri) const;
  std::shared_ptr<const Prompt> find_prompt(const std::string& name) const;

  bool has_tools() const;
  bool has_resources() const;
  bool has_prompts() const;
  bool has_completions() const;

  // Announce changes to every subscribed session.
  void notify_resource_updated(const std::string& uri);
  void subscribe(std::weak_ptr<CatalogueObserver> observer);

 private:
  void notify(const std::function<void(CatalogueObserver&)>& fn);

  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<const Tool>> tools_;
  std::vector<std::shared_ptr<const Resource>> resources_;
  std::vector<std::shared_ptr<const ResourceTemplate>> templates_;
  std::vector<std::shared_ptr<const Prompt>> prompts_;
  std::vector<std::weak_ptr<CatalogueObserver>> observers_;
  std::size_t prune_at_ = 64;  // sweep expired observers when the list reaches this size
};

}  // namespace bastion
