// Logging set-up from the config: JSON lines on stderr (or text on a terminal), a level per
// component (telemetry/log.hpp does the work). stdout is kept for the banner (serve) or for MCP
// messages only (stdio).
#pragma once

#include "config/config.hpp"
#include "telemetry/log.hpp"

namespace bastion::app {

telemetry::LoggingOptions logging_options(const config::LoggingConfig& logging);

// Makes the default spdlog logger and the component loggers write to stderr as configured.
void setup_logging(const config::LoggingConfig& logging);

}  // namespace bastion::app
