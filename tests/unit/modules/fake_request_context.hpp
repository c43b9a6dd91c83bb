// A RequestContext for calling module handlers directly in unit tests: it records progress,
// logs and stream closes, and serves whatever client capabilities, inputs and requestState the
// test sets.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bastion/context.hpp"

namespace bastion::modules::test_support {

class FakeRequestContext : public RequestContext {
 public:
  std::string version = "2025-11-25";
  json::object capabilities{{"sampling", json::object{}}, {"elicitation", json::object{}}, {"roots", json::object{}}};
  std::map<std::string, json::value, std::less<>> inputs;
  std::optional<std::string> state;
  bool is_cancelled = false;

  struct ProgressCall {
    double progress;
    std::optional<double> total;
    std::string message;
  };
  std::vector<ProgressCall> progress_calls;
  std::vector<std::pair<LogLevel, json::value>> logs;
  std::vector<std::chrono::milliseconds> stream_closes;

  const Principal* principal() const override { return nullptr; }
  const std::string& protocol_version() const override { return version; }
  const json::object& client_capabilities() const override { return capabilities; }
  bool client_supports(std::string_view path) const override {
    const json::object* node = &capabilities;
    while (!path.empty()) {
      const auto dot = path.find('.');
      const auto key = path.substr(0, dot);
      const auto* next = node->if_contains(key);
      if (next == nullptr || !next->is_object()) return false;
      node = &next->get_object();
      path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
    }
    return true;
  }
  void progress(double p, std::optional<double> total, std::string message) override {
    progress_calls.push_back({p, total, std::move(message)});
  }
  void log(LogLevel level, json::value data, std::string) override { logs.emplace_back(level, std::move(data)); }
  bool cancelled() const override { return is_cancelled; }
  const json::value* input(std::string_view key) const override {
    const auto it = inputs.find(key);
    return it == inputs.end() ? nullptr : &it->second;
  }
  const std::string* request_state() const override { return state ? &*state : nullptr; }
  void close_stream_for_polling(std::chrono::milliseconds retry) override { stream_closes.push_back(retry); }
};

// Typical client answers, shaped as the conformance suite sends them.
inline json::value accepted(json::object content) {
  return json::object{{"action", "accept"}, {"content", std::move(content)}};
}
inline json::value sampled(std::string text) {
  return json::object{{"role", "assistant"},
                      {"content", json::object{{"type", "text"}, {"text", std::move(text)}}},
                      {"model", "test-model"},
                      {"stopReason", "endTurn"}};
}
inline json::value roots_answer() {
  return json::object{{"roots", json::array{json::object{{"uri", "file:///test/root"}, {"name", "Test Root"}}}}};
}

}  // namespace bastion::modules::test_support
