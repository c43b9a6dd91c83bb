// The "echo" tool the transport and telemetry tests serve: answers its `message` argument as
// text (empty without one), inline on the calling thread.
#pragma once

#include <string>

#include "bastion/types.hpp"

namespace bastion::testing {

inline Tool echo_tool() {
  Tool echo;
  echo.name = "echo";
  echo.description = "Echoes";
  echo.inline_handler = true;
  echo.handler = [](const json::object& a, RequestContext&) -> ToolOutcome {
    return ToolResult::text(a.contains("message") ? std::string(a.at("message").as_string()) : "");
  };
  return echo;
}

}  // namespace bastion::testing
