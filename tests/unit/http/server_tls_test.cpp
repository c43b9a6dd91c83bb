// TLS listener tests: a throw-away self-signed certificate is made with OpenSSL at test time.
#include <unistd.h>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/server.hpp"
#include "test_certificate.hpp"

namespace bastion::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using testing::CertificateFiles;



// Handshake (optionally capped at a TLS version) and one GET; "" on any failure. With
// `expect_close`, the server must then end the TLS session (close_notify or EOF).
std::string tls_get(std::uint16_t port, int max_version = 0, bool expect_close = false) {
  asio::io_context io;
  ssl::context context(ssl::context::tls_client);
  context.set_verify_mode(ssl::verify_none);  // self-signed test certificate
  if (max_version != 0) SSL_CTX_set_max_proto_version(context.native_handle(), max_version);
  if (max_version != 0 && max_version < TLS1_2_VERSION) {
    SSL_CTX_set_security_level(context.native_handle(), 0);  // let the client offer old versions
  }
  ssl::stream<tcp::socket> stream(io, context);
  std::string result;
  beast::flat_buffer buffer;
  beast::http::response<beast::http::string_body> response;
  const std::string request = std::string("GET /secure HTTP/1.1\r\nHost: localhost\r\n") +
                              (expect_close ? "Connection: close\r\n" : "") + "\r\n";
  char spare[64];
  stream.next_layer().async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), [&](auto ec) {
    if (ec) return;
    stream.async_handshake(ssl::stream_base::client, [&](auto ec) {
      if (ec) return;
      asio::async_write(stream, asio::buffer(request), [&](auto ec, std::size_t) {
        if (ec) return;
        beast::http::async_read(stream, buffer, response, [&](auto ec, std::size_t) {
          if (ec) return;
          if (!expect_close) {
            result = response.body();
            return;
          }
          stream.async_read_some(asio::buffer(spare), [&](auto ec, std::size_t) {
            if (ec) result = response.body();  // the session ended after the response
          });
        });
      });
    });
  });
  io.run_for(5s);
  return result;
}

TEST(HttpServerTls, ServesHttpsAndRefusesOldTls) {
  auto files = testing::make_self_signed_certificate("tls");
  ASSERT_TRUE(files);
  Server server(
      Limits{},
      [](std::shared_ptr<Exchange> exchange) {
        exchange->respond(json_response(200, exchange->request().secure ? "secure" : "plain"));
      },
      1);
  ListenerSpec spec;
  spec.tls = TlsFiles{files->certificate, files->key};
  std::uint16_t port = server.listen(spec);
  server.start();
  EXPECT_EQ(tls_get(port), "secure");
  EXPECT_EQ(tls_get(port, TLS1_2_VERSION), "secure");
  EXPECT_EQ(tls_get(port, TLS1_1_VERSION), "");
  EXPECT_EQ(tls_get(port, 0, /*expect_close=*/true), "secure");
  for (int i = 0; i < 200 && server.connection_count() != 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(server.connection_count(), 0u);
}

TEST(HttpServerTls, MismatchedKeyIsReported) {
  auto first = testing::make_self_signed_certificate("tls");
  ASSERT_TRUE(first);
  std::string other_key = first->key + ".other";
  {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    std::FILE* file = std::fopen(other_key.c_str(), "w");
    ASSERT_NE(file, nullptr);
    PEM_write_PrivateKey(file, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(file);
  }
  Server server(
      Limits{}, [](std::shared_ptr<Exchange>) {}, 1);
  ListenerSpec spec;
  spec.tls = TlsFiles{first->certificate, other_key};
  EXPECT_THROW(server.listen(spec), std::runtime_error);
}

}  // namespace
}  // namespace bastion::http
