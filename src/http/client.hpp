// The outbound HTTP/1.1 client: JWKS and discovery documents, token introspection, Client ID
// Metadata Documents, OTLP export. Every call is blocking and bounded: one deadline covers
// resolve, connect, TLS handshake, write and read; the response body has a size limit; redirects
// are off unless asked for. Callers run it off the I/O threads (a background refresher, an
// exporter thread, a worker).
//
// Server-side request forgery (OWASP SSRF; MCP authorization spec, "Client ID Metadata
// Documents", security considerations): a URL that an untrusted party chose is fetched with an
// AddressPolicy. Every resolved address is checked before connecting, the connection goes to the
// checked address (never a second resolution, so DNS rebinding cannot swap it), and each redirect
// hop is checked again.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "core/result.hpp"
#include "http/exchange.hpp"

namespace bastion::http {

// Which destination addresses a fetch may connect to.
enum class AddressPolicy {
  any,                  // operator-configured URLs (an issuer, a collector)
  public_only,          // untrusted URLs: no loopback, private, link-local, CGNAT, multicast, ...
  public_or_loopback,   // untrusted URLs in development: public plus 127.0.0.0/8 and ::1
};

struct ClientOptions {
  std::chrono::milliseconds timeout{5000};        // the whole exchange, every hop included
  std::size_t max_response_bytes = 1024 * 1024;   // body limit; larger answers fail
  std::size_t max_header_bytes = 16 * 1024;
  int max_redirects = 0;                          // 0: a 3xx is returned as it is
  // Plain http:// URLs: refused unless allowed. `allow_http_loopback_only` permits http:// only
  // when the host resolves to loopback (a local issuer or collector in development).
  bool allow_http = false;
  bool allow_http_loopback_only = false;
  AddressPolicy address_policy = AddressPolicy::any;
  // TLS: the system trust store, plus this PEM file when set (a private CA, test certificates).
  std::string ca_file;
  std::string user_agent = "bastion";
  // KeepAliveClient only: when the peer closes a kept connection just as a request goes out
  // (before any byte of an answer), send the request once more on a new connection. Only for
  // requests whose repetition is harmless (RFC 9112 §9.3.1: a client must not repeat a
  // non-idempotent request on its own).
  bool retry_on_closed_connection = false;
};

struct ClientRequest {
  std::string method = "GET";
  std::string url;   // absolute http:// or https:// URL
  Headers headers;   // Host, Content-Length and User-Agent are set by the client
  std::string body;
};

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;
  std::string url;   // the URL that answered (after redirects)
};

// Error.message says what failed without echoing response bytes; Error.code is one of the
// ClientErrorCode values so callers can count failures by kind.
enum class ClientErrorCode {
  bad_url = 1,
  scheme_refused,
  address_refused,   // the AddressPolicy refused every resolved address
  resolve_failed,
  connect_failed,
  tls_failed,
  timeout,
  too_large,
  protocol_error,
  too_many_redirects,
};

Result<ClientResponse> fetch(const ClientRequest& request, const ClientOptions& options);

// The same calls, with the connection kept open from one call to the next when the answer
// allows it (HTTP/1.1 persistent connections, RFC 9112 §9.3), and the io_context (with the
// resolver's thread) kept too: for a caller that sends to one place again and again, such as
// the OTLP exporter, which would otherwise pay a thread, a TCP handshake and, over https, a TLS
// handshake per batch. One connection at a time: a call to another origin, or under other
// address rules or trust store, replaces it. A kept connection is used again only if the peer
// has not closed it and it has been idle for at most kMaxIdle. Calls are serialized.
class KeepAliveClient {
 public:
  static constexpr std::chrono::seconds kMaxIdle{30};

  KeepAliveClient();
  ~KeepAliveClient();
  KeepAliveClient(const KeepAliveClient&) = delete;
  KeepAliveClient& operator=(const KeepAliveClient&) = delete;

  Result<ClientResponse> fetch(const ClientRequest& request, const ClientOptions& options);
  bool holds_connection() const;  // a connection is kept (for tests)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The seam tests and callers inject (a fake in unit tests, http::fetch in production).
using Fetcher = std::function<Result<ClientResponse>(const ClientRequest&, const ClientOptions&)>;
Fetcher default_fetcher();
Fetcher keep_alive_fetcher();  // one KeepAliveClient shared by the returned function's copies

// True when `address` (an IP literal, v4 or v6, v4-mapped v6 unwrapped) may be reached under
// `policy`. Exposed for tests and for callers that check a literal before fetching.
bool address_allowed(const std::string& address, AddressPolicy policy);

}  // namespace bastion::http
