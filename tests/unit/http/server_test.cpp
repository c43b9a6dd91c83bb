// Server tests over real sockets on 127.0.0.1, port 0. Timeouts are shortened where a test
// exercises them; every wait is bounded and nothing asserts on speed.
#include "http/server.hpp"
#include "test_certificate.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "test_client.hpp"

namespace bastion::http {
namespace {

using namespace std::chrono_literals;
using testing::header;
using testing::TestClient;
using testing::TestResponse;

template <class Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds limit = 5s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return predicate();
}

// Answers with what it received, as JSON-ish text the tests can search.
Handler echo_handler() {
  return [](std::shared_ptr<Exchange> exchange) {
    const Request& request = exchange->request();
    std::string body = "method=" + request.method + " path=" + request.path + " query=" + request.query +
                       " body=" + request.body + " remote=" + request.remote_address +
                       " secure=" + (request.secure ? "1" : "0");
    if (const std::string* host = request.headers.find("Host")) body += " host=" + *host;
    Response response;
    response.headers.add("Content-Type", "text/plain");
    response.body = std::move(body);
    exchange->respond(std::move(response));
  };
}

std::string get(std::string_view target, std::string_view extra_headers = "") {
  return std::string("GET ") + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + std::string(extra_headers) +
         "\r\n";
}

class HttpServerTest : public ::testing::Test {
 protected:
  void start_server(Handler handler, Limits limits = {}, std::size_t threads = 2) {
    server_ = std::make_unique<Server>(limits, std::move(handler), threads);
    port_ = server_->listen(ListenerSpec{});
    server_->start();
  }

  void TearDown() override { server_.reset(); }

  std::unique_ptr<Server> server_;
  std::uint16_t port_ = 0;
};

TEST_F(HttpServerTest, AnswersWithSecurityHeadersAndKeepsAlive) {
  start_server(echo_handler());
  TestClient client(port_);
  ASSERT_TRUE(client.connected());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.send(get("/a/b%20c?x=1&y=%2F")));
    auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->result_int(), 200);
    EXPECT_NE(response->body().find("method=GET path=/a/b c query=x=1&y=%2F"), std::string::npos) << response->body();
    EXPECT_NE(response->body().find("remote=127.0.0.1 secure=0 host=127.0.0.1"), std::string::npos);
    EXPECT_EQ(header(*response, "Cache-Control"), "no-store");
    EXPECT_EQ(header(*response, "X-Content-Type-Options"), "nosniff");
    EXPECT_FALSE(header(*response, "Date").empty());
    EXPECT_EQ(header(*response, "Content-Length"), std::to_string(response->body().size()));
    EXPECT_TRUE(response->keep_alive());
  }
  EXPECT_EQ(server_->connection_count(), 1u);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start_server(echo_handler());
  TestClient client(port_);
  std::string batch;
  for (int i = 0; i < 5; ++i) batch += get("/n" + std::to_string(i));
  ASSERT_TRUE(client.send(batch));
  for (int i = 0; i < 5; ++i) {
    auto response = client.read_response();
    ASSERT_TRUE(response) << i;
    EXPECT_NE(response->body().find("path=/n" + std::to_string(i) + " "), std::string::npos) << response->body();
  }
}

TEST_F(HttpServerTest, HandlerSetHeadersWinButFramingIsOurs) {
  start_server([](std::shared_ptr<Exchange> exchange) {
    Response response;
    response.headers.add("Cache-Control", "max-age=60");
    response.headers.add("Content-Length", "9999");                 // ours to set
    response.headers.add("Connection", "close");                    // ours to set
    response.headers.add("X-Injected", "a\r\nSet-Cookie: evil=1");  // response splitting attempt
    response.headers.add("Bad Name", "x");                          // not a token
    response.headers.add("X-Fine", "yes");
    response.body = "hello";
    exchange->respond(std::move(response));
  });
  TestClient client(port_);
  ASSERT_TRUE(client.send(get("/")));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body(), "hello");
  EXPECT_EQ(header(*response, "Cache-Control"), "max-age=60");
  EXPECT_EQ(header(*response, "Content-Length"), "5");
  EXPECT_TRUE(response->keep_alive());
  EXPECT_TRUE(header(*response, "X-Injected").empty());
  EXPECT_TRUE(header(*response, "Set-Cookie").empty());
  EXPECT_EQ(header(*response, "X-Fine"), "yes");
}

// A response's request id (held inline, see RequestIdField) goes out as one X-Request-Id field,
// in place of one a handler put in its headers; a value that could split the response is not
// sent, and one too long to hold is not kept.
TEST_F(HttpServerTest, RequestIdIsSentAsOneXRequestIdField) {
  start_server([](std::shared_ptr<Exchange> exchange) {
    const std::string& path = exchange->request().path;
    Response response;
    response.headers.add("X-Request-Id", "from-the-headers");
    if (path == "/id") {
      EXPECT_TRUE(response.request_id.assign("0123456789abcdef"));
    } else if (path == "/unsafe") {
      EXPECT_TRUE(response.request_id.assign("a\r\nSet-Cookie: evil=1"));
    } else if (path == "/long") {
      EXPECT_FALSE(response.request_id.assign(std::string(RequestIdField::kCapacity + 1, 'a')));
    }
    response.body = "ok";
    exchange->respond(std::move(response));
  });
  TestClient client(port_);
  ASSERT_TRUE(client.send(get("/id")));
  auto with_id = client.read_response();
  ASSERT_TRUE(with_id);
  EXPECT_EQ(with_id->count("X-Request-Id"), 1u);
  EXPECT_EQ(header(*with_id, "X-Request-Id"), "0123456789abcdef");

  ASSERT_TRUE(client.send(get("/unsafe")));
  auto unsafe = client.read_response();
  ASSERT_TRUE(unsafe);
  EXPECT_EQ(unsafe->count("X-Request-Id"), 0u);
  EXPECT_TRUE(header(*unsafe, "Set-Cookie").empty());

  ASSERT_TRUE(client.send(get("/long")));
  auto too_long = client.read_response();
  ASSERT_TRUE(too_long);
  EXPECT_EQ(header(*too_long, "X-Request-Id"), "from-the-headers");  // nothing was kept in its place
}

TEST_F(HttpServerTest, HeadGetsHeadersWithoutBody) {
  start_server(echo_handler());
  TestClient client(port_);
  ASSERT_TRUE(client.send("HEAD /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  auto response = client.read_response(/*head_request=*/true);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 200);
  EXPECT_NE(header(*response, "Content-Length"), "0");
  // The connection is still in sync: a GET right after is answered normally.
  ASSERT_TRUE(client.send(get("/after")));
  auto next = client.read_response();
  ASSERT_TRUE(next);
  EXPECT_NE(next->body().find("path=/after"), std::string::npos);
}

TEST_F(HttpServerTest, NoContentHasNoBodyOrLength) {
  start_server([](std::shared_ptr<Exchange> exchange) {
    Response response;
    response.status = 204;
    response.body = "ignored";
    exchange->respond(std::move(response));
  });
  TestClient client(port_);
  ASSERT_TRUE(client.send(get("/") + get("/")));
  for (int i = 0; i < 2; ++i) {
    auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->result_int(), 204);
    EXPECT_TRUE(header(*response, "Content-Length").empty());
  }
}

TEST_F(HttpServerTest, BodiesWithContentLengthAndChunked) {
  start_server(echo_handler());
  TestClient client(port_);
  ASSERT_TRUE(client.send("POST /p HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_NE(response->body().find("body=hello "), std::string::npos);
  ASSERT_TRUE(
      client.send("POST /p HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-Trailer: t\r\n\r\n"));
  response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_NE(response->body().find("body=abcdefg "), std::string::npos) << response->body();
}

TEST_F(HttpServerTest, Expect100ContinueGetsInterimResponse) {
  start_server(echo_handler());
  TestClient client(port_);
  ASSERT_TRUE(client.send("POST /p HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
  std::string interim = client.read_until("\r\n\r\n");
  EXPECT_NE(interim.find("HTTP/1.1 100 Continue"), std::string::npos) << interim;
  ASSERT_TRUE(client.send("data"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_NE(response->body().find("body=data "), std::string::npos);
}

TEST_F(HttpServerTest, MalformedRequestGets400ThenClose) {
  start_server(echo_handler());
  TestClient client(port_);
  ASSERT_TRUE(client.send("THIS IS NOT HTTP\r\n\r\n"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 400);
  EXPECT_EQ(header(*response, "Content-Type"), "application/json");
  EXPECT_FALSE(response->keep_alive());
  EXPECT_TRUE(client.wait_closed());
}

struct BadRequestCase {
  const char* name;
  std::string bytes;
  int status;
};

TEST_F(HttpServerTest, HttpLevelRefusals) {
  Limits limits;
  limits.max_body_bytes = 1024;
  limits.max_header_bytes = 2048;
  std::atomic<int> handled{0};
  start_server(
      [&](std::shared_ptr<Exchange> exchange) {
        ++handled;
        exchange->respond(json_response(200, "{}"));
      },
      limits);
  const std::vector<BadRequestCase> cases = {
      {"missing host", "GET / HTTP/1.1\r\n\r\n", 400},
      {"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"host with userinfo", "GET / HTTP/1.1\r\nHost: user@evil.example.com\r\n\r\n", 400},
      {"content-length too large", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000\r\n\r\n", 413},
      {"chunked too large",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n500\r\n" + std::string(0x500, 'x') +
           "\r\n500\r\n" + std::string(0x500, 'y') + "\r\n0\r\n\r\n",
       413},
      {"header too large", "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(4096, 'h') + "\r\n\r\n", 431},
      {"gzip transfer coding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
      {"chunked not last", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
      {"content-length and chunked",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"conflicting content-lengths",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
      {"transfer-encoding in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"http/2.0 request line", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 400},
      {"http/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400},
      {"dot segment", "GET /mcp/../admin HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"encoded dot segment", "GET /mcp/%2e%2e/admin HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"encoded slash", "GET /a%2Fb HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"encoded nul", "GET /a%00b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"authority-form", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 400},
      {"asterisk for GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"bare LF in field value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n", 400},
  };
  for (const auto& c : cases) {
    TestClient client(port_);
    ASSERT_TRUE(client.send(c.bytes)) << c.name;
    auto response = client.read_response();
    ASSERT_TRUE(response) << c.name;
    EXPECT_EQ(response->result_int(), c.status) << c.name;
    EXPECT_FALSE(response->keep_alive()) << c.name;
    EXPECT_TRUE(client.wait_closed()) << c.name;
  }
  EXPECT_EQ(handled.load(), 0);
}

// Mutated requests (deterministic seed): whatever arrives, the server answers with a status or
// closes; it never crashes, hangs or hands a request it could not parse to the handler.
TEST_F(HttpServerTest, SurvivesMutatedRequests) {
  Limits limits;
  limits.read_timeout = 100ms;
  limits.max_body_bytes = 4096;
  std::atomic<int> handled{0};
  start_server(
      [&](std::shared_ptr<Exchange> exchange) {
        ++handled;
        exchange->respond(json_response(200, "{}"));
      },
      limits);
  const std::string seed_request =
      "POST /mcp/a%20b?x=1 HTTP/1.1\r\nHost: localhost:1\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\nOrigin: http://localhost:2\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
  std::mt19937 random(12345);
  for (int i = 0; i < 120; ++i) {
    std::string bytes = seed_request;
    int mutations = 1 + static_cast<int>(random() % 4);
    for (int m = 0; m < mutations; ++m) {
      std::size_t at = random() % bytes.size();
      switch (random() % 3) {
        case 0: bytes[at] = static_cast<char>(random() % 256); break;
        case 1: bytes.erase(at, 1 + random() % 8); break;
        default: bytes.insert(at, std::string(1 + random() % 4, static_cast<char>(random() % 256))); break;
      }
      if (bytes.empty()) bytes = "x";
    }
    TestClient client(port_);
    ASSERT_TRUE(client.send(bytes));
    auto response = client.read_response(false, 3s);
    if (response) {
      int status = response->result_int();
      EXPECT_TRUE(status == 200 || status == 400 || status == 408 || status == 413 || status == 431 || status == 501)
          << status;
    }
  }
  // The unmutated request still works afterwards.
  TestClient client(port_);
  ASSERT_TRUE(client.send(seed_request));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 200);
  EXPECT_GT(handled.load(), 0);
}

TEST_F(HttpServerTest, AbsoluteFormTargetReplacesHost) {
  start_server(echo_handler());
  TestClient client(port_);
  ASSERT_TRUE(client.send("GET http://localhost:8080/mcp?q=1 HTTP/1.1\r\nHost: evil.example.com\r\n\r\n"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_NE(response->body().find("path=/mcp query=q=1 "), std::string::npos) << response->body();
  EXPECT_NE(response->body().find("host=localhost:8080"), std::string::npos) << response->body();
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAliveAsked) {
  start_server(echo_handler());
  {
    TestClient client(port_);
    ASSERT_TRUE(client.send("GET /old HTTP/1.0\r\n\r\n"));
    auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->result_int(), 200);
    EXPECT_EQ(header(*response, "Connection"), "close");
    EXPECT_TRUE(client.wait_closed());
  }
  {
    TestClient client(port_);
    ASSERT_TRUE(client.send("GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(header(*response, "Connection"), "keep-alive");
    ASSERT_TRUE(client.send("GET /again HTTP/1.0\r\n\r\n"));
    response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_NE(response->body().find("path=/again"), std::string::npos);
  }
}

TEST_F(HttpServerTest, SlowRequestGets408ThenClose) {
  Limits limits;
  limits.read_timeout = 200ms;
  start_server(echo_handler(), limits);
  TestClient client(port_);
  ASSERT_TRUE(client.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"));  // head never completed
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 408);
  EXPECT_TRUE(client.wait_closed());
}

TEST_F(HttpServerTest, SilentNewConnectionGets408) {
  Limits limits;
  limits.read_timeout = 200ms;
  start_server(echo_handler(), limits);
  TestClient client(port_);
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 408);
  EXPECT_TRUE(client.wait_closed());
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionClosesQuietly) {
  Limits limits;
  limits.idle_timeout = 200ms;
  start_server(echo_handler(), limits);
  TestClient client(port_);
  ASSERT_TRUE(client.send(get("/")));
  ASSERT_TRUE(client.read_response());
  std::string received;
  EXPECT_TRUE(client.wait_closed(testing::kWaitLimit, &received));
  EXPECT_EQ(received, "");  // closed without a 408: the connection was idle
  EXPECT_TRUE(eventually([&] { return server_->connection_count() == 0; }));
}

TEST_F(HttpServerTest, ConnectionCapRefusesAndCounts) {
  Limits limits;
  limits.max_connections = 2;
  start_server(echo_handler(), limits);
  TestClient first(port_);
  TestClient second(port_);
  for (TestClient* client : {&first, &second}) {
    ASSERT_TRUE(client->send(get("/")));
    ASSERT_TRUE(client->read_response());
  }
  EXPECT_EQ(server_->connection_count(), 2u);
  TestClient third(port_);
  EXPECT_TRUE(third.wait_closed());
  EXPECT_TRUE(eventually([&] { return server_->refused_connection_count() == 1; }));
  first.close();
  ASSERT_TRUE(eventually([&] { return server_->connection_count() == 1; }));
  TestClient fourth(port_);
  ASSERT_TRUE(fourth.send(get("/")));
  EXPECT_TRUE(fourth.read_response());
}

TEST_F(HttpServerTest, DeferredResponseFromAnotherThreadIsNotSubjectToReadTimeout) {
  Limits limits;
  limits.read_timeout = 100ms;
  limits.idle_timeout = 100ms;
  std::vector<std::thread> workers;
  std::mutex workers_mutex;
  start_server(
      [&](std::shared_ptr<Exchange> exchange) {
        std::lock_guard lock(workers_mutex);
        workers.emplace_back([exchange] {
          std::this_thread::sleep_for(400ms);  // longer than every client-side timeout
          exchange->respond(json_response(200, R"({"late":true})"));
        });
      },
      limits);
  TestClient client(port_);
  ASSERT_TRUE(client.send(get("/slow")));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body(), R"({"late":true})");
  EXPECT_EQ(header(*response, "Content-Type"), "application/json");
  server_.reset();
  for (auto& worker : workers) worker.join();
}

TEST_F(HttpServerTest, PeerClosingWhileResponseDeferredFiresCallback) {
  std::promise<std::shared_ptr<Exchange>> held;
  std::promise<void> closed;
  start_server([&](std::shared_ptr<Exchange> exchange) {
    exchange->on_peer_closed([&closed] { closed.set_value(); });
    held.set_value(exchange);
  });
  auto future_exchange = held.get_future();
  {
    TestClient client(port_);
    ASSERT_TRUE(client.send(get("/wait")));
    ASSERT_EQ(future_exchange.wait_for(5s), std::future_status::ready);
    client.close();
  }
  auto exchange = future_exchange.get();
  ASSERT_EQ(closed.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(exchange->peer_closed());
  // Late calls are harmless, and a callback registered now runs at once.
  exchange->respond(json_response(200, "{}"));
  std::promise<void> late;
  exchange->on_peer_closed([&late] { late.set_value(); });
  EXPECT_EQ(late.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(eventually([&] { return server_->connection_count() == 0; }));
}

TEST_F(HttpServerTest, EventStreamWritesKeepAliveAndDetectsPeerClose) {
  std::promise<std::shared_ptr<Exchange>> held;
  std::promise<void> closed;
  start_server([&](std::shared_ptr<Exchange> exchange) {
    Headers headers;
    headers.add("Content-Type", "text/event-stream");
    exchange->start_stream(200, std::move(headers), 50ms);
    exchange->write("data: hello\n\n");
    exchange->on_peer_closed([&closed] { closed.set_value(); });
    held.set_value(exchange);
  });
  auto future_exchange = held.get_future();
  TestClient client(port_);
  ASSERT_TRUE(client.send(get("/events")));
  std::string head_and_first = client.read_until("data: hello\n\n");
  EXPECT_NE(head_and_first.find("HTTP/1.1 200 OK"), std::string::npos);
  EXPECT_NE(head_and_first.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_NE(head_and_first.find("Content-Type: text/event-stream"), std::string::npos);
  EXPECT_NE(head_and_first.find("X-Accel-Buffering: no"), std::string::npos);
  EXPECT_NE(head_and_first.find("Cache-Control: no-store"), std::string::npos);
  EXPECT_NE(head_and_first.find("data: hello\n\n"), std::string::npos);
  // Idle: the keep-alive comment arrives.
  std::string idle = client.read_until(": keep-alive\n\n");
  EXPECT_NE(idle.find(": keep-alive\n\n"), std::string::npos);
  ASSERT_EQ(future_exchange.wait_for(5s), std::future_status::ready);
  auto exchange = future_exchange.get();
  exchange->write("data: second\n\n");
  EXPECT_NE(client.read_until("data: second\n\n").find("data: second"), std::string::npos);
  client.close();
  ASSERT_EQ(closed.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(exchange->peer_closed());
  exchange->write("data: nobody listens\n\n");  // harmless
}

TEST_F(HttpServerTest, FinishedStreamLeavesConnectionUsable) {
  start_server([](std::shared_ptr<Exchange> exchange) {
    if (exchange->request().path == "/events") {
      Headers headers;
      headers.add("Content-Type", "text/event-stream");
      exchange->start_stream(200, std::move(headers), 0ms);
      exchange->write("data: 1\n\n");
      exchange->write("");  // ignored: an empty chunk would end the stream
      exchange->write("data: 2\n\n");
      exchange->finish();
      return;
    }
    exchange->respond(json_response(200, R"({"next":true})"));
  });
  TestClient client(port_);
  ASSERT_TRUE(client.send(get("/events")));
  auto stream = client.read_response();
  ASSERT_TRUE(stream);
  EXPECT_EQ(stream->body(), "data: 1\n\ndata: 2\n\n");
  ASSERT_TRUE(client.send(get("/next")));
  auto next = client.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body(), R"({"next":true})");
}

TEST_F(HttpServerTest, DroppedStreamIsEndedCleanly) {
  start_server([](std::shared_ptr<Exchange> exchange) {
    exchange->start_stream(200, Headers{}, 0ms);
    exchange->write("partial");
    // exchange dropped without finish()
  });
  TestClient client(port_);
  ASSERT_TRUE(client.send(get("/")));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body(), "partial");
}

TEST_F(HttpServerTest, Http10StreamIsCloseDelimited) {
  start_server([](std::shared_ptr<Exchange> exchange) {
    exchange->start_stream(200, Headers{}, 0ms);
    exchange->write("data: x\n\n");
    exchange->finish();
  });
  TestClient client(port_);
  ASSERT_TRUE(client.send("GET / HTTP/1.0\r\n\r\n"));
  std::string all = client.read_until("data: x\n\n");
  EXPECT_EQ(all.find("Transfer-Encoding"), std::string::npos) << all;
  EXPECT_NE(all.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(client.wait_closed());
}

TEST_F(HttpServerTest, ClientThatDoesNotReadIsCutOffAtWriteQueueBound) {
  Limits limits;
  limits.max_write_queue_bytes = 256 * 1024;
  std::promise<void> closed;
  std::atomic<bool> closed_once{false};
  std::promise<std::shared_ptr<Exchange>> held;
  start_server(
      [&](std::shared_ptr<Exchange> exchange) {
        exchange->on_peer_closed([&] {
          if (!closed_once.exchange(true)) closed.set_value();
        });
        exchange->start_stream(200, Headers{}, 0ms);
        held.set_value(exchange);
      },
      limits);
  TestClient client(port_);
  ASSERT_TRUE(client.send(get("/firehose")));
  auto future_exchange = held.get_future();
  ASSERT_EQ(future_exchange.wait_for(5s), std::future_status::ready);
  auto exchange = future_exchange.get();
  auto closed_future = closed.get_future();
  // Socket buffers absorb some megabytes first; the loop is bounded either way.
  const std::string megabyte(1024 * 1024, 'z');
  for (int i = 0; i < 256 && closed_future.wait_for(0s) != std::future_status::ready; ++i) {
    exchange->write(megabyte);
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_EQ(closed_future.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(exchange->peer_closed());
}

TEST_F(HttpServerTest, ThrowingAndAbandoningHandlersGet500) {
  start_server([](std::shared_ptr<Exchange> exchange) {
    if (exchange->request().path == "/throw") throw std::runtime_error("tool bug");
    // "/drop": the exchange is dropped without an answer
  });
  TestClient client(port_);
  for (const char* path : {"/throw", "/drop", "/throw"}) {
    ASSERT_TRUE(client.send(get(path)));
    auto response = client.read_response();
    ASSERT_TRUE(response) << path;
    EXPECT_EQ(response->result_int(), 500) << path;
    EXPECT_TRUE(response->keep_alive()) << path;
  }
}

TEST_F(HttpServerTest, InvalidStatusFromHandlerBecomes500) {
  start_server([](std::shared_ptr<Exchange> exchange) {
    Response response;
    response.status = 1000;
    exchange->respond(std::move(response));
  });
  TestClient client(port_);
  ASSERT_TRUE(client.send(get("/")));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 500);
}

TEST_F(HttpServerTest, GracefulStopFinishesInFlightRequest) {
  Limits limits;
  limits.shutdown_grace = 5s;
  std::promise<std::shared_ptr<Exchange>> held;
  auto server = std::make_unique<Server>(
      limits, [&](std::shared_ptr<Exchange> exchange) { held.set_value(exchange); }, 2);
  std::uint16_t port = server->listen(ListenerSpec{});
  std::thread runner([&] { server->run(); });

  TestClient busy(port);
  TestClient idle(port);
  ASSERT_TRUE(busy.send(get("/work")));
  auto future_exchange = held.get_future();
  ASSERT_EQ(future_exchange.wait_for(5s), std::future_status::ready);
  ASSERT_TRUE(eventually([&] { return server->connection_count() == 2; }));

  server->stop_gracefully();
  EXPECT_TRUE(idle.wait_closed());  // idle keep-alive connections go at once
  TestClient late(port);
  EXPECT_TRUE(!late.connected() || late.wait_closed());  // no longer accepting

  future_exchange.get()->respond(json_response(200, R"({"done":true})"));
  auto response = busy.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body(), R"({"done":true})");
  EXPECT_EQ(header(*response, "Connection"), "close");
  EXPECT_TRUE(busy.wait_closed());
  runner.join();  // run() returns once drained
  EXPECT_EQ(server->connection_count(), 0u);
}

TEST_F(HttpServerTest, GracefulStopEndsStreamsAndCutsAfterGrace) {
  Limits limits;
  limits.shutdown_grace = 300ms;
  std::promise<void> stream_closed;
  std::vector<std::shared_ptr<Exchange>> held;
  std::mutex held_mutex;
  auto server = std::make_unique<Server>(
      limits,
      [&](std::shared_ptr<Exchange> exchange) {
        if (exchange->request().path == "/events") {
          exchange->on_peer_closed([&] { stream_closed.set_value(); });
          exchange->start_stream(200, Headers{}, 0ms);
          exchange->write("data: hi\n\n");
        }
        std::lock_guard lock(held_mutex);
        held.push_back(exchange);  // "/stuck" never answers
      },
      2);
  std::uint16_t port = server->listen(ListenerSpec{});
  server->start();
  TestClient stream(port);
  TestClient stuck(port);
  ASSERT_TRUE(stream.send(get("/events")));
  EXPECT_NE(stream.read_until("data: hi\n\n").find("data: hi"), std::string::npos);
  ASSERT_TRUE(stuck.send(get("/stuck")));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(held_mutex);
    return held.size() == 2;
  }));
  server->stop_gracefully();
  EXPECT_EQ(stream_closed.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_NE(stream.read_until("0\r\n\r\n").find("0\r\n\r\n"), std::string::npos);  // stream properly ended
  EXPECT_TRUE(stream.wait_closed());
  EXPECT_TRUE(stuck.wait_closed());  // cut when the grace period ran out
  server->wait();
  EXPECT_EQ(server->connection_count(), 0u);
  server.reset();
  held.clear();  // exchanges outliving the server are harmless
}

// ---------------------------------------------------------------------------------------------
// Lingering close (RFC 9112 §9.6): a client still uploading a body we refused must receive our
// answer, not a reset; and the lingering is bounded in bytes and time.

// A plain blocking socket whose every send and receive gives up after kWaitLimit: the tests
// below need to write far more than the socket buffers hold and to tell "the server closed"
// from "the server stopped reading".
class RawClient {
 public:
  enum class SendResult { ok, closed, timed_out };

  explicit RawClient(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    if (fd_ < 0) return;
    timeval timeout{};
    timeout.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(testing::kWaitLimit).count();
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    // A small, fixed send buffer: what we send must really be taken by the server, not parked
    // in an auto-tuned multi-megabyte kernel buffer (which would hide a premature close).
    int send_buffer = 64 * 1024;
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  }
  ~RawClient() { close(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }

  SendResult send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (sent > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(sent));
      } else if (sent < 0 && errno == EINTR) {
        continue;
      } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return SendResult::timed_out;
      } else {
        return SendResult::closed;  // EPIPE, ECONNRESET
      }
    }
    return SendResult::ok;
  }

  void shutdown_send() { ::shutdown(fd_, SHUT_WR); }

  // Everything received until the server ends the connection; `closed` tells whether it did
  // (EOF or reset) before a receive timed out.
  std::string read_until_closed(bool& closed) {
    std::string received;
    closed = false;
    char chunk[4096];
    const auto deadline = std::chrono::steady_clock::now() + 2 * testing::kWaitLimit;
    while (std::chrono::steady_clock::now() < deadline && received.size() < 1024 * 1024) {
      ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
      if (got > 0) {
        received.append(chunk, static_cast<std::size_t>(got));
      } else if (got < 0 && errno == EINTR) {
        continue;
      } else {
        closed = got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
        break;
      }
    }
    return received;
  }

  // Bytes until `needle` was seen (or a timeout / close).
  std::string read_until(std::string_view needle) {
    std::string received;
    char chunk[4096];
    const auto deadline = std::chrono::steady_clock::now() + 2 * testing::kWaitLimit;
    while (received.find(needle) == std::string::npos && received.size() < 1024 * 1024 &&
           std::chrono::steady_clock::now() < deadline) {
      ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      received.append(chunk, static_cast<std::size_t>(got));
    }
    return received;
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

std::ostream& operator<<(std::ostream& out, RawClient::SendResult result) {
  switch (result) {
    case RawClient::SendResult::ok: return out << "ok";
    case RawClient::SendResult::closed: return out << "closed by the server (EPIPE/ECONNRESET)";
    case RawClient::SendResult::timed_out: return out << "timed out";
  }
  return out;
}

constexpr std::string_view kTooLargeBody = R"({"error":"payload_too_large"})";

// The whole 413, exactly as framed: status line, Connection: close, and all of its content.
void expect_complete_413(const std::string& received) {
  ASSERT_EQ(received.rfind("HTTP/1.1 413 ", 0), 0u) << received.substr(0, 200);
  std::size_t head_end = received.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << received;
  std::string head = received.substr(0, head_end + 2);
  EXPECT_NE(head.find("\r\nConnection: close\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nContent-Length: " + std::to_string(kTooLargeBody.size()) + "\r\n"), std::string::npos)
      << head;
  EXPECT_EQ(received.substr(head_end + 4), kTooLargeBody);
}

std::string content_length_upload(std::size_t size) {
  return "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(size) + "\r\n\r\n" + std::string(size, 'b');
}

std::string chunked_upload(std::size_t size) {
  std::string out = "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::size_t chunk = 8 * 1024;
  for (std::size_t sent = 0; sent < size; sent += chunk) {
    std::size_t n = std::min(chunk, size - sent);
    char size_line[32];
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", n);
    out += size_line;
    out.append(n, 'c');
    out += "\r\n";
  }
  return out + "0\r\n\r\n";
}

Limits lingering_limits() {
  Limits limits;
  limits.max_body_bytes = 64 * 1024;
  limits.lingering_close_bytes = 2 * 1024 * 1024;
  // Generous: these tests end the linger by closing the client, never by waiting it out.
  limits.lingering_close_timeout = 30s;
  return limits;
}

// The e2e failure: a client that writes the whole (too large) body before reading, as Node's
// fetch does, must get the complete 413 rather than EPIPE/ECONNRESET.
TEST_F(HttpServerTest, ClientStreamingOversizedBodyReceivesComplete413) {
  const Limits limits = lingering_limits();
  std::atomic<int> handled{0};
  start_server(
      [&](std::shared_ptr<Exchange> exchange) {
        ++handled;
        exchange->respond(json_response(200, "{}"));
      },
      limits);
  const std::size_t size = limits.max_body_bytes + 1024 * 1024;
  struct Case {
    const char* name;
    std::string request;
    bool half_close;
  };
  const std::vector<Case> cases = {
      {"content-length (refused before the body)", content_length_upload(size), false},
      {"chunked (refused in the middle of the body)", chunked_upload(size), false},
      {"content-length, then the client half-closes", content_length_upload(size), true},
  };
  for (const auto& c : cases) {
    RawClient client(port_);
    ASSERT_TRUE(client.connected()) << c.name;
    ASSERT_EQ(client.send(c.request), RawClient::SendResult::ok) << c.name;
    if (c.half_close) client.shutdown_send();
    bool closed = false;
    std::string received = client.read_until_closed(closed);
    EXPECT_TRUE(closed) << c.name;  // our FIN follows the response
    expect_complete_413(received);
    client.close();
    EXPECT_TRUE(eventually([&] { return server_->connection_count() == 0; })) << c.name;
  }
  EXPECT_EQ(handled.load(), 0);
}

// Whatever the client keeps sending after a refusal is discarded only up to the byte budget.
TEST_F(HttpServerTest, LingeringCloseCutsOffAtByteBudget) {
  Limits limits = lingering_limits();
  limits.lingering_close_bytes = 256 * 1024;
  start_server(echo_handler(), limits);
  RawClient client(port_);
  ASSERT_TRUE(client.connected());
  ASSERT_EQ(client.send("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000000\r\n\r\n"),
            RawClient::SendResult::ok);
  const std::string piece(64 * 1024, 'f');
  RawClient::SendResult result = RawClient::SendResult::ok;
  // Far more than the budget plus every socket buffer on the way: the loop must end in a close.
  for (int i = 0; i < 1024 && result == RawClient::SendResult::ok; ++i) result = client.send(piece);
  EXPECT_EQ(result, RawClient::SendResult::closed);
  EXPECT_TRUE(eventually([&] { return server_->connection_count() == 0; }));
}

// A client that trickles bytes after a refusal is cut off when the lingering time is up, even
// though it stays far below the byte budget.
TEST_F(HttpServerTest, LingeringCloseCutsOffAtTimeBudget) {
  Limits limits = lingering_limits();
  limits.lingering_close_bytes = 64 * 1024 * 1024;
  limits.lingering_close_timeout = 300ms;
  start_server(echo_handler(), limits);
  RawClient client(port_);
  ASSERT_TRUE(client.connected());
  ASSERT_EQ(client.send("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000000\r\n\r\n"),
            RawClient::SendResult::ok);
  std::string answer = client.read_until(kTooLargeBody);
  EXPECT_NE(answer.find("HTTP/1.1 413 "), std::string::npos) << answer;
  bool cut = false;
  for (int i = 0; i < 1000 && !cut; ++i) {  // at most 1000 x 16 bytes: nowhere near the budget
    cut = client.send("trickle trickle ") != RawClient::SendResult::ok || server_->connection_count() == 0;
    if (!cut) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(cut);
  EXPECT_TRUE(eventually([&] { return server_->connection_count() == 0; }));
}

// A lingering connection occupies a slot of max_connections until it ends.
TEST_F(HttpServerTest, LingeringConnectionCountsAgainstConnectionCap) {
  Limits limits = lingering_limits();
  limits.max_connections = 1;
  start_server(echo_handler(), limits);
  RawClient lingering(port_);
  ASSERT_TRUE(lingering.connected());
  ASSERT_EQ(lingering.send("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000000\r\n\r\n"),
            RawClient::SendResult::ok);
  bool closed = false;
  expect_complete_413(lingering.read_until_closed(closed));
  EXPECT_TRUE(closed);
  // Our side is closed; the server still waits for the client's end (it never comes).
  EXPECT_EQ(server_->connection_count(), 1u);
  {
    TestClient refused(port_);
    EXPECT_TRUE(refused.wait_closed());
    EXPECT_TRUE(eventually([&] { return server_->refused_connection_count() == 1; }));
  }
  lingering.close();
  ASSERT_TRUE(eventually([&] { return server_->connection_count() == 0; }));
  TestClient next(port_);
  ASSERT_TRUE(next.send(get("/")));
  auto response = next.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 200);
}

// A graceful stop does not wait for a lingering close beyond its grace period.
TEST_F(HttpServerTest, GracefulStopEndsLingeringClose) {
  Limits limits = lingering_limits();
  limits.lingering_close_timeout = 60s;
  limits.shutdown_grace = 200ms;
  auto server = std::make_unique<Server>(limits, echo_handler(), 2);
  std::uint16_t port = server->listen(ListenerSpec{});
  server->start();
  RawClient client(port);
  ASSERT_TRUE(client.connected());
  ASSERT_EQ(client.send("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000000\r\n\r\n"),
            RawClient::SendResult::ok);
  std::string answer = client.read_until(kTooLargeBody);
  EXPECT_NE(answer.find("HTTP/1.1 413 "), std::string::npos) << answer;
  ASSERT_EQ(client.send(std::string(1024, 'x')), RawClient::SendResult::ok);  // still lingering
  EXPECT_EQ(server->connection_count(), 1u);
  server->stop_gracefully();
  EXPECT_TRUE(eventually([&] { return server->connection_count() == 0; }));
  server->wait();
}

TEST(HttpServerConstruction, RefusesNegativeLingeringTimeout) {
  Limits limits;
  limits.lingering_close_timeout = -1ms;
  EXPECT_THROW(Server(limits, echo_handler(), 1), std::invalid_argument);
  limits.lingering_close_timeout = 0ms;  // allowed: no lingering
  EXPECT_NO_THROW(Server(limits, echo_handler(), 1));
}

// Over TLS the discarding comes before the close_notify; the client gets the whole 413 and a
// proper TLS close.


TEST(HttpServerTlsLinger, ClientStreamingOversizedBodyOverTlsReceivesComplete413) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace ssl = asio::ssl;
  using tcp = asio::ip::tcp;
  auto files = testing::make_self_signed_certificate("linger-tls");
  ASSERT_TRUE(files);
  Limits limits = lingering_limits();
  Server server(limits, echo_handler(), 2);
  ListenerSpec spec;
  spec.tls = TlsFiles{files->certificate, files->key};
  std::uint16_t port = server.listen(spec);
  server.start();

  for (const std::string& request : {content_length_upload(limits.max_body_bytes + 1024 * 1024),
                                     chunked_upload(limits.max_body_bytes + 1024 * 1024)}) {
    asio::io_context io;
    ssl::context context(ssl::context::tls_client);
    context.set_verify_mode(ssl::verify_none);  // self-signed test certificate
    ssl::stream<tcp::socket> stream(io, context);
    beast::flat_buffer buffer;
    beast::http::response_parser<beast::http::string_body> parser;
    beast::error_code write_error = asio::error::would_block;
    beast::error_code read_error = asio::error::would_block;
    beast::error_code shutdown_error = asio::error::would_block;
    stream.next_layer().async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), [&](auto ec) {
      if (ec) return;
      stream.async_handshake(ssl::stream_base::client, [&](auto ec) {
        if (ec) return;
        // The whole body first, as a client that does not read while uploading.
        asio::async_write(stream, asio::buffer(request), [&](auto ec, std::size_t) {
          write_error = ec;
          if (ec) return;
          beast::http::async_read(stream, buffer, parser, [&](auto ec, std::size_t) {
            read_error = ec;
            if (ec) return;
            stream.async_shutdown([&](auto ec) { shutdown_error = ec; });
          });
        });
      });
    });
    io.run_for(testing::kWaitLimit * 2);
    EXPECT_FALSE(write_error) << write_error.message();
    ASSERT_FALSE(read_error) << read_error.message();
    auto response = parser.release();
    EXPECT_EQ(response.result_int(), 413);
    EXPECT_EQ(response.body(), kTooLargeBody);
    EXPECT_FALSE(response.keep_alive());
    // Our close_notify answered the client's.
    EXPECT_FALSE(shutdown_error) << shutdown_error.message();
    EXPECT_TRUE(eventually([&] { return server.connection_count() == 0; }));
  }
}

TEST(HttpServerConstruction, RefusesNonsensicalLimits) {
  Limits zero_timeout;
  zero_timeout.read_timeout = 0ms;
  EXPECT_THROW(Server(zero_timeout, echo_handler(), 1), std::invalid_argument);
  Limits no_connections;
  no_connections.max_connections = 0;
  EXPECT_THROW(Server(no_connections, echo_handler(), 1), std::invalid_argument);
  EXPECT_THROW(Server(Limits{}, Handler{}, 1), std::invalid_argument);
}

TEST(HttpServerListen, RefusesPlainHttpBeyondLoopback) {
  Server server(Limits{}, echo_handler(), 1);
  ListenerSpec spec;
  spec.address = "0.0.0.0";
  try {
    server.listen(spec);
    FAIL() << "plain HTTP on 0.0.0.0 must need the explicit flag";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("plain HTTP"), std::string::npos) << error.what();
  }
}

TEST(HttpServerListen, ReportsBadAddressAndBusyPort) {
  Server server(Limits{}, echo_handler(), 1);
  ListenerSpec spec;
  spec.address = "not-an-address";
  EXPECT_THROW(server.listen(spec), std::runtime_error);
  spec.address = "localhost";
  std::uint16_t port = server.listen(spec);
  EXPECT_NE(port, 0);
  spec.port = port;
  try {
    server.listen(spec);
    FAIL() << "second bind on the same port must fail";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find(std::to_string(port)), std::string::npos) << error.what();
  }
}

TEST(HttpServerListen, MissingTlsFilesAreReported) {
  Server server(Limits{}, echo_handler(), 1);
  ListenerSpec spec;
  spec.tls = TlsFiles{"/nonexistent/cert.pem", "/nonexistent/key.pem"};
  try {
    server.listen(spec);
    FAIL();
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("/nonexistent/cert.pem"), std::string::npos) << error.what();
  }
}

TEST(HttpServerLifecycle, DestroyingARunningServerIsClean) {
  auto server = std::make_unique<Server>(Limits{}, echo_handler(), 2);
  std::uint16_t port = server->listen(ListenerSpec{});
  server->start();
  TestClient client(port);
  ASSERT_TRUE(client.send(get("/")));
  ASSERT_TRUE(client.read_response());
  server.reset();
  EXPECT_TRUE(client.wait_closed());
}

}  // namespace
}  // namespace bastion::http
