// Logs as one JSON object per line on stderr (DESIGN.md §4: JSON log lines). stdout is kept for
// the banner (serve) or for MCP messages only (stdio).
#pragma once

#include <memory>

#include <spdlog/formatter.h>

#include "config/config.hpp"

namespace bastion::app {

// {"time":"2025-01-01T12:00:00.123Z","level":"info","logger":"bastion","message":"..."}
class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

// Makes the default spdlog logger a JSON-lines logger on stderr at `level`.
void setup_logging(config::LogLevel level);

}  // namespace bastion::app
