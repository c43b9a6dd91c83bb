#include "json_log.hpp"

namespace bastion::app {

namespace {

spdlog::level::level_enum to_spdlog(config::LogLevel level) {
  switch (level) {
    case config::LogLevel::trace: return spdlog::level::trace;
    case config::LogLevel::debug: return spdlog::level::debug;
    case config::LogLevel::info: return spdlog::level::info;
    case config::LogLevel::warn: return spdlog::level::warn;
    case config::LogLevel::error: return spdlog::level::err;
    case config::LogLevel::critical: return spdlog::level::critical;
    case config::LogLevel::off: return spdlog::level::off;
  }
  return spdlog::level::info;
}

}  // namespace

telemetry::LoggingOptions logging_options(const config::LoggingConfig& logging) {
  telemetry::LoggingOptions out;
  out.level = to_spdlog(logging.level);
  switch (logging.format) {
    case config::LogFormat::json: out.format = telemetry::LogFormat::json; break;
    case config::LogFormat::text: out.format = telemetry::LogFormat::text; break;
    case config::LogFormat::automatic: out.format = telemetry::LogFormat::automatic; break;
  }
  for (const auto& [name, level] : logging.components) out.components[name] = to_spdlog(level);
  return out;
}

void setup_logging(const config::LoggingConfig& logging) { telemetry::setup_logging(logging_options(logging)); }

}  // namespace bastion::app
