// Security events of the embedded authorization server, for the audit trail. Plain values only;
// never a password, authorization code, token or client secret (OWASP Logging Cheat Sheet: data
// to exclude). `client_id` and `subject` are identifiers, not credentials.
#pragma once

#include <functional>
#include <string>

namespace bastion::authserver {

enum class SecurityEventKind {
  login_succeeded,
  login_failed,           // wrong user name or password (which one is not said)
  login_rate_limited,
  consent_granted,
  consent_denied,
  client_registered,      // Dynamic Client Registration (RFC 7591)
  client_registration_refused,
  client_metadata_refused,  // a Client ID Metadata Document could not be fetched or was invalid
  refresh_token_reuse_detected,  // the whole family was revoked
  authorization_code_reuse_detected,
  token_revoked,          // RFC 7009
  signing_key_rotated,
  admin_user_created,
};

std::string_view to_string(SecurityEventKind kind);

struct SecurityEvent {
  SecurityEventKind kind;
  std::string client_id;       // may be empty
  std::string subject;         // the user name, when known
  std::string remote_address;  // the TCP peer
  std::string detail;          // a short, non-secret reason ("bad password", "address refused", ...)
};

using SecurityEventSink = std::function<void(const SecurityEvent&)>;

}  // namespace bastion::authserver
