#include "telemetry/audit.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "telemetry/log.hpp"

namespace bastion::telemetry {

namespace json = boost::json;

namespace {

void put(json::object& o, std::string_view key, const std::string& value) {
  if (!value.empty()) o[key] = value;
}

}  // namespace

AuditSink::AuditSink(const AuditOptions& options, MetricsRegistry& metrics)
    : events_(metrics.counter("bastion_audit_events_total", "Audit records written, by event type.", {"type"})),
      failures_(metrics
                    .counter("bastion_audit_write_failures_total",
                             "Audit records that could not be written completely (the record is lost).")
                    .with()) {
  if (!options.enabled) return;
  if (options.sink == AuditOptions::Sink::stdout_stream) {
    fd_ = STDOUT_FILENO;
    return;
  }
  fd_ = ::open(options.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) throw std::runtime_error("cannot open the audit file " + options.path + ": " + std::strerror(errno));
  owns_fd_ = true;
}

AuditSink::AuditSink(int fd, MetricsRegistry& metrics)
    : fd_(fd),
      events_(metrics.counter("bastion_audit_events_total", "Audit records written, by event type.", {"type"})),
      failures_(metrics
                    .counter("bastion_audit_write_failures_total",
                             "Audit records that could not be written completely (the record is lost).")
                    .with()) {}

AuditSink::~AuditSink() {
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
}

std::string AuditSink::to_json_line(const AuditEvent& e) {
  json::object o;
  o["time"] = rfc3339_now();
  o["event"] = e.type;
  put(o, "outcome", e.outcome);
  put(o, "reason", e.reason);
  put(o, "issuer", e.issuer);
  put(o, "subject", e.subject);
  put(o, "client_id", e.client_id);
  put(o, "remote_address", e.remote_address);
  put(o, "route", e.route);
  put(o, "request_id", e.request_id);
  put(o, "trace_id", e.trace_id);
  put(o, "session_id", e.session_id);
  put(o, "tool", e.tool);
  put(o, "argument_digest", e.argument_digest);
  if (e.duration_ms) o["duration_ms"] = *e.duration_ms;
  for (const auto& [k, v] : e.details)
    if (!o.contains(k)) o[k] = v;
  std::string line = json::serialize(o);
  line.push_back('\n');
  return line;
}

void AuditSink::record(const AuditEvent& event) {
  if (fd_ < 0) return;
  const std::string line = to_json_line(event);
  bool ok = false;
  int error = 0;
  {
    std::lock_guard lock(mutex_);
    // One write: O_APPEND makes it atomic with respect to other appenders. EINTR is retried; a
    // short write is a failure (the line is torn, and retrying the rest could interleave).
    ssize_t n;
    do n = ::write(fd_, line.data(), line.size());
    while (n < 0 && errno == EINTR);
    ok = n == static_cast<ssize_t>(line.size());
    if (!ok) error = n < 0 ? errno : 0;
  }
  if (ok) {
    events_.with({event.type}).inc();
    return;
  }
  failures_.inc();
  spdlog::error("audit: a {} record could not be written ({}); {} audit write failures so far", event.type,
                error ? std::strerror(error) : "short write", static_cast<std::uint64_t>(failures_.value()));
}

}  // namespace bastion::telemetry
