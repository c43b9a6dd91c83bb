// The audit sink: one JSON line per event, O_APPEND files, and failed writes that are counted.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "telemetry/audit.hpp"

using namespace bastion::telemetry;
namespace json = boost::json;

namespace {

AuditEvent tool_call() {
  AuditEvent e;
  e.type = audit_event::kToolCall;
  return e;
}

std::vector<json::object> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<json::object> out;
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line).as_object());
  return out;
}

std::string temp_path(const char* name) {
  return (std::filesystem::temp_directory_path() / (std::string(name) + "-" + std::to_string(::getpid()))).string();
}

}  // namespace

TEST(Audit, AFileSinkAppendsOneJsonObjectPerLine) {
  const std::string path = temp_path("bastion-audit");
  std::filesystem::remove(path);
  {
    std::ofstream existing(path);
    existing << "{\"event\":\"earlier\"}\n";
  }
  MetricsRegistry metrics;
  {
    AuditSink sink(AuditOptions{true, AuditOptions::Sink::file, path}, metrics);
    AuditEvent e;
    e.type = audit_event::kToolCall;
    e.outcome = "success";
    e.subject = "alice";
    e.tool = "echo";
    e.argument_digest = "hmac-sha256:00";
    e.duration_ms = 1.5;
    sink.record(e);
    AuditEvent ended;
    ended.type = audit_event::kSessionEnded;
    ended.reason = "deleted";
    sink.record(ended);
  }
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].at("event").as_string(), "earlier");  // appended, not truncated
  EXPECT_EQ(lines[1].at("event").as_string(), "tool_call");
  EXPECT_EQ(lines[1].at("subject").as_string(), "alice");
  EXPECT_EQ(lines[1].at("tool").as_string(), "echo");
  EXPECT_EQ(lines[1].at("duration_ms").as_double(), 1.5);
  EXPECT_TRUE(lines[1].contains("time"));
  EXPECT_FALSE(lines[1].contains("issuer"));  // empty fields are left out
  EXPECT_EQ(lines[2].at("reason").as_string(), "deleted");
  EXPECT_NE(metrics.expose().find("bastion_audit_events_total{type=\"tool_call\"} 1\n"), std::string::npos);
  std::filesystem::remove(path);
}

TEST(Audit, ANewFileIsCreatedOwnerOnly) {
  const std::string path = temp_path("bastion-audit-new");
  std::filesystem::remove(path);
  MetricsRegistry metrics;
  AuditSink sink(AuditOptions{true, AuditOptions::Sink::file, path}, metrics);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::filesystem::remove(path);
}

TEST(Audit, AnUnopenableFileIsAStartUpError) {
  MetricsRegistry metrics;
  EXPECT_THROW(AuditSink(AuditOptions{true, AuditOptions::Sink::file, "/nonexistent-dir/x/audit.log"}, metrics),
               std::runtime_error);
}

TEST(Audit, FailedWritesAreCountedAndExposed) {
  MetricsRegistry metrics;
  // A descriptor open for reading only: every write fails with EBADF.
  const int fd = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(fd, 0);
  {
    AuditSink sink(fd, metrics);
    sink.record(tool_call());
    sink.record(tool_call());
    EXPECT_EQ(sink.failures(), 2u);
  }
  ::close(fd);
  EXPECT_NE(metrics.expose().find("bastion_audit_write_failures_total 2\n"), std::string::npos) << metrics.expose();
}

TEST(Audit, DisabledRecordsNothing) {
  MetricsRegistry metrics;
  AuditSink sink(AuditOptions{}, metrics);
  EXPECT_FALSE(sink.enabled());
  sink.record(tool_call());
  EXPECT_EQ(sink.failures(), 0u);
}
