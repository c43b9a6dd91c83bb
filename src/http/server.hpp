// The HTTP/1.1 server: listeners (TCP or TLS), connections, limits, graceful shutdown.
// Beast and Asio stay inside server.cpp; users see only exchange.hpp types.
//
// Threading: one io_context run by N threads; each connection lives on its own strand, so a
// connection's state is never shared under a lock. Handlers are called on the connection's
// strand and must not block: slow work goes to a worker pool that answers later through the
// Exchange (a "deferred" response), from any thread.
//
// Client going away: while a response or stream is pending, the connection keeps a read open;
// EOF or a reset there closes the connection and fires Exchange::on_peer_closed. A client that
// half-closes its sending side after the request is treated as gone too (as nginx does: it
// cannot be told apart from one that left).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/exchange.hpp"

namespace bastion::http {

// Every limit is explicit (DESIGN.md §5: every read has a deadline, every body a limit, every
// queue a bound). Defaults suit an internet-facing MCP server.
struct Limits {
  // Request line plus header fields, in bytes. Larger -> 431 (RFC 6585 §5) and close.
  std::size_t max_header_bytes = 16 * 1024;
  // Request content, in bytes, whether Content-Length or chunked. Larger -> 413 (RFC 9110
  // §15.5.14) and close; a too-large Content-Length is refused before any body byte is read.
  std::size_t max_body_bytes = 4 * 1024 * 1024;
  // TLS handshake, then a whole request (head and body) from its first byte. Exceeded -> 408
  // (RFC 9110 §15.5.9) when nothing is being answered, then close. Defeats slowloris.
  std::chrono::milliseconds read_timeout{std::chrono::seconds(30)};
  // Keep-alive: how long an idle connection may wait for its next request before we close it.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  // A response write that makes no progress for this long closes the connection: a client
  // that stops reading must not pin our memory (slow-read defence).
  std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};
  // Open connections across all listeners. Beyond it new connections are closed at once and
  // counted in refused_connection_count().
  std::size_t max_connections = 10000;
  // Bytes queued but not yet sent on one connection (mostly event streams). Exceeded -> close.
  std::size_t max_write_queue_bytes = 8 * 1024 * 1024;
  // stop_gracefully(): how long in-flight requests get to finish before connections are cut.
  std::chrono::milliseconds shutdown_grace{std::chrono::seconds(10)};
  // Lingering close (RFC 9112 §9.6). When we close a connection the client may still be
  // sending: typically the rest of a body we refused with 413 (or 400/408/431/501) before
  // reading it. Closing with unread bytes makes the kernel send a reset, and the client then
  // sees a network error instead of our answer. So after a refusal we write the answer
  // (Connection: close), half-close, and keep reading and discarding what arrives until the
  // client closes, or it sent more than lingering_close_bytes (counted from the refusal), or
  // lingering_close_timeout passed (counted from the end of our answer); then we close. Over
  // TLS our close_notify answers the client's instead of preceding the discarding (details in
  // server.cpp). Other closes, where nothing more is expected from the client (after a
  // complete exchange, idle keep-alive, graceful stop), linger the same way but for at most
  // 2 s. A lingering connection still counts against max_connections and is cut when a
  // graceful stop's shutdown_grace runs out.
  //
  // Bytes: keep it above max_body_bytes, since a body refused on its Content-Length is not read
  // at all before the 413 and the client may send all of it afterwards (default: 4 x the
  // default max_body_bytes).
  std::size_t lingering_close_bytes = 16 * 1024 * 1024;
  // Time; 0: no lingering (the connection is closed as soon as the answer is written).
  std::chrono::milliseconds lingering_close_timeout{std::chrono::seconds(5)};
};

struct TlsFiles {
  std::string certificate_file;  // PEM, leaf first then intermediates
  std::string private_key_file;  // PEM
};

struct ListenerSpec {
  std::string address = "127.0.0.1";  // IP literal, or "localhost" for 127.0.0.1
  std::uint16_t port = 0;             // 0: any free port (tests)
  std::optional<TlsFiles> tls;        // TLS 1.2+ when set
  // Plain HTTP beyond loopback leaks bearer tokens (MCP authorization §Communication Security:
  // endpoints MUST be served over HTTPS). Allowed only behind a TLS-terminating proxy, on request.
  bool allow_plain_http_on_non_loopback = false;
};

// Requests the HTTP layer answered itself, before any handler saw them (for /metrics).
struct RejectionCounts {
  std::uint64_t bad_request = 0;              // 400: malformed request
  std::uint64_t request_timeout = 0;          // 408: read_timeout
  std::uint64_t payload_too_large = 0;        // 413: max_body_bytes
  std::uint64_t header_fields_too_large = 0;  // 431: max_header_bytes
  std::uint64_t other = 0;                    // 501 and the like
};

class Server {
 public:
  // `threads`: I/O threads (0 is taken as 1). `handler` is called on a connection's strand for
  // every request that passed the HTTP-level checks. Throws std::invalid_argument for an empty
  // handler or nonsensical limits (zero timeouts, zero connection cap, ...).
  Server(Limits limits, Handler handler, std::size_t threads);
  // Stops at once (as stop()) and waits for the I/O threads; must not be called from one.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting; returns the bound port. Call before run()/start() or while
  // running. Throws std::runtime_error with a clear message when the address is invalid, the
  // bind fails, the TLS files cannot be loaded, or plain HTTP is asked for on a non-loopback
  // address without allow_plain_http_on_non_loopback.
  std::uint16_t listen(const ListenerSpec& spec);

  // Runs the I/O threads, the calling thread being one of them; returns once the server has
  // stopped (stop(), or stop_gracefully() after draining).
  void run();
  // Runs the I/O threads in the background and returns at once; wait() joins them.
  void start();
  void wait();

  // Stop accepting; idle keep-alive connections close; requests being read or answered finish
  // (their responses carry Connection: close); open streams are ended (their on_peer_closed
  // callbacks fire). Whatever is still open after Limits::shutdown_grace is cut.
  // Thread-safe, non-blocking, idempotent.
  void stop_gracefully();
  // Closes everything now. Thread-safe, non-blocking.
  void stop();

  // First of these signals -> stop_gracefully(), second -> stop(). For the application's
  // SIGTERM/SIGINT handling; the server stops listening for them once it has stopped.
  void stop_on_signals(std::initializer_list<int> signal_numbers);

  // Connections currently open (accepted and not yet closed).
  std::size_t connection_count() const;
  // Connections refused since start because max_connections was reached.
  std::uint64_t refused_connection_count() const;
  // Requests refused by the HTTP layer since start, by status.
  RejectionCounts rejection_counts() const;
  const Limits& limits() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace bastion::http
