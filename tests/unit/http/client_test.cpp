// The outbound client against the project's own server on loopback: plain and TLS exchanges,
// limits, deadlines, redirects and the SSRF address policy.
#include "http/client.hpp"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <thread>
#include <mutex>
#include <string>
#include <vector>

#include "http/server.hpp"
#include "test_certificate.hpp"

namespace bastion::http {
namespace {

using namespace std::chrono_literals;

int code(const Error& error) { return error.code; }

ClientRequest get(std::string url) {
  ClientRequest request;
  request.url = std::move(url);
  return request;
}
constexpr int as_int(ClientErrorCode c) { return static_cast<int>(c); }

// Routes: /hello answers, /big answers `big_bytes`, /hang never answers (its exchanges are held
// until the server goes), /redirect?to=URL answers 302 to URL, /echo-method returns the method.
class ClientTest : public ::testing::Test {
 protected:
  void start(std::optional<TlsFiles> tls = std::nullopt) {
    server_ = std::make_unique<Server>(Limits{}, [this](std::shared_ptr<Exchange> exchange) { handle(exchange); }, 1);
    ListenerSpec spec;
    spec.tls = std::move(tls);
    port_ = server_->listen(spec);
    server_->start();
  }

  void TearDown() override {
    server_.reset();
    std::lock_guard lock(mutex_);
    held_.clear();
  }

  void handle(const std::shared_ptr<Exchange>& exchange) {
    const Request& request = exchange->request();
    Response response;
    if (request.path == "/hang") {
      std::lock_guard lock(mutex_);
      held_.push_back(exchange);
      return;
    }
    if (request.path == "/big") {
      response.body.assign(big_bytes_, 'x');
    } else if (request.path == "/redirect") {
      response.status = 302;
      response.headers.set("Location", query_param(request, "to").value_or("/hello"));
    } else if (request.path == "/echo-method") {
      response.body = request.method + " " + request.body + " " + (request.headers.find("X-Test") ? *request.headers.find("X-Test") : "");
    } else {
      response.body = "hello";
    }
    exchange->respond(std::move(response));
  }

  std::string url(std::string_view path, std::string_view scheme = "http", std::string_view host = "127.0.0.1") const {
    return std::string(scheme) + "://" + std::string(host) + ":" + std::to_string(port_) + std::string(path);
  }

  static ClientOptions loopback_options() {
    ClientOptions options;
    options.allow_http = true;
    options.timeout = 5s;
    return options;
  }

  std::unique_ptr<Server> server_;
  std::uint16_t port_ = 0;
  std::size_t big_bytes_ = 4096;
  std::mutex mutex_;
  std::vector<std::shared_ptr<Exchange>> held_;
};

TEST_F(ClientTest, FetchesOverPlainHttpWithHeadersAndBody) {
  start();
  ClientRequest request;
  request.method = "POST";
  request.url = url("/echo-method");
  request.headers.add("X-Test", "yes");
  request.body = "payload";
  auto response = fetch(request, loopback_options());
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "POST payload yes");
}

TEST_F(ClientTest, RefusesPlainHttpUnlessAllowedAndLoopbackOnlyMeansLoopback) {
  start();
  ClientOptions options;
  auto refused = fetch(get(url("/hello")), options);
  ASSERT_FALSE(refused);
  EXPECT_EQ(code(refused.error()), as_int(ClientErrorCode::scheme_refused));

  options.allow_http_loopback_only = true;
  auto loopback = fetch(get(url("/hello")), options);
  ASSERT_TRUE(loopback) << loopback.error().message;
  EXPECT_EQ(loopback->body, "hello");

  // A non-loopback destination with loopback-only http is refused before any connection.
  auto remote = fetch(get("http://192.0.2.1:9/x"), options);
  ASSERT_FALSE(remote);
  EXPECT_EQ(code(remote.error()), as_int(ClientErrorCode::scheme_refused));
}

TEST_F(ClientTest, RefusesOtherSchemesCredentialsAndGarbage) {
  for (const std::string bad : {"ftp://127.0.0.1/x", "file:///etc/passwd", "not a url", "http://user:pw@127.0.0.1/"}) {
    auto result = fetch(get(bad), loopback_options());
    EXPECT_FALSE(result) << bad;
  }
}

TEST_F(ClientTest, BodyLargerThanTheLimitFails) {
  big_bytes_ = 64 * 1024;
  start();
  ClientOptions options = loopback_options();
  options.max_response_bytes = 1024;
  auto result = fetch(get(url("/big")), options);
  ASSERT_FALSE(result);
  EXPECT_EQ(code(result.error()), as_int(ClientErrorCode::too_large));
  options.max_response_bytes = 128 * 1024;
  auto fits = fetch(get(url("/big")), options);
  ASSERT_TRUE(fits);
  EXPECT_EQ(fits->body.size(), big_bytes_);
}

TEST_F(ClientTest, APeerThatNeverAnswersEndsInATimeout) {
  start();
  ClientOptions options = loopback_options();
  options.timeout = 300ms;
  auto result = fetch(get(url("/hang")), options);
  ASSERT_FALSE(result);
  EXPECT_EQ(code(result.error()), as_int(ClientErrorCode::timeout));
}

TEST_F(ClientTest, RedirectsAreReturnedUnlessFollowingIsAskedForAndAreBounded) {
  start();
  const std::string redirect = url("/redirect?to=/hello");
  auto plain = fetch(get(redirect), loopback_options());
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 302);

  ClientOptions follow = loopback_options();
  follow.max_redirects = 2;
  auto followed = fetch(get(redirect), follow);
  ASSERT_TRUE(followed) << followed.error().message;
  EXPECT_EQ(followed->status, 200);
  EXPECT_EQ(followed->body, "hello");
  EXPECT_EQ(followed->url, url("/hello"));

  const std::string loop = url("/redirect?to=" + std::string("/redirect%3Fto%3D/redirect"));
  follow.max_redirects = 1;
  auto bounded = fetch(get(loop), follow);
  ASSERT_FALSE(bounded);
  EXPECT_EQ(code(bounded.error()), as_int(ClientErrorCode::too_many_redirects));
}

TEST_F(ClientTest, EveryRedirectHopIsCheckedAgainstTheAddressPolicy) {
  start();
  ClientOptions options = loopback_options();
  options.address_policy = AddressPolicy::public_or_loopback;
  options.max_redirects = 3;
  // Loopback is allowed here, the private address behind the redirect is not: refused without
  // a connection attempt (10.0.0.1 is never dialled).
  auto result = fetch(get(url("/redirect?to=http://10.0.0.1:8080/metadata")), options);
  ASSERT_FALSE(result);
  EXPECT_EQ(code(result.error()), as_int(ClientErrorCode::address_refused));

  options.address_policy = AddressPolicy::public_only;
  auto first_hop = fetch(get(url("/hello")), options);
  ASSERT_FALSE(first_hop);
  EXPECT_EQ(code(first_hop.error()), as_int(ClientErrorCode::address_refused));
}

TEST_F(ClientTest, TlsVerifiesThePeerAgainstTheTrustStoreAndTheHostName) {
  auto files = testing::make_self_signed_certificate("client-tls");
  ASSERT_TRUE(files);
  start(TlsFiles{files->certificate, files->key});

  ClientOptions untrusted;
  auto refused = fetch(get(url("/hello", "https", "localhost")), untrusted);
  ASSERT_FALSE(refused);
  EXPECT_EQ(code(refused.error()), as_int(ClientErrorCode::tls_failed));

  ClientOptions trusted;
  trusted.ca_file = files->certificate;
  auto ok = fetch(get(url("/hello", "https", "localhost")), trusted);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->body, "hello");

  // The certificate names "localhost", not "127.0.0.1": the name check must refuse it.
  auto wrong_name = fetch(get(url("/hello", "https", "127.0.0.1")), trusted);
  ASSERT_FALSE(wrong_name);
  EXPECT_EQ(code(wrong_name.error()), as_int(ClientErrorCode::tls_failed));
}

// A raw HTTP/1.1 server on loopback that counts connections and requests and misbehaves on
// demand: the keep-alive tests need to see connections, which the project's server hides.
class CountingServer {
 public:
  enum class Mode {
    keep,                 // answers and keeps the connection open
    close_header,         // answers with Connection: close, then closes
    close_after_answer,   // answers without a word about closing, then closes (an idle close)
    drop_second_request,  // closes a connection without answering its second request
  };

  explicit CountingServer(Mode mode) : mode_(mode) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(listener_, 16);
    socklen_t length = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~CountingServer() {
    stop_ = true;
    thread_.join();
    for (const auto& [fd, _] : connections_) ::close(fd);
    ::close(listener_);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1/traces"; }
  int accepted() const { return accepted_; }
  int requests() const { return requests_; }
  int closed() const { return closed_; }

 private:
  void run() {
    // Bounded: the test's destructor stops it; each wait is 20 ms.
    while (!stop_) {
      std::vector<pollfd> fds{{listener_, POLLIN, 0}};
      for (const auto& [fd, _] : connections_) fds.push_back({fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        const int fd = ::accept(listener_, nullptr, nullptr);
        if (fd >= 0) {
          connections_[fd] = {};
          ++accepted_;
        }
      }
      for (std::size_t i = 1; i < fds.size(); ++i)
        if (fds[i].revents) serve(fds[i].fd);
    }
  }

  // Reads what arrived on `fd`; answers each complete request (head and Content-Length body).
  void serve(int fd) {
    Connection& c = connections_[fd];
    char chunk[4096];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return close_connection(fd);
    c.input.append(chunk, static_cast<std::size_t>(n));
    while (true) {
      const auto head_end = c.input.find("\r\n\r\n");
      if (head_end == std::string::npos) return;
      std::size_t length = 0;
      if (const auto at = c.input.find("Content-Length: "); at != std::string::npos && at < head_end)
        length = std::stoul(c.input.substr(at + 16));
      if (c.input.size() < head_end + 4 + length) return;
      c.input.erase(0, head_end + 4 + length);
      ++c.requests;
      if (mode_ == Mode::drop_second_request && c.requests == 2) return close_connection(fd);
      ++requests_;
      std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n";
      if (mode_ == Mode::close_header) answer += "Connection: close\r\n";
      answer += "\r\n{}";
      ::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
      if (mode_ == Mode::close_header || mode_ == Mode::close_after_answer) return close_connection(fd);
    }
  }

  void close_connection(int fd) {
    ::close(fd);
    connections_.erase(fd);
    ++closed_;
  }

  struct Connection {
    std::string input;
    int requests = 0;
  };
  const Mode mode_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::map<int, Connection> connections_;  // the server thread's only
  std::atomic<int> accepted_{0}, requests_{0}, closed_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

ClientRequest post(std::string url) {
  ClientRequest request;
  request.method = "POST";
  request.url = std::move(url);
  request.body = "{\"resourceSpans\":[]}";
  return request;
}

ClientOptions plain_http() {
  ClientOptions options;
  options.allow_http = true;
  options.timeout = 5s;
  return options;
}

// Waits (bounded, 5 s) until `done` holds.
template <class Condition>
bool eventually(Condition done) {
  for (int i = 0; i < 500 && !done(); ++i) std::this_thread::sleep_for(10ms);
  return done();
}

TEST(KeepAliveClient, CallsToOneOriginShareOneConnection) {
  CountingServer server(CountingServer::Mode::keep);
  KeepAliveClient client;
  for (int i = 0; i < 3; ++i) {
    auto response = client.fetch(post(server.url()), plain_http());
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->body, "{}");
  }
  EXPECT_EQ(server.requests(), 3);
  EXPECT_EQ(server.accepted(), 1);
  EXPECT_TRUE(client.holds_connection());

  // fetch() keeps nothing: a connection per call, closed after it.
  ASSERT_TRUE(fetch(post(server.url()), plain_http()));
  EXPECT_EQ(server.accepted(), 2);
  EXPECT_TRUE(eventually([&] { return server.closed() == 1; }));
}

TEST(KeepAliveClient, AnAnswerThatClosesIsNotUsedAgain) {
  CountingServer server(CountingServer::Mode::close_header);
  KeepAliveClient client;
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(client.fetch(post(server.url()), plain_http()));
  EXPECT_EQ(server.accepted(), 2);
  EXPECT_FALSE(client.holds_connection());
}

TEST(KeepAliveClient, AConnectionThePeerClosedWhileIdleIsReplaced) {
  CountingServer server(CountingServer::Mode::close_after_answer);
  KeepAliveClient client;
  ASSERT_TRUE(client.fetch(post(server.url()), plain_http()));
  ASSERT_TRUE(eventually([&] { return server.closed() == 1; }));
  // The kept connection's FIN has arrived: the next call sees it and connects anew, without a
  // failed attempt and without a retry (retry_on_closed_connection is off).
  auto second = client.fetch(post(server.url()), plain_http());
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(server.accepted(), 2);
  EXPECT_EQ(server.requests(), 2);
}

TEST(KeepAliveClient, ARequestTheKeptConnectionLostIsRepeatedOnlyWhenAllowed) {
  CountingServer server(CountingServer::Mode::drop_second_request);
  KeepAliveClient client;
  ASSERT_TRUE(client.fetch(post(server.url()), plain_http()));
  // The peer takes the second request and closes without an answer: not repeated by default.
  auto lost = client.fetch(post(server.url()), plain_http());
  ASSERT_FALSE(lost);
  EXPECT_EQ(server.accepted(), 1);

  ClientOptions repeat = plain_http();
  repeat.retry_on_closed_connection = true;
  ASSERT_TRUE(client.fetch(post(server.url()), repeat));  // a new connection's first request
  auto repeated = client.fetch(post(server.url()), repeat);
  ASSERT_TRUE(repeated) << repeated.error().message;
  EXPECT_EQ(server.accepted(), 3);
  EXPECT_EQ(server.requests(), 3);
}

TEST(KeepAliveClient, AnotherOriginOrStricterRulesTakeANewConnection) {
  CountingServer first(CountingServer::Mode::keep), second(CountingServer::Mode::keep);
  KeepAliveClient client;
  ASSERT_TRUE(client.fetch(post(first.url()), plain_http()));
  ASSERT_TRUE(client.fetch(post(second.url()), plain_http()));
  ASSERT_TRUE(client.fetch(post(first.url()), plain_http()));
  EXPECT_EQ(first.accepted(), 2);
  EXPECT_EQ(second.accepted(), 1);

  // A connection opened under AddressPolicy::any must not carry a call that forbids loopback.
  ClientOptions strict = plain_http();
  strict.address_policy = AddressPolicy::public_only;
  auto refused = client.fetch(post(first.url()), strict);
  ASSERT_FALSE(refused);
  EXPECT_EQ(code(refused.error()), as_int(ClientErrorCode::address_refused));
  EXPECT_EQ(first.requests(), 2);
}

TEST_F(ClientTest, KeepAliveClientTimesOutAndServesTheNextCallAndKeepsTls) {
  auto files = testing::make_self_signed_certificate("keep-alive-tls");
  ASSERT_TRUE(files);
  start(TlsFiles{files->certificate, files->key});
  KeepAliveClient client;
  ClientOptions options;
  options.ca_file = files->certificate;
  for (int i = 0; i < 2; ++i) {
    auto ok = client.fetch(get(url("/hello", "https", "localhost")), options);
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(ok->body, "hello");
    EXPECT_TRUE(client.holds_connection());
  }
  options.timeout = 300ms;
  auto hung = client.fetch(get(url("/hang", "https", "localhost")), options);
  ASSERT_FALSE(hung);
  EXPECT_EQ(code(hung.error()), as_int(ClientErrorCode::timeout));
  EXPECT_FALSE(client.holds_connection());
  options.timeout = 5s;
  auto after = client.fetch(get(url("/hello", "https", "localhost")), options);
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_EQ(after->body, "hello");
}

TEST(ClientAddressPolicy, PublicOnlyRefusesEverySpecialPurposeRange) {
  for (const char* address : {"127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
                              "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::",
                              "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
                              "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2001:db8::1", "::127.0.0.1"}) {
    EXPECT_FALSE(address_allowed(address, AddressPolicy::public_only)) << address;
  }
  for (const char* address : {"93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "172.32.0.1"}) {
    EXPECT_TRUE(address_allowed(address, AddressPolicy::public_only)) << address;
  }
  EXPECT_FALSE(address_allowed("not-an-ip", AddressPolicy::any));
}

TEST(ClientAddressPolicy, PublicOrLoopbackAddsOnlyLoopback) {
  for (const char* address : {"127.0.0.1", "::1", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(address_allowed(address, AddressPolicy::public_or_loopback)) << address;
  }
  for (const char* address : {"10.0.0.1", "169.254.169.254", "fe80::1", "192.168.0.1"}) {
    EXPECT_FALSE(address_allowed(address, AddressPolicy::public_or_loopback)) << address;
  }
  EXPECT_TRUE(address_allowed("10.0.0.1", AddressPolicy::any));
}

}  // namespace
}  // namespace bastion::http
