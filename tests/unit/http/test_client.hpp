// A small blocking HTTP client for the server tests: raw bytes out, Beast-parsed responses in,
// every wait bounded by a timeout (tests never hang, never assert on speed).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

namespace bastion::http::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using TestResponse = beast::http::response<beast::http::string_body>;

inline constexpr std::chrono::seconds kWaitLimit{5};

class TestClient {
 public:
  explicit TestClient(std::uint16_t port) : stream_(io_) {
    stream_.expires_after(kWaitLimit);
    stream_.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                          [this](const beast::error_code& ec) { connect_error_ = ec; });
    run();
  }

  bool connected() const { return !connect_error_; }

  bool send(std::string_view bytes) {
    beast::error_code result;
    stream_.expires_after(kWaitLimit);
    asio::async_write(stream_, asio::buffer(bytes.data(), bytes.size()),
                      [&](const beast::error_code& ec, std::size_t) { result = ec; });
    run();
    return !result;
  }

  // One response; nullopt on timeout, close or parse error.
  std::optional<TestResponse> read_response(bool head_request = false, std::chrono::milliseconds limit = kWaitLimit) {
    beast::http::response_parser<beast::http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (head_request) parser.skip(true);
    beast::error_code result;
    stream_.expires_after(limit);
    beast::http::async_read(stream_, buffer_, parser, [&](const beast::error_code& ec, std::size_t) { result = ec; });
    run();
    if (result) return std::nullopt;
    return parser.release();
  }

  // Raw bytes until `needle` appears (everything read so far is returned and consumed).
  std::string read_until(std::string_view needle, std::chrono::milliseconds limit = kWaitLimit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      std::string_view have(static_cast<const char*>(buffer_.data().data()), buffer_.size());
      auto now = std::chrono::steady_clock::now();
      if (have.find(needle) != std::string_view::npos || now >= deadline || !read_some(deadline - now)) {
        std::string out(static_cast<const char*>(buffer_.data().data()), buffer_.size());
        buffer_.consume(buffer_.size());
        return out;
      }
    }
  }

  // True when the server ends the connection (EOF or reset) within the limit. Bytes received
  // meanwhile are discarded, or appended to `received`.
  bool wait_closed(std::chrono::milliseconds limit = kWaitLimit, std::string* received = nullptr) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if (received) received->append(static_cast<const char*>(buffer_.data().data()), buffer_.size());
      buffer_.consume(buffer_.size());
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return false;
      beast::error_code result;
      stream_.expires_after(deadline - now);
      stream_.async_read_some(buffer_.prepare(4096), [&](const beast::error_code& ec, std::size_t n) {
        result = ec;
        buffer_.commit(n);
      });
      run();
      if (result == beast::error::timeout) return false;
      if (result) return true;
    }
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

 private:
  bool read_some(std::chrono::steady_clock::duration limit) {
    beast::error_code result;
    stream_.expires_after(limit);
    stream_.async_read_some(buffer_.prepare(4096), [&](const beast::error_code& ec, std::size_t n) {
      result = ec;
      buffer_.commit(n);
    });
    run();
    return !result;
  }

  void run() {
    io_.restart();
    io_.run();
  }

  asio::io_context io_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  beast::error_code connect_error_;
};

inline std::string header(const TestResponse& response, std::string_view name) {
  auto it = response.find(beast::string_view(name.data(), name.size()));
  if (it == response.end()) return {};
  return std::string(it->value());
}

}  // namespace bastion::http::testing
