// An mcp::Outbound that records what the dispatcher sends for one request, so tests can wait
// for messages and the response without a transport.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <vector>

#include "mcp/session.hpp"

namespace bastion::testing {

class RecordingOutbound : public mcp::Outbound {
 public:
  void send(boost::json::object m) override {
    std::lock_guard l(mu);
    sent.push_back(std::move(m));
    cv.notify_all();
  }
  void respond(boost::json::object r) override {
    std::lock_guard l(mu);
    response = std::move(r);
    cv.notify_all();
  }
  void abandon() override {
    std::lock_guard l(mu);
    abandoned = true;
    cv.notify_all();
  }

  boost::json::object wait_response() {
    std::unique_lock l(mu);
    EXPECT_TRUE(cv.wait_for(l, std::chrono::seconds(10), [&] { return response.has_value(); })) << "no response";
    return response.value_or(boost::json::object{});
  }
  // True once at least n messages were sent.
  bool wait_sent(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock l(mu);
    return cv.wait_for(l, timeout, [&] { return sent.size() >= n; });
  }
  // The n-th message (1-based) once it was sent; an empty object (and a failed expectation) if not.
  boost::json::object wait_message(std::size_t n) {
    EXPECT_TRUE(wait_sent(n)) << "fewer than " << n << " messages";
    std::lock_guard l(mu);
    return sent.size() >= n ? sent[n - 1] : boost::json::object{};
  }
  bool wait_abandoned() {
    std::unique_lock l(mu);
    return cv.wait_for(l, std::chrono::seconds(10), [&] { return abandoned; });
  }
  std::vector<boost::json::object> messages() {
    std::lock_guard l(mu);
    return sent;
  }
  bool has_response() {
    std::lock_guard l(mu);
    return response.has_value();
  }

  std::mutex mu;
  std::condition_variable cv;
  std::vector<boost::json::object> sent;
  std::optional<boost::json::object> response;
  bool abandoned = false;
};

}  // namespace bastion::testing
