// Structured logging over spdlog: one JSON object per line (or a human-readable line when the
// output is a terminal), a level per component, and extra fields per line.
//
// Components are spdlog loggers sharing one sink: "bastion" (the default logger), "request"
// (one line per finished request), "http", "transport", "mcp", "telemetry", "auth",
// "authserver", "config". A component without its own level uses the global one.
//
// Fields travel to the formatter through a thread-local pointer: spdlog's synchronous loggers
// format on the calling thread, inside logger.log(), so the pointer is valid exactly then.
#pragma once

#include <boost/json/object.hpp>
#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bastion::telemetry {

enum class LogFormat { json, text, automatic };

struct LoggingOptions {
  spdlog::level::level_enum level = spdlog::level::info;
  LogFormat format = LogFormat::automatic;  // automatic: text when stderr is a terminal
  std::map<std::string, spdlog::level::level_enum> components;
};

// The component names a config may set a level for.
const std::vector<std::string>& log_components();

// Installs the default logger ("bastion") and one logger per component, on stderr.
void setup_logging(const LoggingOptions& options);
// Same, writing to `sink` (tests).
void setup_logging(const LoggingOptions& options, spdlog::sink_ptr sink);
// The sink setup_logging() puts on stderr: lines buffered and written to `fd` in large chunks,
// in the order they were logged, by the sink's own writer thread (a logger does not wait for a
// slow reader of `fd` until 2 MiB of lines are waiting); flush() returns once what was buffered
// is written. The fd stays the caller's.
spdlog::sink_ptr buffered_fd_sink(int fd);

// The logger of a component (created on first use with the configured level).
std::shared_ptr<spdlog::logger> component_logger(const std::string& name);

// Logs `message` with `fields` merged into the JSON object (or appended as key=value in text).
void log_fields(spdlog::logger& logger, spdlog::level::level_enum level, std::string_view message,
                const boost::json::object& fields);

// A field that points at data the caller keeps alive for the call: the request line's fields,
// written without building a JSON object first. Keys are trusted names (never time, level,
// logger or message); string values are escaped, except `verbatim` ones.
//
// No default member initializers: the request line fills an array of these, and initializing
// every slot first cost more than the fields written into it. The factories set every member.
struct LogField {
  enum class Kind { string, verbatim, integer, number, boolean, milliseconds };
  std::string_view key;
  Kind kind;
  std::string_view text;
  std::int64_t integer;
  double number;

  static LogField string(std::string_view k, std::string_view v) { return {k, Kind::string, v, 0, 0}; }
  // Text that needs no JSON escaping by construction, written between quotes as it is: ids and
  // digests in lowercase hex, names from a fixed set in the code. Never data from a request (a
  // quote or a line break in it would forge fields or lines; such values go through string()).
  static LogField verbatim(std::string_view k, std::string_view v) { return {k, Kind::verbatim, v, 0, 0}; }
  static LogField integral(std::string_view k, std::int64_t v) { return {k, Kind::integer, {}, v, 0}; }
  static LogField real(std::string_view k, double v) { return {k, Kind::number, {}, 0, v}; }
  static LogField flag(std::string_view k, bool v) { return {k, Kind::boolean, {}, v ? 1 : 0, 0}; }
  // A duration in milliseconds from whole microseconds, written as a decimal with up to three
  // fraction digits (12.345, 1.5, 2): what a double would show, without formatting one.
  static LogField milliseconds(std::string_view k, std::int64_t micros) {
    return {k, Kind::milliseconds, {}, micros, 0};
  }
};
// When the logger's only sink is setup_logging()'s buffered JSON sink, the line goes straight into
// that sink's buffer (the same text, levels and flushing as through spdlog, without its message).
// `time` is the line's time: a caller that read the clock already passes what it read.
void log_fields(spdlog::logger& logger, spdlog::level::level_enum level, std::string_view message,
                std::span<const LogField> fields,
                std::chrono::system_clock::time_point time = std::chrono::system_clock::now());

// {"time","level","logger","message", ...fields}, or "time LEVEL [logger] message k=v ...".
class LogFormatter final : public spdlog::formatter {
 public:
  explicit LogFormatter(bool json) : json_(json) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  // The same line (newline included) appended to `line`: for sinks that keep their own buffer.
  void append_line(const spdlog::details::log_msg& msg, std::string& line) const;
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<LogFormatter>(json_); }
  bool json() const { return json_; }

 private:
  bool json_;
};

// RFC 3339 UTC with milliseconds, e.g. 2025-01-01T12:00:00.123Z.
std::string rfc3339(std::chrono::system_clock::time_point time);
std::string rfc3339_now();

}  // namespace bastion::telemetry
