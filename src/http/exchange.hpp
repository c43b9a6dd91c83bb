// The HTTP layer's public face: plain request/response types and the Exchange through which one
// request is answered, either at once or as a long-lived event stream. No Beast or Asio types
// appear here, so transport/ and mcp/ never depend on them (DESIGN.md §3).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bastion::http {

// Header fields in arrival order; names compare case-insensitively (RFC 9110 §5.1).
class Headers {
 public:
  void add(std::string name, std::string value) { fields_.emplace_back(std::move(name), std::move(value)); }
  void reserve(std::size_t fields) { fields_.reserve(fields); }
  void set(std::string_view name, std::string value);
  // First value of a field, or nullptr.
  const std::string* find(std::string_view name) const;
  // Number of fields with this name (to refuse duplicated singleton headers).
  std::size_t count(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

// Case-insensitive ASCII comparison. The length test inline: header lookups compare a name
// against every field, and most differ in length: a call per field was about 500 instructions
// per request of the bench's load (callgrind: 61,763 -> 61,266 with telemetry off).
bool iequals_same_size(const char* a, const char* b, std::size_t size);
inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && iequals_same_size(a.data(), b.data(), a.size());
}

struct Request {
  std::string method;        // "GET", "POST", ... as received
  std::string target;        // request-target as received
  std::string path;          // percent-decoded path of the target, without the query
  std::string query;         // raw query string without '?'
  Headers headers;
  std::string body;
  std::string remote_address;  // peer IP (the socket's, not X-Forwarded-For)
  bool secure = false;         // arrived over TLS
};

// Value of one query parameter (percent-decoded), or nullopt.
std::optional<std::string> query_param(const Request& request, std::string_view name);

// The X-Request-Id field's value, held inline: a std::string of an id's length (16 hex digits)
// is a heap allocation and a free on every response. Up to kCapacity bytes; a longer value is
// not kept (assign() returns false).
class RequestIdField {
 public:
  static constexpr std::size_t kCapacity = 32;  // a span id is 16 hex digits, a trace id 32
  bool assign(std::string_view value);
  std::string_view view() const { return {data_.data(), size_}; }
  bool empty() const { return size_ == 0; }

 private:
  std::array<char, kCapacity> data_{};
  std::uint8_t size_ = 0;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // Sent as X-Request-Id when set, in place of any X-Request-Id in `headers` (telemetry sets it:
  // the id a user quotes to an operator).
  RequestIdField request_id;
};

// A response with `status`, `body` and no fields of its own (acknowledgements, refusals).
inline Response plain_response(int status, std::string body = {}) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

class Exchange;

// What observes an exchange (telemetry's request record), told of its answer as it is given.
// The exchange calls it before handing the answer to its implementation, so that the observer
// may add to it (the X-Request-Id). Opaque otherwise to this layer.
class ExchangeObserver {
 public:
  virtual ~ExchangeObserver() = default;
  virtual void responding(Response& response) = 0;
  virtual void stream_starting(Exchange& exchange, int status, Headers& headers) = 0;
  virtual void stream_writing(std::size_t bytes) = 0;
  virtual void stream_finished() = 0;  // called after the implementation's finish
  // The exchange is being destroyed and neither respond() nor finish() was called on it.
  virtual void unanswered() = 0;
};

// One request's answer channel. Every member is safe to call from any thread: calls are posted
// to the connection's strand. Exactly one of respond() or start_stream() is called.
//
// The answering calls are not virtual: each tells the observer (when there is one), then the
// implementation (do_respond(), ...). So an observer needs no decorator around the exchange,
// which cost an allocation per request and a forwarding call for every use of the exchange.
class Exchange {
 public:
  virtual ~Exchange() {
    // Runs after the implementation's destructor: the observer only learns the fact.
    if (observer_ && !answered_) observer_->unanswered();
  }

  virtual const Request& request() const = 0;

  // A complete response. Content-Length is set by the HTTP layer.
  void respond(Response response) {
    if (observer_) {
      observer_->responding(response);
      answered_ = true;
    }
    do_respond(std::move(response));
  }

  // Starts a streamed response (used for text/event-stream). The HTTP layer writes the head at
  // once, then each write() as it comes, and a keep-alive comment line ": keep-alive\n\n" when
  // nothing was written for `keepalive` (zero: none). The stream ends with finish() or when the
  // peer goes away. Writes beyond the connection's write-queue bound close the connection (a
  // client that does not read must not grow our memory).
  void start_stream(int status, Headers headers, std::chrono::milliseconds keepalive) {
    if (observer_) observer_->stream_starting(*this, status, headers);
    do_start_stream(status, std::move(headers), keepalive);
  }
  void write(std::string data) {
    if (observer_) observer_->stream_writing(data.size());
    do_write(std::move(data));
  }
  void finish() {
    do_finish();
    if (observer_) {
      observer_->stream_finished();
      answered_ = true;
    }
  }

  // Called once, on the connection's strand, when the peer closed the connection or the
  // connection was torn down before the response (or stream) was complete.
  virtual void on_peer_closed(std::function<void()> callback) = 0;
  virtual bool peer_closed() const = 0;

  // Makes `observer` this exchange's observer (once, before the exchange is answered; the
  // exchange keeps it alive). A plain load to read back: the pipeline asks for it several times
  // per request.
  void set_observer(std::shared_ptr<ExchangeObserver> observer) { observer_ = std::move(observer); }
  const std::shared_ptr<ExchangeObserver>& observer() const { return observer_; }

 protected:
  virtual void do_respond(Response response) = 0;
  virtual void do_start_stream(int status, Headers headers, std::chrono::milliseconds keepalive) = 0;
  virtual void do_write(std::string data) = 0;
  virtual void do_finish() = 0;

 private:
  std::shared_ptr<ExchangeObserver> observer_;
  // Set by the thread that answers; read by the destructor, which runs after the last
  // reference's release (the shared_ptr count orders the two).
  bool answered_ = false;
};

using Handler = std::function<void(std::shared_ptr<Exchange>)>;

// Convenience: a complete JSON response.
Response json_response(int status, std::string body);

}  // namespace bastion::http
