#include "transport/event_stream.hpp"

#include <charconv>

namespace bastion::transport {

http::Headers event_stream_headers() {
  http::Headers h;
  h.set("Content-Type", "text/event-stream");
  h.set("Cache-Control", "no-cache, no-transform");
  h.set("X-Accel-Buffering", "no");
  return h;
}

EventStream::EventStream(std::string stream_id, StreamSettings settings)
    : id_(std::move(stream_id)), settings_(settings) {}

std::string EventStream::format_event(std::uint64_t seq, std::string_view data) const {
  std::string out;
  out.reserve(data.size() + id_.size() + 48);
  if (!settings_.legacy_sse_framing) {
    out += "id: ";
    out += id_;
    out += '_';
    out += std::to_string(seq);
    out += '\n';
  }
  out += "event: message\n";
  // Serialised JSON has no raw newlines, so each message sits on one data: line.
  out += "data: ";
  out += data;
  out += "\n\n";
  return out;
}

void EventStream::start_locked(const std::shared_ptr<http::Exchange>& exchange, http::Headers extra_headers) {
  http::Headers headers = event_stream_headers();
  for (const auto& [k, v] : extra_headers.fields()) headers.set(k, v);
  exchange->start_stream(200, std::move(headers), settings_.keepalive);
  exchange_ = exchange;
  std::weak_ptr<EventStream> weak = shared_from_this();
  const http::Exchange* raw = exchange.get();
  exchange->on_peer_closed([weak, raw] {
    if (auto self = weak.lock()) self->detach(raw);
  });
}

bool EventStream::attach(const std::shared_ptr<http::Exchange>& exchange, std::optional<std::uint64_t> after,
                         http::Headers extra_headers) {
  std::lock_guard lock(mutex_);
  if (exchange_) return false;
  bool first = next_seq_ == 1 && buffer_.empty();
  start_locked(exchange, std::move(extra_headers));
  if (first && settings_.priming_event && !after) {
    // The priming event gives the client an id to resume from before anything else was sent
    // (2025-11-25 transports.mdx §Sending Messages to the Server, SHOULD).
    exchange->write("id: " + id_ + "_0\ndata: \n\n");
  }
  if (after) {
    for (const auto& [seq, text] : buffer_)
      if (seq > *after) exchange->write(text);
  }
  if (ended_) {
    exchange->finish();
    exchange_.reset();
  }
  return true;
}

bool EventStream::attached() const {
  std::lock_guard lock(mutex_);
  return exchange_ != nullptr;
}

void EventStream::send(const std::string& json_text) {
  std::lock_guard lock(mutex_);
  if (ended_) return;
  std::uint64_t seq = next_seq_++;
  std::string event = format_event(seq, json_text);
  if (!settings_.legacy_sse_framing) {
    buffer_.emplace_back(seq, event);
    // Bounded: a client that never comes back must not grow our memory.
    while (buffer_.size() > settings_.max_buffered_events) buffer_.pop_front();
  }
  if (exchange_) exchange_->write(std::move(event));
}

void EventStream::send_named(std::string_view event, std::string_view data) {
  std::lock_guard lock(mutex_);
  if (!exchange_ || ended_) return;
  std::string text = "event: ";
  text += event;
  text += "\ndata: ";
  text += data;
  text += "\n\n";
  exchange_->write(std::move(text));
}

void EventStream::end() {
  std::lock_guard lock(mutex_);
  if (ended_) return;
  ended_ = true;
  if (exchange_) {
    exchange_->finish();
    exchange_.reset();
  }
}

bool EventStream::ended() const {
  std::lock_guard lock(mutex_);
  return ended_;
}

void EventStream::close_connection(std::chrono::milliseconds retry) {
  std::lock_guard lock(mutex_);
  if (!exchange_) return;
  exchange_->write("retry: " + std::to_string(retry.count()) + "\n\n");
  exchange_->finish();
  exchange_.reset();
}

void EventStream::detach(const http::Exchange* exchange) {
  std::lock_guard lock(mutex_);
  if (exchange_.get() == exchange) exchange_.reset();
}

std::optional<std::pair<std::string, std::uint64_t>> parse_event_id(std::string_view id) {
  auto sep = id.rfind('_');
  if (sep == std::string_view::npos || sep == 0 || sep + 1 >= id.size()) return std::nullopt;
  std::uint64_t seq = 0;
  auto digits = id.substr(sep + 1);
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
  return std::make_pair(std::string(id.substr(0, sep)), seq);
}

}  // namespace bastion::transport
