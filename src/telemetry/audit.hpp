// The audit trail: one JSON object per line per security-relevant event, on its own sink (a
// file opened O_APPEND, or stdout), separate from the operational log. It answers "who called
// which tool, when, with what result". Records never hold tokens, secrets, cookies or
// authorization codes; tool arguments appear only as a SHA-256 digest.
//
// Append-only: each record is one write(2) on an O_APPEND descriptor, so concurrent records and
// other writers never interleave within a line (POSIX write(2) with O_APPEND). A failed or
// short write is counted in bastion_audit_write_failures_total and logged; it is never silently
// dropped, and the request goes on (failing closed on an audit error is a policy the operator
// can build on the metric).
#pragma once

#include <boost/json/object.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "telemetry/metrics.hpp"

namespace bastion::telemetry {

// Event types; the lead wires the auth ones at merge.
namespace audit_event {
inline constexpr const char* kToolCall = "tool_call";
inline constexpr const char* kAuthenticationFailure = "authentication_failure";
inline constexpr const char* kAuthorizationDenied = "authorization_denied";
inline constexpr const char* kSessionCreated = "session_created";
inline constexpr const char* kSessionEnded = "session_ended";
inline constexpr const char* kConsentGranted = "consent_granted";
inline constexpr const char* kClientRegistered = "client_registered";
inline constexpr const char* kConfigurationLoaded = "configuration_loaded";
}  // namespace audit_event

struct AuditEvent {
  std::string type;     // one of audit_event::*
  std::string outcome;  // "success", "error", "denied", "failure", ...
  std::string reason;   // why (a fixed vocabulary: "invalid_token", "expired", ...), never the token
  // Who.
  std::string issuer;
  std::string subject;
  std::string client_id;
  std::string remote_address;
  // Where.
  std::string route;
  std::string request_id;
  std::string trace_id;
  std::string session_id;
  // What.
  std::string tool;
  std::string argument_digest;  // "hmac-sha256:<hex>" (argument_digest() in telemetry.hpp)
  std::optional<double> duration_ms;
  boost::json::object details;  // extra fields; callers put no secrets here
};

struct AuditOptions {
  bool enabled = false;
  enum class Sink { stdout_stream, file } sink = Sink::stdout_stream;
  std::string path;  // for Sink::file
};

class AuditSink {
 public:
  // Opens the file (created 0600 when missing). Throws std::runtime_error when it cannot be
  // opened: an audit trail that was asked for and cannot be written is a start-up error.
  // Registers bastion_audit_events_total{type} and bastion_audit_write_failures_total.
  AuditSink(const AuditOptions& options, MetricsRegistry& metrics);
  // For tests: writes to `fd` (not closed).
  AuditSink(int fd, MetricsRegistry& metrics);
  ~AuditSink();
  AuditSink(const AuditSink&) = delete;
  AuditSink& operator=(const AuditSink&) = delete;

  bool enabled() const { return fd_ >= 0; }
  // Thread-safe; does nothing when disabled. Adds "time" (RFC 3339, UTC) and "event".
  void record(const AuditEvent& event);

  std::uint64_t failures() const { return static_cast<std::uint64_t>(failures_.value()); }

  static std::string to_json_line(const AuditEvent& event);

 private:
  int fd_ = -1;
  bool owns_fd_ = false;
  CounterFamily& events_;
  Counter& failures_;
  std::mutex mutex_;
};

}  // namespace bastion::telemetry
