// One SSE stream of a legacy session: the response stream of a POST, or the standalone GET
// stream. It outlives the HTTP connection that carries it: when the connection drops, events
// are kept (bounded) and replayed to a GET that resumes with Last-Event-ID
// (2025-11-25 transports.mdx §Resumability and Redelivery).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "http/exchange.hpp"

namespace bastion::transport {

struct StreamSettings {
  std::chrono::milliseconds keepalive{std::chrono::seconds(15)};
  std::size_t max_buffered_events = 1000;
  bool priming_event = false;      // 2025-11-25 sessions: an empty event with an id first
  bool legacy_sse_framing = false; // 2024-11-05 transport: no ids, `event: message`
};

// The response head every MCP event stream carries (`X-Accel-Buffering: no` so proxies do not
// buffer it, PEERS.md pain 6).
http::Headers event_stream_headers();

class EventStream : public std::enable_shared_from_this<EventStream> {
 public:
  EventStream(std::string stream_id, StreamSettings settings);

  const std::string& id() const { return id_; }

  // Attaches an HTTP exchange and starts the SSE response on it; replays buffered events with a
  // sequence number above `after` (nullopt: none are replayed). False when another connection
  // is attached already.
  bool attach(const std::shared_ptr<http::Exchange>& exchange, std::optional<std::uint64_t> after,
              http::Headers extra_headers = {});
  bool attached() const;

  // Sends one JSON-RPC message as an event (buffered for replay; written if attached).
  void send(const std::string& json_text);
  // Sends a raw named event without an id (the 2024-11-05 `endpoint` event).
  void send_named(std::string_view event, std::string_view data);
  // Ends the stream: the current connection is finished, later resumptions replay and finish.
  void end();
  bool ended() const;
  // SEP-1699: tell the client when to reconnect, then close the connection, keep the stream.
  void close_connection(std::chrono::milliseconds retry);
  // The connection dropped (peer closed): keep buffering.
  void detach(const http::Exchange* exchange);

 private:
  std::string format_event(std::uint64_t seq, std::string_view data) const;
  void start_locked(const std::shared_ptr<http::Exchange>& exchange, http::Headers extra_headers);

  const std::string id_;
  const StreamSettings settings_;
  // Recursive: the HTTP layer may report a peer close from inside a call we make under the lock.
  mutable std::recursive_mutex mutex_;
  std::shared_ptr<http::Exchange> exchange_;
  std::deque<std::pair<std::uint64_t, std::string>> buffer_;
  std::uint64_t next_seq_ = 1;
  bool ended_ = false;
};

// Parses "<stream id>_<sequence>" (the form of every event id we send).
std::optional<std::pair<std::string, std::uint64_t>> parse_event_id(std::string_view id);

}  // namespace bastion::transport
