// The outbound client against the project's own server on loopback: plain and TLS exchanges,
// limits, deadlines, redirects and the SSRF address policy.
#include "http/client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
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
