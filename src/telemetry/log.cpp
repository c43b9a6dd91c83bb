#include "telemetry/log.hpp"

#include <unistd.h>

#include <boost/json.hpp>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <cerrno>

#include <charconv>
#include <chrono>
#include <cmath>
#include <ctime>
#include <mutex>

#include "core/json_text.hpp"

namespace bastion::telemetry {

namespace json = boost::json;

namespace {

thread_local const json::object* tl_fields = nullptr;
thread_local std::span<const LogField> tl_list;

using core::append_json_string;

void append_field_value(std::string& out, const LogField& f) {
  switch (f.kind) {
    case LogField::Kind::string: append_json_string(out, f.text); break;
    case LogField::Kind::integer: core::append_decimal(out, f.integer); break;
    case LogField::Kind::boolean: out += f.integer ? "true" : "false"; break;
    case LogField::Kind::number: {
      if (!std::isfinite(f.number)) {
        out += "null";  // JSON has no NaN or infinity
        break;
      }
      char buffer[32];
      auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, f.number);
      out.append(buffer, ec == std::errc() ? end : buffer);
      break;
    }
  }
}

void append_json_line(std::string& line, std::chrono::system_clock::time_point time, spdlog::level::level_enum level,
                      std::string_view logger_name, std::string_view message, std::span<const LogField> fields,
                      const json::object* object_fields);

// Standard error through a buffer: one write(2) per 256 KiB or per flush, not one per line (at
// thousands of request lines a second the syscalls would cost more than the requests). Into a
// file on ext4, each write(2) has a fixed cost (journal handle, inode update) besides the copy:
// at 32 KiB per write the request line cost about 0.9 us of the server's CPU per request under
// bench/run.sh, and 256 KiB saved about 0.7 us of that (1 MiB saved nothing more). Loggers
// flush it on every line of their flush level, spdlog's periodic flusher at least every second,
// and the destructor at exit.
//
// A full buffer is swapped for an empty one under the append lock and written outside it: a
// write(2) of 256 KiB into the page cache takes a hundred microseconds or more, and holding the
// append lock through it made the other I/O threads sleep on a futex. The write lock is taken
// before the append lock is released, so chunks reach the file in the order their lines were
// appended.
class BufferedFdSink final : public spdlog::sinks::sink {
 public:
  explicit BufferedFdSink(int fd) : fd_(fd) { buffer_.reserve(kCapacity + 4096); }
  ~BufferedFdSink() override { flush(); }

  void log(const spdlog::details::log_msg& msg) override {
    append([&](std::string& buffer) {
      // Formatted straight into the buffer: that saves a copy of every line, and holds the
      // lock about as long as the copy took.
      if (ours_) {
        ours_->append_line(msg, buffer);
      } else {
        spdlog::memory_buf_t formatted;
        formatter_->format(msg, formatted);
        buffer.append(formatted.data(), formatted.size());
      }
    });
  }
  // A JSON line of `fields`, formatted straight into the buffer without an spdlog message
  // (log_fields() takes this way for loggers whose only sink this is): the request line of
  // every request skips spdlog's message construction and per-sink dispatch. False when the
  // format is not JSON (nothing written: the caller goes through spdlog).
  bool append_fields(std::string_view logger_name, spdlog::level::level_enum level, std::string_view message,
                     std::span<const LogField> fields) {
    if (!ours_ || !ours_->json()) return false;
    const auto time = std::chrono::system_clock::now();
    append([&](std::string& buffer) { append_json_line(buffer, time, level, logger_name, message, fields, nullptr); });
    return true;
  }
  void flush() override {
    std::unique_lock write_lock(write_mutex_, std::defer_lock);
    std::string full;
    {
      std::lock_guard lock(mutex_);
      if (buffer_.empty()) return;
      write_lock.lock();
      take_buffer_locked(full);
    }
    write_out(full, write_lock);
  }
  void set_pattern(const std::string&) override {}  // the format is LogFormatter's
  // Called once, by setup_logging(), before any logger uses the sink.
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    formatter_ = std::move(formatter);
    ours_ = dynamic_cast<LogFormatter*>(formatter_.get());
  }

 private:
  static constexpr std::size_t kCapacity = 256 * 1024;

  // Appends a line with `format(buffer_)` under the append lock; a full buffer is written out.
  template <class Format>
  void append(Format&& format) {
    std::unique_lock write_lock(write_mutex_, std::defer_lock);
    std::string full;
    {
      std::lock_guard lock(mutex_);
      format(buffer_);
      if (buffer_.size() < kCapacity) return;
      write_lock.lock();
      take_buffer_locked(full);
    }
    write_out(full, write_lock);
  }

  // Moves the buffered lines into `out` and gives the buffer the spare's capacity.
  void take_buffer_locked(std::string& out) {
    out.swap(buffer_);
    buffer_.swap(spare_);
    buffer_.clear();
    if (buffer_.capacity() < kCapacity) buffer_.reserve(kCapacity + 4096);
  }
  // Writes `chunk` under `write_lock`, releases it, then keeps the chunk's capacity as the next
  // spare (under mutex_, never while holding write_mutex_: log() takes them the other way).
  void write_out(std::string& chunk, std::unique_lock<std::mutex>& write_lock) {
    std::size_t done = 0;
    while (done < chunk.size()) {
      const ssize_t n = ::write(fd_, chunk.data() + done, chunk.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // stderr is gone: nothing better to do with a log line
      done += static_cast<std::size_t>(n);
    }
    write_lock.unlock();
    chunk.clear();
    std::lock_guard lock(mutex_);
    if (spare_.capacity() < chunk.capacity()) spare_.swap(chunk);
  }

  std::unique_ptr<spdlog::formatter> formatter_ = std::make_unique<LogFormatter>(true);
  LogFormatter* ours_ = static_cast<LogFormatter*>(formatter_.get());  // formatter_, when it is one
  const int fd_;
  // On their own cache line: every append writes the mutex, and the sink's level (in the base
  // class, read by every logger call on every thread) must not share a line with it.
  alignas(64) std::mutex mutex_;  // buffer_ and spare_
  std::string buffer_;
  std::string spare_;
  alignas(64) std::mutex write_mutex_;  // the order of write(2) calls
};

struct LoggingState {
  std::mutex mutex;
  LoggingOptions options;
  spdlog::sink_ptr sink;
};

LoggingState& state() {
  static LoggingState s;
  return s;
}

void append_text_value(std::string& out, const json::value& v) {
  if (v.is_string()) {
    const auto& s = v.get_string();
    // Quote values with spaces or quotes so a line stays splittable by eye and by awk.
    if (s.find_first_of(" \"=") != json::string::npos) out += json::serialize(v);
    else out.append(s.data(), s.size());
  } else {
    out += json::serialize(v);
  }
}

}  // namespace

const std::vector<std::string>& log_components() {
  static const std::vector<std::string> names{"bastion", "request", "http",       "transport", "mcp",
                                              "telemetry", "auth",  "authserver", "config"};
  return names;
}

namespace {

void append_rfc3339(std::string& out, std::chrono::system_clock::time_point time) {
  const auto seconds = std::chrono::time_point_cast<std::chrono::seconds>(time);
  const auto millis = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(time - seconds).count());
  const std::time_t t = std::chrono::system_clock::to_time_t(seconds);
  // Lines come by the thousand per second: format the date and time once per second per thread.
  thread_local std::time_t cached_second = -1;
  thread_local char cached_prefix[32];
  thread_local std::size_t cached_size = 0;
  if (t != cached_second) {
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    cached_size = std::strftime(cached_prefix, sizeof cached_prefix, "%Y-%m-%dT%H:%M:%S", &tm);
    cached_second = t;
  }
  const char fraction[] = {'.', static_cast<char>('0' + millis / 100), static_cast<char>('0' + millis / 10 % 10),
                           static_cast<char>('0' + millis % 10), 'Z'};
  out.append(cached_prefix, cached_size);
  out.append(fraction, sizeof fraction);
}

// {"time","level","logger","message", ...fields}\n. Written field by field (no intermediate
// object). Every string is escaped, so neither a message nor a field can break the line.
void append_json_line(std::string& line, std::chrono::system_clock::time_point time, spdlog::level::level_enum level,
                      std::string_view logger_name, std::string_view message, std::span<const LogField> fields,
                      const json::object* object_fields) {
  const auto level_name = spdlog::level::to_string_view(level);
  line += "{\"time\":\"";
  append_rfc3339(line, time);
  line += "\",\"level\":";
  append_json_string(line, std::string_view(level_name.data(), level_name.size()));
  line += ",\"logger\":";
  append_json_string(line, logger_name);
  line += ",\"message\":";
  append_json_string(line, message);
  if (!fields.empty()) {
    for (const LogField& f : fields) {
      line.push_back(',');
      line.push_back('"');
      line.append(f.key);
      line += "\":";
      append_field_value(line, f);
    }
    line.push_back('}');
  } else if (object_fields && !object_fields->empty()) {
    // One serializer pass over all fields: "{...}" spliced in after the message. Callers
    // never name a field time, level, logger or message (log_fields() drops those).
    const std::string serialized = json::serialize(*object_fields);
    line.push_back(',');
    line.append(serialized, 1, serialized.size() - 1);
  } else {
    line.push_back('}');
  }
  line.push_back('\n');
}

}  // namespace

std::string rfc3339(std::chrono::system_clock::time_point time) {
  std::string out;
  append_rfc3339(out, time);
  return out;
}

std::string rfc3339_now() { return rfc3339(std::chrono::system_clock::now()); }

void LogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  // Per thread and kept between lines (its capacity is the point): formatting allocates
  // nothing once a thread has written its longest line.
  thread_local std::string line;
  line.clear();
  append_line(msg, line);
  dest.append(line.data(), line.data() + line.size());
}

void LogFormatter::append_line(const spdlog::details::log_msg& msg, std::string& line) const {
  if (json_)
    return append_json_line(line, msg.time, msg.level,
                            std::string_view(msg.logger_name.data(), msg.logger_name.size()),
                            std::string_view(msg.payload.data(), msg.payload.size()), tl_list, tl_fields);
  append_rfc3339(line, msg.time);
  line.push_back(' ');
  const auto level = spdlog::level::to_string_view(msg.level);
  std::string upper(level.data(), level.size());
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  upper.resize(std::max<std::size_t>(upper.size(), 5), ' ');
  line += upper;
  line += " [";
  line.append(msg.logger_name.data(), msg.logger_name.size());
  line += "] ";
  // Control characters would let a message forge a second line on a terminal.
  for (char c : std::string_view(msg.payload.data(), msg.payload.size()))
    line.push_back(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
  for (const LogField& f : tl_list) {
    line.push_back(' ');
    line.append(f.key);
    line.push_back('=');
    std::string value;
    if (f.kind == LogField::Kind::string && f.text.find_first_of(" \"=") == std::string_view::npos)
      value.assign(f.text);
    else
      append_field_value(value, f);
    for (char c : value) line.push_back(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
  }
  if (tl_fields)
    for (const auto& [k, v] : *tl_fields) {
      line.push_back(' ');
      line.append(k.data(), k.size());
      line.push_back('=');
      std::string value;
      append_text_value(value, v);
      for (char c : value) line.push_back(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
    }
  line.push_back('\n');
}

spdlog::sink_ptr buffered_fd_sink(int fd) { return std::make_shared<BufferedFdSink>(fd); }

void setup_logging(const LoggingOptions& options) {
  setup_logging(options, buffered_fd_sink(STDERR_FILENO));
  spdlog::flush_every(std::chrono::seconds(1));
}

void setup_logging(const LoggingOptions& options, spdlog::sink_ptr sink) {
  const bool json = options.format == LogFormat::json ||
                    (options.format == LogFormat::automatic && ::isatty(STDERR_FILENO) == 0);
  sink->set_formatter(std::make_unique<LogFormatter>(json));
  auto& s = state();
  {
    std::lock_guard lock(s.mutex);
    s.options = options;
    s.sink = sink;
  }
  // Replace every component logger, so a second setup (tests) takes effect everywhere.
  for (const auto& name : log_components()) spdlog::drop(name);
  auto make = [&](const std::string& name) {
    auto logger = std::make_shared<spdlog::logger>(name, sink);
    auto it = options.components.find(name);
    logger->set_level(it != options.components.end() ? it->second : options.level);
    // Flush every line (a crash must not eat the lines that explain it), except the request
    // lines, which come by the thousand: they wait for the buffer, the next other line, or the
    // periodic flush (at most a second); a warning or worse is written at once.
    logger->flush_on(name == "request" && json ? spdlog::level::warn : spdlog::level::trace);
    return logger;
  };
  auto main = make("bastion");
  spdlog::set_default_logger(main);
  for (const auto& name : log_components())
    if (name != "bastion") spdlog::register_logger(make(name));
}

std::shared_ptr<spdlog::logger> component_logger(const std::string& name) {
  if (auto existing = spdlog::get(name)) return existing;
  auto& s = state();
  std::lock_guard lock(s.mutex);
  if (auto existing = spdlog::get(name)) return existing;
  spdlog::sink_ptr sink = s.sink;
  if (!sink) {
    // Logging was never set up (unit tests of other layers): JSON on stderr at info.
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    sink->set_formatter(std::make_unique<LogFormatter>(true));
  }
  auto logger = std::make_shared<spdlog::logger>(name, sink);
  auto it = s.options.components.find(name);
  logger->set_level(it != s.options.components.end() ? it->second : s.options.level);
  logger->flush_on(spdlog::level::trace);
  spdlog::register_logger(logger);
  return logger;
}

void log_fields(spdlog::logger& logger, spdlog::level::level_enum level, std::string_view message,
                const json::object& fields) {
  if (!logger.should_log(level)) return;
  // The four base keys belong to the formatter; a field must not repeat them (a JSON object
  // with a duplicate key is read differently by different parsers).
  for (std::string_view reserved : {"time", "level", "logger", "message"})
    if (fields.contains(reserved)) {
      json::object copy = fields;
      for (std::string_view r : {"time", "level", "logger", "message"}) copy.erase(r);
      return log_fields(logger, level, message, copy);
    }
  const json::object* previous = tl_fields;
  const auto previous_list = tl_list;
  tl_fields = &fields;
  tl_list = {};
  try {
    logger.log(level, message);
  } catch (...) {
  }
  tl_fields = previous;
  tl_list = previous_list;
}

}  // namespace bastion::telemetry

namespace bastion::telemetry {

void log_fields(spdlog::logger& logger, spdlog::level::level_enum level, std::string_view message,
                std::span<const LogField> fields) {
  if (!logger.should_log(level)) return;
  // setup_logging()'s sink, alone on the logger: straight into its buffer (what spdlog would
  // do, without building a log_msg). spdlog flushes a logger's sinks at its flush level.
  if (const auto& sinks = logger.sinks(); sinks.size() == 1)
    if (auto* sink = dynamic_cast<BufferedFdSink*>(sinks.front().get())) {
      if (!sink->should_log(level)) return;
      try {
        if (sink->append_fields(logger.name(), level, message, fields)) {
          if (level >= logger.flush_level() && level != spdlog::level::off) sink->flush();
          return;
        }
      } catch (...) {
        return;  // as on spdlog's path: a log line never throws into the request
      }
    }
  const auto previous = tl_list;
  const json::object* previous_object = tl_fields;
  tl_list = fields;
  tl_fields = nullptr;
  try {
    logger.log(level, message);
  } catch (...) {
  }
  tl_list = previous;
  tl_fields = previous_object;
}

}  // namespace bastion::telemetry
