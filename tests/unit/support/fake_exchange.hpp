// An in-memory http::Exchange for testing transports without sockets: records the response
// or the streamed bytes, and lets the test play the peer closing the connection.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "http/exchange.hpp"

namespace bastion::testing {

class FakeExchange : public http::Exchange {
 public:
  explicit FakeExchange(http::Request request) : request_(std::move(request)) {}

  static std::shared_ptr<FakeExchange> make(std::string method, std::string path, std::string body = {},
                                            std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::Request r;
    r.method = std::move(method);
    auto q = path.find('?');
    r.target = path;
    r.path = path.substr(0, q);
    if (q != std::string::npos) r.query = path.substr(q + 1);
    r.body = std::move(body);
    r.remote_address = "127.0.0.1";
    for (auto& [k, v] : headers) r.headers.add(k, v);
    return std::make_shared<FakeExchange>(std::move(r));
  }

  const http::Request& request() const override { return request_; }

  void do_respond(http::Response response) override {
    std::lock_guard l(mu_);
    response_ = std::move(response);
    cv_.notify_all();
  }
  void do_start_stream(int status, http::Headers headers, std::chrono::milliseconds) override {
    std::lock_guard l(mu_);
    stream_status_ = status;
    stream_headers_ = std::move(headers);
    cv_.notify_all();
  }
  void do_write(std::string data) override {
    std::lock_guard l(mu_);
    streamed_ += data;
    cv_.notify_all();
  }
  void do_finish() override {
    std::lock_guard l(mu_);
    finished_ = true;
    cv_.notify_all();
  }
  void on_peer_closed(std::function<void()> cb) override {
    std::lock_guard l(mu_);
    close_callbacks_.push_back(std::move(cb));
  }
  bool peer_closed() const override { return peer_closed_; }

  // The test plays the client going away.
  void close_by_peer() {
    std::vector<std::function<void()>> cbs;
    {
      std::lock_guard l(mu_);
      peer_closed_ = true;
      cbs.swap(close_callbacks_);
    }
    for (auto& cb : cbs) cb();
  }

  // Waits until a complete response was given, or a stream started.
  bool wait_answered(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, timeout, [&] { return response_.has_value() || stream_status_ != 0; });
  }
  // Waits until the streamed text contains `needle`.
  bool wait_for_text(std::string_view needle, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, timeout, [&] { return streamed_.find(needle) != std::string::npos; });
  }
  bool wait_finished(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, timeout, [&] { return finished_; });
  }

  int status() {
    std::lock_guard l(mu_);
    return response_ ? response_->status : stream_status_;
  }
  std::string body() {
    std::lock_guard l(mu_);
    return response_ ? response_->body : std::string();
  }
  std::string header(std::string_view name) {
    std::lock_guard l(mu_);
    // As the server sends it: the response's request id is its X-Request-Id field.
    if (response_ && !response_->request_id.empty() && http::iequals(name, "X-Request-Id"))
      return std::string(response_->request_id.view());
    const std::string* v = response_ ? response_->headers.find(name) : stream_headers_.find(name);
    return v ? *v : std::string();
  }
  std::string streamed() {
    std::lock_guard l(mu_);
    return streamed_;
  }
  bool finished() {
    std::lock_guard l(mu_);
    return finished_;
  }
  bool is_stream() {
    std::lock_guard l(mu_);
    return stream_status_ != 0;
  }

 private:
  http::Request request_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<http::Response> response_;
  int stream_status_ = 0;
  http::Headers stream_headers_;
  std::string streamed_;
  bool finished_ = false;
  bool peer_closed_ = false;
  std::vector<std::function<void()>> close_callbacks_;
};

// The `data:` payloads of the SSE events in `text` (one data line per event, as we send them).
inline std::vector<std::string> sse_data(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while ((pos = text.find("data: ", pos)) != std::string::npos) {
    auto end = text.find('\n', pos);
    out.push_back(text.substr(pos + 6, end - pos - 6));
    pos = end;
  }
  return out;
}

}  // namespace bastion::testing
