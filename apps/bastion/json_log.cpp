#include "json_log.hpp"

#include <boost/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>

namespace bastion::app {

namespace {

std::string utc_timestamp(std::chrono::system_clock::time_point time) {
  const auto seconds = std::chrono::time_point_cast<std::chrono::seconds>(time);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(time - seconds).count();
  const std::time_t t = std::chrono::system_clock::to_time_t(seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buffer[40];
  const std::size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  return std::string(buffer, n) + "." + (millis < 100 ? (millis < 10 ? "00" : "0") : "") + std::to_string(millis) + "Z";
}

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

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  boost::json::object record;
  record["time"] = utc_timestamp(msg.time);
  const auto level = spdlog::level::to_string_view(msg.level);
  record["level"] = boost::json::string_view(level.data(), level.size());
  record["logger"] = boost::json::string_view(msg.logger_name.data(), msg.logger_name.size());
  // serialize() escapes control characters and quotes, so a message can never break the line.
  record["message"] = boost::json::string_view(msg.payload.data(), msg.payload.size());
  const std::string line = boost::json::serialize(record);
  dest.append(line.data(), line.data() + line.size());
  dest.push_back('\n');
}

std::unique_ptr<spdlog::formatter> JsonLogFormatter::clone() const { return std::make_unique<JsonLogFormatter>(); }

void setup_logging(config::LogLevel level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink->set_formatter(std::make_unique<JsonLogFormatter>());
  auto logger = std::make_shared<spdlog::logger>("bastion", std::move(sink));
  logger->set_level(to_spdlog(level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace bastion::app
