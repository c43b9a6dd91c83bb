#include "telemetry/log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cerrno>

#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <typeinfo>
#include <utility>

#include "core/json_text.hpp"
#include "core/thread_name.hpp"

namespace bastion::telemetry {

namespace json = boost::json;

namespace {

thread_local const json::object* tl_fields = nullptr;
thread_local std::span<const LogField> tl_list;

}  // namespace

char* JsonValueWriter::write_integer(char* out, std::int64_t value) { return std::to_chars(out, out + kNumberBound, value).ptr; }

void JsonValueWriter::real(double value) {
  if (!std::isfinite(value)) raw("null");
  else at_ = std::to_chars(at_, at_ + kNumberBound, value).ptr;
}

// LogField::milliseconds: "<micros / 1000>[.<fraction without trailing zeros>]" into out,
// which holds 32 bytes.
char* JsonValueWriter::write_milliseconds(char* out, std::int64_t signed_micros) {
  // In unsigned arithmetic: the magnitude of INT64_MIN has no int64 form.
  std::uint64_t micros = static_cast<std::uint64_t>(signed_micros);
  if (signed_micros < 0) {
    *out++ = '-';
    micros = 0 - micros;
  }
  out = std::to_chars(out, out + 24, micros / 1000).ptr;
  int fraction = static_cast<int>(micros % 1000);
  if (fraction == 0) return out;
  *out++ = '.';
  int digits = 3;
  while (fraction % 10 == 0) {
    fraction /= 10;
    --digits;
  }
  for (int i = digits - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + fraction % 10);
    fraction /= 10;
  }
  return out + digits;
}

namespace {

// A LogField's value through JsonValueWriter, and the most bytes it takes.
void write_value(JsonValueWriter& w, const LogField& f) {
  switch (f.kind) {
    case LogField::Kind::string: w.text(f.text); break;
    case LogField::Kind::verbatim:
      assert(core::needs_no_json_escape(f.text));  // LogField::verbatim's contract
      w.verbatim(f.text);
      break;
    case LogField::Kind::integer: w.integer(f.integer); break;
    case LogField::Kind::boolean: w.flag(f.integer != 0); break;
    case LogField::Kind::milliseconds: w.milliseconds(f.integer); break;
    case LogField::Kind::number: w.real(f.number); break;
  }
}
std::size_t value_bound(const LogField& f) {
  switch (f.kind) {
    case LogField::Kind::string: return core::json_string_bound(f.text.size());
    case LogField::Kind::verbatim: return f.text.size() + 2;
    default: return JsonValueWriter::kNumberBound;
  }
}

// A field's JSON value appended to `out` (the text format's quoted values).
void append_field_value(std::string& out, const LogField& f) {
  const std::size_t at = out.size();
  out.resize(at + value_bound(f));
  JsonValueWriter w(out.data() + at);
  write_value(w, f);
  out.resize(static_cast<std::size_t>(w.end() - out.data()));
}

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

// RFC 3339 UTC with milliseconds into out[0..kRfc3339Size).
constexpr std::size_t kRfc3339Size = 24;  // 2025-01-01T12:00:00.123Z
char* write_rfc3339(char* out, std::chrono::system_clock::time_point time) {
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
  std::memcpy(out, cached_prefix, cached_size);
  out += cached_size;
  *out++ = '.';
  *out++ = static_cast<char>('0' + millis / 100);
  *out++ = static_cast<char>('0' + millis / 10 % 10);
  *out++ = static_cast<char>('0' + millis % 10);
  *out++ = 'Z';
  return out;
}

void append_rfc3339(std::string& out, std::chrono::system_clock::time_point time) {
  char text[kRfc3339Size + 8];
  out.append(text, write_rfc3339(text, time));
}

// {"time","level","logger","message", ...fields}\n written in one pass into memory of at least
// its bound. Every string is escaped, so neither a message nor a field can break the line. A
// field object arrives serialized ("{...}", spliced in after the message); callers never name a
// field time, level, logger or message (log_fields() drops those).
struct JsonLine {
  std::chrono::system_clock::time_point time;
  std::string_view level_name;
  std::string_view logger_name;
  std::string_view message;
  std::span<const LogField> fields;
  std::string_view serialized_object;  // used when `fields` is empty
  // Used instead of both when set (log_json_fields): writes at most fields_bound bytes.
  WriteFields write_fields = nullptr;
  const void* fields_context = nullptr;
  std::size_t fields_bound = 0;

  std::size_t bound() const {
    std::size_t n = 64 + kRfc3339Size + core::json_string_bound(level_name.size()) +
                    core::json_string_bound(logger_name.size()) + core::json_string_bound(message.size()) +
                    serialized_object.size() + fields_bound;
    for (const LogField& f : fields) n += f.key.size() + 4 + value_bound(f);
    return n;
  }

  char* write(char* out) const {
    JsonValueWriter w(out);
    w.raw("{\"time\":\"");
    w = JsonValueWriter(write_rfc3339(w.end(), time));
    // spdlog's level names (info, warning, ...) need no escaping.
    w.raw("\",\"level\":");
    w.verbatim(level_name);
    w.raw(",\"logger\":");
    w.text(logger_name);
    w.raw(",\"message\":");
    w.text(message);
    if (write_fields) {
      w = JsonValueWriter(write_fields(fields_context, w.end()));
      w.raw("}");
    } else if (!fields.empty()) {
      for (const LogField& f : fields) {
        w.raw(",\"");
        w.raw(f.key);
        w.raw("\":");
        write_value(w, f);
      }
      w.raw("}");
    } else if (!serialized_object.empty()) {
      w.raw(",");
      w.raw(serialized_object.substr(1));
    } else {
      w.raw("}");
    }
    w.raw("\n");
    return w.end();
  }
};

std::string_view level_name(spdlog::level::level_enum level) {
  const auto view = spdlog::level::to_string_view(level);
  return {view.data(), view.size()};
}

// A JSON line appended to `out`.
void append_json_line(std::string& out, const spdlog::details::log_msg& msg, std::span<const LogField> fields,
                      const json::object* object_fields) {
  std::string serialized;
  if (fields.empty() && object_fields && !object_fields->empty()) serialized = json::serialize(*object_fields);
  const JsonLine line{msg.time,
                      level_name(msg.level),
                      std::string_view(msg.logger_name.data(), msg.logger_name.size()),
                      std::string_view(msg.payload.data(), msg.payload.size()),
                      fields,
                      serialized};
  const std::size_t at = out.size();
  out.resize_and_overwrite(at + line.bound(), [&](char* p, std::size_t) {
    return static_cast<std::size_t>(line.write(p + at) - p);
  });
}

// Drop-behind for a log that is a regular file: every 8 MiB appended, a thread of the sink's asks
// the kernel to start writing back what was appended (sync_file_range(2), SYNC_FILE_RANGE_WRITE),
// and all but the newest 8 MiB (from a 2 MiB boundary), written back by then, leave the page
// cache (posix_fadvise(2), POSIX_FADV_DONTNEED): the newest 8 to 18 MiB stay cached for a reader
// that tails the file.
//
// Why: an appended file takes a new page-cache page for every 4 KiB, forever, and on a virtual
// machine whose balloon device reports free memory to the host (virtio VIRTIO_BALLOON_F_REPORTING,
// Linux page_reporting) a page the host has taken back costs a host fault when it is touched
// again: under bench/run.sh's load the writer thread cost 1.27 to 1.36 us per request line in
// such a phase and 0.22 to 0.24 us in another. Pages dropped here return to the allocator and
// the next appends reuse them before they are reported: 0.32 to 0.39 us in either phase (the
// writer and this thread together). A log also no longer pushes the rest of the machine's files
// out of the page cache. The writeback is the one the kernel's flusher would do within its
// expiry time (30 s by default), done earlier.
//
// The calls run on a thread of their own. They wait for the disk (the drop waits for the
// previous step's writeback, and starting writeback waits for room in the device's queue); the
// sink's writer only hands over its file offset, so that a stalled disk holds up the dropping,
// not the log: the writer's write(2) keeps landing in the page cache, as it would without
// drop-behind, until the kernel's dirty-page limits throttle it.
//
// Pipes, terminals and character devices (stderr read by a container runtime, /dev/null) are left
// alone, and so is a file on a file system where the calls fail. A file truncated under the
// sink (copytruncate rotation of a file opened for appending) starts the count again.
class DropBehind {
 public:
  explicit DropBehind(int fd) : fd_(fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return;
    const off_t at = ::lseek(fd, 0, SEEK_CUR);
    if (at < 0) return;
    handed_to_ = dropped_to_ = submitted_to_ = at;  // what the file held before is not the sink's business
    enabled_.store(true, std::memory_order_relaxed);
    thread_ = std::thread([this] {
      core::name_this_thread("log-dropbehind");
      run();
    });
  }
  ~DropBehind() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  DropBehind(const DropBehind&) = delete;
  DropBehind& operator=(const DropBehind&) = delete;

  // The sink's writer, after each write(2): the fd's offset is where its last write ended (the
  // end of the file for O_APPEND). Every kStep, or at once after a truncation, it goes to the
  // dropping thread.
  void wrote() {
    if (!enabled_.load(std::memory_order_relaxed)) return;
    const off_t end = ::lseek(fd_, 0, SEEK_CUR);
    if (end < 0) {
      enabled_.store(false, std::memory_order_relaxed);
      return;
    }
    if (end >= handed_to_ && end - handed_to_ < kStep) return;
    handed_to_ = end;
    {
      std::lock_guard lock(mutex_);
      target_ = end;
    }
    wake_.notify_one();
  }

 private:
  static constexpr off_t kStep = 8 << 20;
  static constexpr off_t kFolioAlign = 2 << 20;

  void run() {
    std::unique_lock lock(mutex_);
    while (true) {
      wake_.wait(lock, [this] { return stopping_ || target_ >= 0; });
      if (stopping_) return;
      const off_t end = std::exchange(target_, -1);
      lock.unlock();
      step(end);
      lock.lock();
    }
  }

  // Catches up with a file that ends at `end`: everything but its newest kStep is written back
  // and dropped, and the writeback of the rest is started. Usually the part dropped is the
  // previous step's, whose writeback is done by then; when offsets were handed over faster than
  // this thread ran, it writes and waits for more.
  void step(off_t end) {
    if (end < submitted_to_) dropped_to_ = submitted_to_ = 0;  // truncated under us
    if (end - submitted_to_ < kStep) return;
    // On a 2 MiB boundary: the page cache holds a file in folios of up to 2 MiB, aligned to their
    // size, and POSIX_FADV_DONTNEED drops only the folios wholly inside its range.
    if (const off_t keep_from = (end - kStep) / kFolioAlign * kFolioAlign; keep_from > dropped_to_) {
      // POSIX_FADV_DONTNEED passes over dirty and in-flight pages: they are written and waited
      // for first.
      ::sync_file_range(fd_, dropped_to_, keep_from - dropped_to_,
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
      ::posix_fadvise(fd_, dropped_to_, keep_from - dropped_to_, POSIX_FADV_DONTNEED);
      dropped_to_ = keep_from;
    }
    const off_t from = std::max(submitted_to_, dropped_to_);
    if (::sync_file_range(fd_, from, end - from, SYNC_FILE_RANGE_WRITE) != 0) {
      enabled_.store(false, std::memory_order_relaxed);  // not here: the kernel's writeback alone
      return;
    }
    submitted_to_ = end;
  }

  const int fd_;
  std::atomic<bool> enabled_{false};
  off_t handed_to_ = 0;  // the writer's: the offset it last handed over
  std::mutex mutex_;     // target_, stopping_
  std::condition_variable wake_;
  off_t target_ = -1;  // an offset to catch up with, -1 when none is waiting
  bool stopping_ = false;
  // The dropping thread's:
  off_t dropped_to_ = 0;    // pages before this offset were dropped (or were there before)
  off_t submitted_to_ = 0;  // writeback was started for pages before this offset
  std::thread thread_;
};

// Standard error through buffers: one write(2) per 256 KiB or per flush, not one per line (at
// thousands of request lines a second the syscalls would cost more than the requests). Into a
// file on ext4, each write(2) has a fixed cost (journal handle, inode update) besides the copy:
// at 32 KiB per write the request line cost about 0.9 us of the server's CPU per request under
// bench/run.sh, and 256 KiB saved about 0.7 us of that (1 MiB saved nothing more). Loggers
// flush it on every line of their flush level, spdlog's periodic flusher at least every second,
// and the destructor at exit.
//
// Each thread appends to a buffer of its own, and a JSON line is formatted straight into it.
// With one buffer for all, the I/O threads took turns at its lock and passed its cache lines
// back and forth on every request line (the lock's release alone was 0.4% of the loaded
// server's CPU, bench/run.sh with two I/O threads). A thread's lines reach the output in the
// order it logged them; lines of different threads are ordered by buffer, as with nginx's
// buffered access_log: a line can follow one that another thread logged later, by up to a buffer
// (tens of milliseconds under load) or a flush interval (a second). Every line carries its time.
//
// Full buffers are written by the sink's own thread, in the order they filled. Standard error
// is often a pipe that a container runtime reads: a write(2) of 256 KiB into a pipe of 64 KiB
// waits for that reader, and an I/O thread that made it held up every connection it serves.
// Into a file the write takes a hundred microseconds or more (under bench/run.sh's load, the
// request lines cost about 0.7 us per request more into a file than into /dev/null). The
// hand-over is one notification per 256 KiB. At most kMaxQueued full buffers wait; past that an
// appender waits for the writer, so a reader that stopped reading slows logging down, as the
// blocking write(2) did, and no line is lost.
class BufferedFdSink final : public spdlog::sinks::sink, public std::enable_shared_from_this<BufferedFdSink> {
 public:
  explicit BufferedFdSink(int fd) : fd_(fd) {
    writer_ = std::thread([this] {
      core::name_this_thread("log-writer");
      write_loop();
    });
  }
  ~BufferedFdSink() override {
    flush();
    {
      std::lock_guard lock(queue_mutex_);
      stopping_ = true;
    }
    queue_ready_.notify_one();
    writer_.join();
  }

  void log(const spdlog::details::log_msg& msg) override {
    // Formatted before the buffer's lock, which then covers only the copy.
    thread_local std::string line;  // keeps its capacity from line to line
    line.clear();
    if (ours_) {
      ours_->append_line(msg, line);
    } else {
      spdlog::memory_buf_t formatted;
      formatter_->format(msg, formatted);
      line.append(formatted.data(), formatted.size());
    }
    append(line.size(), [&](char* out) { return core::copy_bytes(out, line.data(), line.size()); });
  }
  // A JSON line of `fields`, without an spdlog message (log_fields() takes this way for
  // loggers whose only sink this is): the request line of every request skips spdlog's message
  // construction and per-sink dispatch. False when the format is not JSON (nothing written:
  // the caller goes through spdlog).
  bool append_fields(std::chrono::system_clock::time_point time, std::string_view logger_name,
                     spdlog::level::level_enum level, std::string_view message, std::span<const LogField> fields) {
    return append_line(JsonLine{time, level_name(level), logger_name, message, fields, {}});
  }
  // The same with fields a caller writes itself (log_json_fields).
  bool append_written_fields(std::chrono::system_clock::time_point time, std::string_view logger_name,
                             spdlog::level::level_enum level, std::string_view message, std::size_t fields_bound,
                             WriteFields write_fields, const void* context) {
    return append_line(
        JsonLine{time, level_name(level), logger_name, message, {}, {}, write_fields, context, fields_bound});
  }
  bool append_line(const JsonLine& line) {
    if (!ours_ || !ours_->json()) return false;
    append(line.bound(), [&](char* out) { return line.write(out); });
    return true;
  }

  // Returns once every line appended before the call, on any thread, is written (or failed to
  // be). The calling thread's lines go last: a warning, which flushes, follows what the other
  // threads logged before it.
  void flush() override {
    {
      std::lock_guard threads(threads_mutex_);
      ThreadLines* mine = nullptr;
      for (const auto& lines : threads_) {
        if (lines->owner == std::this_thread::get_id()) {
          mine = lines.get();
          continue;
        }
        std::lock_guard lock(lines->mutex);
        if (!lines->text.empty()) hand_over_locked(*lines);
      }
      if (mine) {
        std::lock_guard lock(mine->mutex);
        if (!mine->text.empty()) hand_over_locked(*mine);
      }
    }
    std::unique_lock lock(queue_mutex_);
    queue_drained_.wait(lock, [this] { return queue_.empty() && !writing_; });
  }
  void set_pattern(const std::string&) override {}  // the format is LogFormatter's
  // Called once, by setup_logging(), before any logger uses the sink.
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    formatter_ = std::move(formatter);
    ours_ = dynamic_cast<LogFormatter*>(formatter_.get());
  }

 private:
  static constexpr std::size_t kCapacity = 256 * 1024;
  static constexpr std::size_t kMaxQueued = 8;  // 2 MiB of lines waiting for the writer
  static constexpr std::size_t kSlack = 16 * 1024;  // how far a line may take a buffer past kCapacity
  static constexpr std::size_t kMaxSpares = 4;       // written buffers kept for their memory

  // One thread's lines not yet handed to the writer. Its lock is the owner's but for flush() and
  // the owner's exit, so taking it costs no cache line another thread wrote.
  struct alignas(64) ThreadLines {
    std::mutex mutex;
    std::string text;
    std::thread::id owner = std::this_thread::get_id();
  };

  // The calling thread's buffer in this sink, registered on its first line. When the thread
  // ends, its lines go to the writer and the buffer leaves the sink (if the sink is still there).
  ThreadLines& this_thread_lines() {
    struct Entry {
      std::uint64_t sink;  // the sink's id_: an address could be a later sink's
      std::weak_ptr<BufferedFdSink> owner;
      std::shared_ptr<ThreadLines> lines;
    };
    struct Entries {
      std::vector<Entry> list;
      ~Entries() {
        for (Entry& e : list)
          if (auto sink = e.owner.lock()) sink->retire(e.lines);
      }
    };
    thread_local Entries entries;
    for (const Entry& e : entries.list)
      if (e.sink == id_) return *e.lines;
    std::erase_if(entries.list, [](const Entry& e) { return e.owner.expired(); });  // sinks now gone
    auto lines = std::make_shared<ThreadLines>();
    {
      std::lock_guard threads(threads_mutex_);
      threads_.push_back(lines);
    }
    entries.list.push_back(Entry{id_, weak_from_this(), lines});
    return *lines;
  }

  void retire(const std::shared_ptr<ThreadLines>& lines) {
    std::lock_guard threads(threads_mutex_);
    {
      std::lock_guard lock(lines->mutex);
      if (!lines->text.empty()) hand_over_locked(*lines);
    }
    std::erase(threads_, lines);
  }

  // Appends a line of at most `bound` bytes, which write(out) writes and returns its end; a
  // full buffer goes to the writer.
  template <class Write>
  void append(std::size_t bound, Write&& write) {
    ThreadLines& lines = this_thread_lines();
    std::lock_guard lock(lines.mutex);
    std::string& text = lines.text;
    // A buffer grows as its thread logs (most threads log a few lines a second) and is handed
    // over at kCapacity; a line that would take it past kSlack more goes into the next one.
    if (!text.empty() && text.size() + bound > kCapacity + kSlack) hand_over_locked(lines);
    const std::size_t at = text.size();
    text.resize_and_overwrite(at + bound, [&](char* p, std::size_t) { return static_cast<std::size_t>(write(p + at) - p); });
    if (text.size() >= kCapacity) {
      hand_over_locked(lines);
      return;
    }
    // The memory the next lines go to, fetched for writing now: the buffer is large and
    // cycles, so it is out of the cache, and a store to a missing line stalls the copy. The
    // kilobyte after the line; the line before this one fetched all of it but the part past its
    // own kilobyte (a line is about 400 bytes: a third of the prefetches of fetching all of it).
    const std::size_t window_end = std::min(text.size() + 1024, text.capacity());
    std::size_t from = at == 0 ? text.size() : std::max(text.size(), at + 1024);
    for (from &= ~std::size_t{63}; from < window_end; from += 64) __builtin_prefetch(text.data() + from, 1, 3);
  }

  // Queues a thread's lines for the writer (under the thread's lock, so that its buffers queue
  // in the order they filled and flush() cannot return before they are queued) and gives the
  // thread a spare's memory.
  void hand_over_locked(ThreadLines& lines) {
    std::string full;
    full.swap(lines.text);
    {
      std::unique_lock lock(queue_mutex_);
      queue_drained_.wait(lock, [this] { return queue_.size() < kMaxQueued; });
      queue_.push_back(std::move(full));
      if (!spares_.empty()) {
        lines.text = std::move(spares_.back());
        spares_.pop_back();
      }
    }
    queue_ready_.notify_one();
    lines.text.clear();
  }

  void write_loop() {
    std::unique_lock lock(queue_mutex_);
    while (true) {
      queue_ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and the destructor flushed first
      std::string chunk = std::move(queue_.front());
      queue_.pop_front();
      writing_ = true;
      lock.unlock();
      write_all(chunk);
      drop_behind_.wrote();
      chunk.clear();
      lock.lock();
      writing_ = false;
      // Only buffers that grew to the working size are worth keeping.
      if (spares_.size() < kMaxSpares && chunk.capacity() >= kCapacity) spares_.push_back(std::move(chunk));
      queue_drained_.notify_all();
    }
  }

  void write_all(const std::string& chunk) const {
    std::size_t done = 0;
    while (done < chunk.size()) {
      const ssize_t n = ::write(fd_, chunk.data() + done, chunk.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // stderr is gone: nothing better to do with a log line
      done += static_cast<std::size_t>(n);
    }
  }

  std::unique_ptr<spdlog::formatter> formatter_ = std::make_unique<LogFormatter>(true);
  LogFormatter* ours_ = static_cast<LogFormatter*>(formatter_.get());  // formatter_, when it is one
  const int fd_;
  DropBehind drop_behind_{fd_};  // wrote() is the writer thread's
  const std::uint64_t id_ = [] {
    static std::atomic<std::uint64_t> next{0};
    return next.fetch_add(1, std::memory_order_relaxed);
  }();
  std::mutex threads_mutex_;  // threads_
  std::vector<std::shared_ptr<ThreadLines>> threads_;
  // On its own cache line, away from the sink's level (in the base class, read by every logger
  // call on every thread).
  alignas(64) std::mutex queue_mutex_;  // queue_, spares_, writing_, stopping_
  std::condition_variable queue_ready_;    // the writer has work
  std::condition_variable queue_drained_;  // the writer finished a chunk
  std::deque<std::string> queue_;
  std::vector<std::string> spares_;  // written chunks' memory, for the next buffers
  bool writing_ = false;
  bool stopping_ = false;
  std::thread writer_;
};

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
  if (json_) {
    append_json_line(line, msg, tl_list, tl_fields);
    return;
  }
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
    if ((f.kind == LogField::Kind::string || f.kind == LogField::Kind::verbatim) &&
        f.text.find_first_of(" \"=") == std::string_view::npos)
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

namespace {

// setup_logging()'s sink when it is alone on the logger: lines then go straight into its buffer
// (what spdlog would do, without building a log_msg). BufferedFdSink is final and local to this
// file, so an exact type test answers what a dynamic_cast would, by a pointer comparison:
// __dynamic_cast's walk of spdlog's sink hierarchy took 0.3% of the loaded server's CPU, once
// per request line.
BufferedFdSink* sole_buffered_sink(spdlog::logger& logger) {
  const auto& sinks = logger.sinks();
  if (sinks.size() != 1 || typeid(*sinks.front()) != typeid(BufferedFdSink)) return nullptr;
  return static_cast<BufferedFdSink*>(sinks.front().get());
}

// A line through `append` (false when the sink's format is not JSON: nothing written), flushed
// at the logger's flush level as spdlog flushes a logger's sinks. True when the line is done
// with: written, below the sink's level, or failed (as on spdlog's path, a log line never throws
// into the request).
template <class Append>
bool log_into(BufferedFdSink& sink, spdlog::logger& logger, spdlog::level::level_enum level, Append&& append) {
  if (!sink.should_log(level)) return true;
  try {
    if (!append()) return false;
    if (level >= logger.flush_level() && level != spdlog::level::off) sink.flush();
  } catch (...) {
  }
  return true;
}

}  // namespace

bool log_json_fields(spdlog::logger& logger, spdlog::level::level_enum level, std::string_view message,
                     std::size_t fields_bound, WriteFields write_fields, const void* context,
                     std::chrono::system_clock::time_point time) {
  if (!logger.should_log(level)) return true;
  BufferedFdSink* sink = sole_buffered_sink(logger);
  return sink && log_into(*sink, logger, level, [&] {
           return sink->append_written_fields(time, logger.name(), level, message, fields_bound, write_fields, context);
         });
}

void log_fields(spdlog::logger& logger, spdlog::level::level_enum level, std::string_view message,
                std::span<const LogField> fields, std::chrono::system_clock::time_point time) {
  if (!logger.should_log(level)) return;
  if (BufferedFdSink* sink = sole_buffered_sink(logger))
    if (log_into(*sink, logger, level, [&] { return sink->append_fields(time, logger.name(), level, message, fields); }))
      return;
  const auto previous = tl_list;
  const json::object* previous_object = tl_fields;
  tl_list = fields;
  tl_fields = nullptr;
  try {
    logger.log(time, spdlog::source_loc{}, level, message);
  } catch (...) {
  }
  tl_list = previous;
  tl_fields = previous_object;
}

}  // namespace bastion::telemetry
