// Log lines: JSON with per-line fields, text for terminals, per-component levels; readiness.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/ostream_sink.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <future>
#include <sstream>
#include <thread>
#include <vector>

#include "telemetry/log.hpp"
#include "telemetry/readiness.hpp"

using namespace bastion::telemetry;
namespace json = boost::json;

namespace {

struct Capture {
  std::ostringstream out;
  explicit Capture(LoggingOptions o) { setup_logging(o, std::make_shared<spdlog::sinks::ostream_sink_mt>(out)); }
  ~Capture() { setup_logging(LoggingOptions{}); }
};

// A temporary file that setup_logging()'s buffered sink writes JSON lines into (nullptr if no
// file could be made).
std::FILE* json_log_file(LoggingOptions o = {}) {
  std::FILE* file = std::tmpfile();
  if (!file) return nullptr;
  o.format = LogFormat::json;
  setup_logging(o, buffered_fd_sink(::fileno(file)));
  return file;
}

// Everything written to `file` so far (the caller releases the sink first, which flushes it).
std::string file_text(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string text;
  char chunk[4096];
  for (std::size_t n; (n = std::fread(chunk, 1, sizeof chunk, file)) > 0;) text.append(chunk, n);
  return text;
}

}  // namespace

TEST(Log, JsonLinesCarryTheirFieldsAndCannotBeBroken) {
  LoggingOptions o;
  o.format = LogFormat::json;
  Capture c(o);
  json::object fields{{"status", 200}, {"tool", "echo"}, {"message", "a field may not replace the message"}};
  log_fields(*component_logger("request"), spdlog::level::info, "request\nforged", fields);
  const std::string text = c.out.str();
  ASSERT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  const json::object line = json::parse(text).as_object();
  EXPECT_EQ(line.at("logger").as_string(), "request");
  EXPECT_EQ(line.at("level").as_string(), "info");
  EXPECT_EQ(line.at("message").as_string(), "request\nforged");
  EXPECT_EQ(line.at("status").as_int64(), 200);
  EXPECT_EQ(line.at("tool").as_string(), "echo");
  EXPECT_EQ(line.size(), 6u);  // time, level, logger, message, status, tool: no duplicate key
  EXPECT_EQ(line.at("time").as_string().size(), std::string("2025-01-01T12:00:00.123Z").size());
}

TEST(Log, TextLinesAreForPeople) {
  LoggingOptions o;
  o.format = LogFormat::text;
  Capture c(o);
  log_fields(*component_logger("request"), spdlog::level::warn, "slow", json::object{{"route", "/mcp"}, {"note", "two words"}});
  const std::string text = c.out.str();
  EXPECT_NE(text.find("WARNING [request] slow route=/mcp note=\"two words\""), std::string::npos) << text;
  EXPECT_EQ(text.find('{'), std::string::npos);

  // Listed fields: bare words as they are, other strings quoted, numbers as JSON writes them.
  c.out.str("");
  const LogField fields[] = {LogField::string("tool", "echo"), LogField::string("note", "two words"),
                             LogField::integral("status", 200), LogField::milliseconds("duration_ms", 1500),
                             LogField::flag("tool_error", true)};
  log_fields(*component_logger("request"), spdlog::level::warn, "slow", fields);
  EXPECT_NE(c.out.str().find("slow tool=echo note=\"two words\" status=200 duration_ms=1.5 tool_error=true"),
            std::string::npos)
      << c.out.str();
}

TEST(Log, ComponentsHaveTheirOwnLevels) {
  LoggingOptions o;
  o.format = LogFormat::json;
  o.level = spdlog::level::info;
  o.components["request"] = spdlog::level::warn;
  o.components["http"] = spdlog::level::debug;
  Capture c(o);
  component_logger("request")->info("dropped");
  component_logger("http")->debug("kept-http");
  spdlog::debug("dropped-default");
  spdlog::info("kept-default");
  const std::string text = c.out.str();
  EXPECT_EQ(text.find("dropped"), std::string::npos) << text;
  EXPECT_NE(text.find("kept-http"), std::string::npos);
  EXPECT_NE(text.find("kept-default"), std::string::npos);
}

// Fields described once (the request line's way): written straight into the JSON sink's buffer
// by log_json_fields, or collected as LogFields for log_fields, the two lines are the same text;
// with another sink log_json_fields logs nothing and says so.
TEST(Log, FieldsWrittenIntoTheBufferMatchTheSameFieldsAsLogFields) {
  const auto describe = [](auto& out) {
    out.verbatim("request_id", "0123456789abcdef");
    out.text("path", "/mcp?a=\"b\"\n\x01");
    out.integer("status", -9223372036854775807LL - 1);
    out.real("ratio", 0.25);
    out.real("nan", std::numeric_limits<double>::quiet_NaN());
    out.flag("tool_error", true);
    out.flag("cached", false);
    out.milliseconds("duration_ms", 12345);
    out.text("empty", "");
  };
  const auto time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));
  std::FILE* file = json_log_file();
  ASSERT_NE(file, nullptr);
  auto logger = component_logger("request");
  JsonFieldsBound bound;
  describe(bound);
  const WriteFields write = [](const void* d, char* out) {
    JsonFieldsWriter w(out);
    (*static_cast<const decltype(describe)*>(d))(w);
    return w.end();
  };
  EXPECT_TRUE(log_json_fields(*logger, spdlog::level::info, "request", bound.size(), write, &describe, time));
  LogFieldList list;
  describe(list);
  log_fields(*logger, spdlog::level::info, "request", list.fields(), time);
  logger->flush();
  setup_logging(LoggingOptions{});  // the test's sink is flushed and released here
  const std::string text = file_text(file);
  std::fclose(file);
  const auto newline = text.find('\n');
  ASSERT_NE(newline, std::string::npos) << text;
  const std::string first = text.substr(0, newline + 1);
  EXPECT_EQ(text, first + first);
  const json::object line = json::parse(first).as_object();
  EXPECT_EQ(line.at("path").as_string(), "/mcp?a=\"b\"\n\x01");
  EXPECT_EQ(line.at("status").as_int64(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(line.at("ratio").as_double(), 0.25);
  EXPECT_TRUE(line.at("nan").is_null());
  EXPECT_TRUE(line.at("tool_error").as_bool());
  EXPECT_FALSE(line.at("cached").as_bool());
  EXPECT_EQ(line.at("duration_ms").as_double(), 12.345);
  EXPECT_EQ(line.at("empty").as_string(), "");

  LoggingOptions o;
  o.format = LogFormat::json;
  Capture c(o);
  EXPECT_FALSE(log_json_fields(*component_logger("request"), spdlog::level::info, "request", bound.size(), write,
                               &describe, time));
  EXPECT_EQ(c.out.str(), "");
}

// The stderr sink buffers lines and writes them in large chunks, swapping buffers so that one
// thread's write(2) does not hold up the others. Whatever the interleaving, every line must reach
// the file whole, exactly once, and each thread's lines in the order it logged them.
TEST(Log, BufferedSinkKeepsEveryLineWholeAndInOrderAcrossThreads) {
  std::FILE* file = json_log_file();
  ASSERT_NE(file, nullptr);
  constexpr int kThreads = 4;
  constexpr int kLines = 12000;  // 48,000 lines of ~250 bytes: about 12 MB, dozens of full buffers
  const std::string padding(120, 'x');
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        auto logger = component_logger("request");
        for (int i = 0; i < kLines; ++i) {
          const LogField fields[] = {LogField::integral("thread", t), LogField::integral("seq", i),
                                     LogField::string("padding", padding)};
          log_fields(*logger, spdlog::level::info, "line", fields);
        }
      });
  }
  spdlog::default_logger()->flush();
  setup_logging(LoggingOptions{});  // the test's sink is flushed and released here
  const std::string text = file_text(file);
  std::fclose(file);

  std::vector<int> next(kThreads, 0);
  std::istringstream lines(text);
  int total = 0;
  for (std::string line; std::getline(lines, line);) {
    json::object object;
    ASSERT_NO_THROW(object = json::parse(line).as_object()) << "line " << total << ": " << line;
    const auto thread = object.at("thread").as_int64();
    ASSERT_TRUE(thread >= 0 && thread < kThreads) << line;
    ASSERT_EQ(object.at("seq").as_int64(), next[static_cast<std::size_t>(thread)]) << "thread " << thread;
    ++next[static_cast<std::size_t>(thread)];
    ++total;
  }
  EXPECT_EQ(total, kThreads * kLines);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(next[static_cast<std::size_t>(t)], kLines) << "thread " << t;
}

// Standard error is often a pipe (a container runtime reads it). A reader that stops for a while
// must not stop the threads that log: full buffers wait for the sink's writer, up to a bound,
// and reach the pipe whole and in order once it is read again.
TEST(Log, BufferedSinkDoesNotHoldUpLoggersWhileItsReaderIsStalled) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  LoggingOptions o;
  o.format = LogFormat::json;
  setup_logging(o, buffered_fd_sink(pipe_fds[1]));
  // About 1.2 MB of lines (almost five of the sink's 256 KiB buffers) against a pipe that holds
  // 64 KiB: written inline, the second full buffer would block its logger until a read.
  constexpr int kLines = 4800;
  const std::string padding(200, 'p');
  auto logging = std::async(std::launch::async, [&] {
    auto logger = component_logger("request");
    for (int i = 0; i < kLines; ++i) {
      const LogField fields[] = {LogField::integral("seq", i), LogField::string("padding", padding)};
      log_fields(*logger, spdlog::level::info, "line", fields);
    }
  });
  // Not a speed limit: a bound on how long the test waits for the logger to be done.
  const bool finished = logging.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  EXPECT_TRUE(finished) << "a logger waited for the pipe's reader";

  // The reader comes back: every line arrives, whole and in order.
  std::string text;
  std::thread reader([&] {
    char chunk[65536];
    for (ssize_t n; (n = ::read(pipe_fds[0], chunk, sizeof chunk)) > 0;) text.append(chunk, static_cast<std::size_t>(n));
  });
  logging.wait();
  setup_logging(LoggingOptions{});  // flushes and releases the test's sink
  ::close(pipe_fds[1]);
  reader.join();
  ::close(pipe_fds[0]);
  std::istringstream lines(text);
  int next = 0;
  for (std::string line; std::getline(lines, line); ++next) {
    json::object object;
    ASSERT_NO_THROW(object = json::parse(line).as_object()) << "line " << next;
    ASSERT_EQ(object.at("seq").as_int64(), next);
  }
  EXPECT_EQ(next, kLines);
}

// A log file in the working directory (the build tree; on tmpfs there is no writeback and no page
// to give back), removed when the test ends however it ends, with setup_logging()'s buffered
// JSON sink on it.
class DropBehindFile {
 public:
  static constexpr off_t kMiB = 1 << 20;

  explicit DropBehindFile(int flags) : path_("drop-behind-" + std::to_string(::getpid()) + ".log") {
    fd_ = ::open(path_.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | flags, 0600);
    struct statfs fs {};
    on_disk_ = fd_ >= 0 && ::fstatfs(fd_, &fs) == 0 && fs.f_type != TMPFS_MAGIC;
    LoggingOptions o;
    o.format = LogFormat::json;
    if (fd_ >= 0) setup_logging(o, buffered_fd_sink(fd_));
  }
  ~DropBehindFile() {
    setup_logging(LoggingOptions{});
    if (fd_ >= 0) ::close(fd_);
    ::unlink(path_.c_str());
  }
  bool on_disk() const { return on_disk_; }
  int fd() const { return fd_; }

  // By fstat: an lseek would move the offset the sink's writer writes at.
  off_t size() const {
    struct stat st {};
    return ::fstat(fd_, &st) == 0 ? st.st_size : off_t{-1};
  }
  // Logs lines until the file has grown by `mib` MiB and they are all written. False if it
  // never grew that far.
  bool log_mib(off_t mib) {
    const off_t target = size() + mib * kMiB;
    auto logger = component_logger("request");
    const std::string padding(900, 'p');
    for (int i = 0; size() < target; ++i) {
      if (i > 100000) return false;
      const LogField fields[] = {LogField::integral("seq", i), LogField::string("padding", padding)};
      log_fields(*logger, spdlog::level::info, "line", fields);
    }
    logger->flush();
    return true;
  }
  // How many of the pages in [from, to) of the file are in the page cache: mincore(2) over a
  // read-only mapping, which reads none in.
  std::size_t cached_pages(off_t from, off_t to) const {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return SIZE_MAX;
    const auto length = static_cast<std::size_t>(to - from);
    void* map = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, from);
    ::close(fd);
    if (map == MAP_FAILED) return SIZE_MAX;
    std::vector<unsigned char> resident((length + page() - 1) / page());
    std::size_t n = SIZE_MAX;
    if (::mincore(map, length, resident.data()) == 0) {
      n = 0;
      for (unsigned char r : resident) n += r & 1;
    }
    ::munmap(map, length);
    return n;
  }
  // The same once the sink's drop-behind thread, which runs behind the writer, has caught up:
  // polled until none is cached, for at most ten seconds (a bound on the wait, not a speed
  // limit); what is left cached then.
  std::size_t cached_pages_once_dropped(off_t from, off_t to) const {
    std::size_t n = cached_pages(from, to);
    for (int i = 0; i < 1000 && n != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      n = cached_pages(from, to);
    }
    return n;
  }
  static std::size_t pages(off_t bytes) { return static_cast<std::size_t>(bytes) / page(); }
  static std::size_t page() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }

 private:
  std::string path_;
  int fd_ = -1;
  bool on_disk_ = false;
};

// A log that is a regular file gives its written pages back (drop-behind, log.cpp): once the
// sink has written 16 MiB, the first 8 MiB are written back and out of the page cache, while the
// newest lines stay cached.
TEST(Log, BufferedSinkDropsTheLogFilesWrittenPagesBehindItself) {
  constexpr off_t kMiB = DropBehindFile::kMiB;
  DropBehindFile file(0);
  ASSERT_GE(file.fd(), 0);
  ASSERT_TRUE(file.on_disk()) << "the build tree is on tmpfs, which has no page cache to drop";
  ASSERT_TRUE(file.log_mib(20));
  EXPECT_EQ(file.cached_pages_once_dropped(0, 8 * kMiB), 0u) << "of the first 8 MiB's " << DropBehindFile::pages(8 * kMiB);
  const off_t last = file.size() / static_cast<off_t>(DropBehindFile::page()) * static_cast<off_t>(DropBehindFile::page());
  EXPECT_EQ(file.cached_pages(last - kMiB, last), DropBehindFile::pages(kMiB)) << "the newest lines' pages";
}

// A file truncated under the server (logrotate's copytruncate, with the log opened for appending)
// starts the count again: its new first 8 MiB leave the cache as the old ones did. Counting on
// from the old offsets, the sink would drop nothing until the file passed its old size.
TEST(Log, BufferedSinkStartsDroppingAgainAfterItsFileIsTruncated) {
  constexpr off_t kMiB = DropBehindFile::kMiB;
  DropBehindFile file(O_APPEND);
  ASSERT_GE(file.fd(), 0);
  ASSERT_TRUE(file.on_disk()) << "the build tree is on tmpfs, which has no page cache to drop";
  ASSERT_TRUE(file.log_mib(30));
  ASSERT_EQ(::ftruncate(file.fd(), 0), 0);
  ASSERT_TRUE(file.log_mib(20));
  ASSERT_LT(file.size(), 25 * kMiB);  // the lines after the truncation, not a sparse tail
  EXPECT_EQ(file.cached_pages_once_dropped(0, 8 * kMiB), 0u) << "of the new first 8 MiB's " << DropBehindFile::pages(8 * kMiB);
}

// log_fields() writes a line straight into the buffered sink when that sink is the logger's only
// one (no spdlog message in between): the line must be what spdlog's path writes, the levels
// must still hold, and a line at the logger's flush level must reach the file at once.
TEST(Log, FieldsWrittenStraightIntoTheBufferedSinkKeepLevelsAndFlushing) {
  LoggingOptions o;
  o.components["request"] = spdlog::level::info;
  std::FILE* file = json_log_file(o);
  ASSERT_NE(file, nullptr);
  auto request = component_logger("request");  // flushes at warn (request lines wait for the buffer)
  const LogField fields[] = {LogField::string("tool", "e\"cho\n"), LogField::integral("status", 200),
                             LogField::real("ratio", 0.25), LogField::flag("tool_error", true),
                             LogField::milliseconds("duration_ms", 12340)};
  log_fields(*request, spdlog::level::debug, "below the level", fields);
  log_fields(*request, spdlog::level::info, "request", fields);
  EXPECT_EQ(file_text(file), "") << "an info line waits in the buffer";
  log_fields(*request, spdlog::level::warn, "slow", fields);
  const std::string text = file_text(file);  // no flush() here: the warning flushed both
  std::istringstream lines(text);
  std::vector<json::object> objects;
  for (std::string line; std::getline(lines, line);) objects.push_back(json::parse(line).as_object());
  ASSERT_EQ(objects.size(), 2u) << text;
  EXPECT_EQ(objects[0].at("message").as_string(), "request");
  EXPECT_EQ(objects[0].at("level").as_string(), "info");
  EXPECT_EQ(objects[0].at("logger").as_string(), "request");
  EXPECT_EQ(objects[0].at("tool").as_string(), "e\"cho\n");
  EXPECT_EQ(objects[0].at("status").as_int64(), 200);
  EXPECT_EQ(objects[0].at("ratio").as_double(), 0.25);
  EXPECT_NE(text.find("\"duration_ms\":12.34}"), std::string::npos) << text;
  EXPECT_EQ(objects[0].at("tool_error").as_bool(), true);
  EXPECT_EQ(objects[1].at("level").as_string(), "warning");
  EXPECT_EQ(text.find("below the level"), std::string::npos);

  // The same fields through spdlog's path (a logger with two sinks) give the same line.
  std::ostringstream other;
  auto both = std::make_shared<spdlog::logger>(
      "request", spdlog::sinks_init_list{std::make_shared<spdlog::sinks::null_sink_mt>(),
                                         std::make_shared<spdlog::sinks::ostream_sink_mt>(other)});
  both->sinks()[1]->set_formatter(std::make_unique<LogFormatter>(true));
  log_fields(*both, spdlog::level::info, "request", fields);
  const json::object via_spdlog = json::parse(other.str()).as_object();
  json::object direct = objects[0];
  direct.erase("time");
  json::object compared = via_spdlog;
  compared.erase("time");
  EXPECT_EQ(compared, direct);

  setup_logging(LoggingOptions{});
  std::fclose(file);
}

// Every thread buffers its own lines. A warning (which flushes) on one thread must still come
// after the lines other threads logged before it, while those threads live on; and a line larger
// than a whole buffer passes through intact.
TEST(Log, AFlushWritesEveryThreadsBufferedLines) {
  std::FILE* file = json_log_file();
  ASSERT_NE(file, nullptr);
  const std::string huge(300 * 1024, 'h');  // more than a thread's buffer holds
  const LogField big[] = {LogField::string("huge", huge)};
  log_fields(*component_logger("request"), spdlog::level::info, "big", big);
  std::promise<void> logged, done;
  std::jthread other([&] {
    const LogField fields[] = {LogField::string("from", "other thread")};
    log_fields(*component_logger("request"), spdlog::level::info, "request", fields);
    logged.set_value();
    done.get_future().wait();  // alive, its buffer not handed over by its exit
  });
  logged.get_future().wait();
  EXPECT_EQ(file_text(file).find("other thread"), std::string::npos) << "an info request line waits in its buffer";
  log_fields(*component_logger("request"), spdlog::level::warn, "slow", std::span<const LogField>());
  const std::string text = file_text(file);
  done.set_value();
  other.join();
  std::istringstream lines(text);
  std::vector<json::object> objects;
  for (std::string line; std::getline(lines, line);) objects.push_back(json::parse(line).as_object());
  ASSERT_EQ(objects.size(), 3u) << text.substr(0, 300);
  EXPECT_EQ(objects[0].at("huge").as_string().size(), huge.size());
  EXPECT_EQ(objects[1].at("from").as_string(), "other thread");
  EXPECT_EQ(objects[2].at("message").as_string(), "slow");
  setup_logging(LoggingOptions{});
  std::fclose(file);
}

// A thread keeps a buffer per sink. When sinks replace one another (a reload, each test), the
// lines a thread logs go to the sink of the moment, not to the buffer it kept for an earlier one.
TEST(Log, EachNewSinkGetsItsLinesFromAThreadThatLoggedToAnEarlierOne) {
  for (int i = 0; i < 4; ++i) {
    std::FILE* file = json_log_file();
    ASSERT_NE(file, nullptr);
    const LogField fields[] = {LogField::integral("sink", i)};
    log_fields(*component_logger("request"), spdlog::level::info, "request", fields);
    setup_logging(LoggingOptions{});  // flushes and releases this sink
    EXPECT_NE(file_text(file).find("\"sink\":" + std::to_string(i)), std::string::npos) << "sink " << i;
    std::fclose(file);
  }
}

// Durations are written from whole microseconds as a double would show them: no trailing zeros,
// no fraction for whole milliseconds.
TEST(Log, MillisecondsAreWrittenLikeTheDecimalTheyAre) {
  LoggingOptions o;
  o.format = LogFormat::json;
  Capture c(o);
  const std::pair<std::int64_t, const char*> cases[] = {{0, "0"},        {1, "0.001"},     {43, "0.043"},
                                                        {1500, "1.5"},   {2000, "2"},      {12345, "12.345"},
                                                        {10010, "10.01"}, {-1500, "-1.5"}, {123456789012, "123456789.012"},
                                                        {INT64_MIN, "-9223372036854775.808"}};
  for (const auto& [micros, text] : cases) {
    c.out.str("");
    const LogField fields[] = {LogField::milliseconds("duration_ms", micros)};
    log_fields(*component_logger("request"), spdlog::level::info, "request", fields);
    const std::string line = c.out.str();
    EXPECT_NE(line.find(std::string("\"duration_ms\":") + text + "}"), std::string::npos) << micros << ": " << line;
    EXPECT_DOUBLE_EQ(json::parse(line).as_object().at("duration_ms").to_number<double>(), static_cast<double>(micros) / 1000);
  }
}

TEST(Readiness, AllChecksMustPassAndAThrowingCheckFails) {
  Readiness r;
  EXPECT_TRUE(r.evaluate().ready);  // nothing to wait for
  bool keys = false;
  r.add_check("listeners", [] { return true; });
  r.add_check("keys", [&] { return keys; });
  auto report = r.evaluate();
  EXPECT_FALSE(report.ready);
  ASSERT_EQ(report.checks.size(), 2u);
  EXPECT_EQ(report.checks[1].first, "keys");
  EXPECT_FALSE(report.checks[1].second);
  keys = true;
  EXPECT_TRUE(r.evaluate().ready);
  r.add_check("store", []() -> bool { throw std::runtime_error("down"); });
  EXPECT_FALSE(r.evaluate().ready);
}
