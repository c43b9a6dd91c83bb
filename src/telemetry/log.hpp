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

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_text.hpp"

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

// Fields whose keys and kinds are fixed in the code (the request line) are described once, by a
// function that calls text(), verbatim(), integer(), flag() and milliseconds() on any of the
// three classes below: JsonFieldsBound sizes them, JsonFieldsWriter writes them as JSON straight
// into a log buffer (log_json_fields), and LogFieldList collects LogFields for the other
// outputs (log_fields). The JSON path then builds no array and dispatches on no kind per field.

// One JSON value per call, into memory its caller sized (JsonFieldsBound's value sizes).
class JsonValueWriter {
 public:
  explicit JsonValueWriter(char* out) : at_(out) {}
  void text(std::string_view value) { at_ = core::write_json_string(at_, value); }
  // LogField::verbatim's contract: the value needs no escaping by construction.
  [[gnu::always_inline]] void verbatim(std::string_view value) {
    *at_++ = '"';
    at_ = core::copy_bytes(at_, value.data(), value.size());
    *at_++ = '"';
  }
  void integer(std::int64_t value) { at_ = write_integer(at_, value); }
  void real(double value);  // JSON has no NaN or infinity: those are null
  void flag(bool value) { at_ = value ? core::copy_bytes(at_, "true", 4) : core::copy_bytes(at_, "false", 5); }
  // Milliseconds from whole microseconds, with up to three fraction digits (LogField::milliseconds).
  void milliseconds(std::int64_t micros) { at_ = write_milliseconds(at_, micros); }
  // The same, as functions of the cursor (JsonFieldsWriter keeps its own).
  static char* write_integer(char* out, std::int64_t value);
  static char* write_milliseconds(char* out, std::int64_t micros);
  [[gnu::always_inline]] void raw(std::string_view s) { at_ = core::copy_bytes(at_, s.data(), s.size()); }
  char* end() const { return at_; }

  static constexpr std::size_t kNumberBound = 32;  // the shortest form of any double or int64

 private:
  char* at_;
};

// Keys are string literals (`Key` is the literal's array type): their lengths are then known
// where each field is written, and a key's text goes into the line as a few stores of constant
// size, with no branch on its length.
template <std::size_t N>
using Key = char[N];

// Writes `,"key":value` for each call into memory sized by JsonFieldsBound over the same calls.
// Inlined where the fields are described, with the cursor in a register: out of line, each call
// reloaded the cursor after every store through it (a char store may alias anything), and each
// copy of a key or value of unknown length branched on its size. Measured on the request line:
// about 560 instructions fewer per request (callgrind, 70,592 -> 70,032), and with two I/O
// threads under bench/run.sh's load 1.5% less CPU per request (ahead in 11 of 12 alternating
// rounds). An earlier out-of-line build had been chosen for fewer simulated instruction-cache
// misses, which measured at about half a nanosecond each (docs/operations.md).
class JsonFieldsWriter {
 public:
  explicit JsonFieldsWriter(char* out) : at_(out) {}
  template <std::size_t N>
  [[gnu::always_inline]] void text(const Key<N>& k, std::string_view value) {
    key(k);
    at_ = core::write_json_string(at_, value);
  }
  template <std::size_t N>
  [[gnu::always_inline]] void verbatim(const Key<N>& k, std::string_view value) {
    key(k);
    *at_++ = '"';
    at_ = core::copy_bytes(at_, value.data(), value.size());
    *at_++ = '"';
  }
  // A value of one fixed length when not empty (an id or a digest: `Fixed::kSize`), copied as
  // that many bytes: a few moves instead of a branch on its length or a call to memcpy.
  template <std::size_t N, class Fixed>
    requires requires { Fixed::kSize; }
  [[gnu::always_inline]] void verbatim(const Key<N>& k, const Fixed& value) {
    key(k);
    *at_++ = '"';
    std::memcpy(at_, value.view().data(), Fixed::kSize);
    at_ += Fixed::kSize;
    *at_++ = '"';
  }
  template <std::size_t N>
  [[gnu::always_inline]] void integer(const Key<N>& k, std::int64_t value) {
    key(k);
    at_ = JsonValueWriter::write_integer(at_, value);
  }
  template <std::size_t N>
  [[gnu::always_inline]] void real(const Key<N>& k, double value) {
    key(k);
    JsonValueWriter w(at_);
    w.real(value);
    at_ = w.end();
  }
  template <std::size_t N>
  [[gnu::always_inline]] void flag(const Key<N>& k, bool value) {
    key(k);
    at_ = value ? core::copy_bytes(at_, "true", 4) : core::copy_bytes(at_, "false", 5);
  }
  template <std::size_t N>
  [[gnu::always_inline]] void milliseconds(const Key<N>& k, std::int64_t micros) {
    key(k);
    at_ = JsonValueWriter::write_milliseconds(at_, micros);
  }
  char* end() const { return at_; }

 private:
  template <std::size_t N>
  [[gnu::always_inline]] void key(const Key<N>& k) {
    at_ = core::copy_bytes(at_, ",\"", 2);
    at_ = core::copy_bytes(at_, k, N - 1);
    at_ = core::copy_bytes(at_, "\":", 2);
  }
  char* at_;
};

// The most bytes JsonFieldsWriter writes for the same calls.
class JsonFieldsBound {
 public:
  template <std::size_t N>
  void text(const Key<N>&, std::string_view value) { add<N>(core::json_string_bound(value.size())); }
  template <std::size_t N>
  void verbatim(const Key<N>&, std::string_view value) { add<N>(value.size() + 2); }
  template <std::size_t N>
  void integer(const Key<N>&, std::int64_t) { add<N>(JsonValueWriter::kNumberBound); }
  template <std::size_t N>
  void real(const Key<N>&, double) { add<N>(JsonValueWriter::kNumberBound); }
  template <std::size_t N>
  void flag(const Key<N>&, bool) { add<N>(5); }
  template <std::size_t N>
  void milliseconds(const Key<N>&, std::int64_t) { add<N>(JsonValueWriter::kNumberBound); }
  std::size_t size() const { return size_; }

 private:
  template <std::size_t N>
  void add(std::size_t value) { size_ += (N - 1) + 4 + value; }
  std::size_t size_ = 0;
};

// The same calls as LogFields, up to kCapacity of them (more are dropped).
class LogFieldList {
 public:
  static constexpr std::size_t kCapacity = 32;
  template <std::size_t N>
  void text(const Key<N>& key, std::string_view value) { push(LogField::string({key, N - 1}, value)); }
  template <std::size_t N>
  void verbatim(const Key<N>& key, std::string_view value) { push(LogField::verbatim({key, N - 1}, value)); }
  template <std::size_t N>
  void integer(const Key<N>& key, std::int64_t value) { push(LogField::integral({key, N - 1}, value)); }
  template <std::size_t N>
  void real(const Key<N>& key, double value) { push(LogField::real({key, N - 1}, value)); }
  template <std::size_t N>
  void flag(const Key<N>& key, bool value) { push(LogField::flag({key, N - 1}, value)); }
  template <std::size_t N>
  void milliseconds(const Key<N>& key, std::int64_t micros) { push(LogField::milliseconds({key, N - 1}, micros)); }
  std::span<const LogField> fields() const { return {fields_.data(), size_}; }

 private:
  void push(const LogField& f) {
    if (size_ < fields_.size()) fields_[size_++] = f;
  }
  std::array<LogField, kCapacity> fields_;
  std::size_t size_ = 0;
};

// A JSON line of fields written by `write_fields` (a JsonFieldsWriter's work: at most
// `fields_bound` bytes from `out`, returning the end), straight into the buffer of
// setup_logging()'s JSON sink when it is the logger's only sink: true then (the line is
// logged, or the level is off). False when the output is another (text, a test's sink): nothing
// is logged, and the caller logs the same fields through log_fields.
using WriteFields = char* (*)(const void* context, char* out);
bool log_json_fields(spdlog::logger& logger, spdlog::level::level_enum level, std::string_view message,
                     std::size_t fields_bound, WriteFields write_fields, const void* context,
                     std::chrono::system_clock::time_point time);

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
