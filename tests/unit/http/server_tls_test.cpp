// TLS listener tests: a throw-away self-signed certificate is made with OpenSSL at test time.
#include <unistd.h>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
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

namespace bastion::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

struct CertificateFiles {
  std::filesystem::path directory;
  std::string certificate;
  std::string key;
  ~CertificateFiles() {
    std::error_code ignored;
    std::filesystem::remove_all(directory, ignored);
  }
};

std::unique_ptr<CertificateFiles> make_self_signed_certificate() {
  auto files = std::make_unique<CertificateFiles>();
  files->directory = std::filesystem::temp_directory_path() / ("bastion-http-tls-" + std::to_string(::getpid()));
  std::filesystem::create_directories(files->directory);
  files->certificate = (files->directory / "cert.pem").string();
  files->key = (files->directory / "key.pem").string();

  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (!key || !cert) return nullptr;
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return nullptr;

  std::FILE* cert_file = std::fopen(files->certificate.c_str(), "w");
  std::FILE* key_file = std::fopen(files->key.c_str(), "w");
  bool ok = cert_file && key_file && PEM_write_X509(cert_file, cert.get()) == 1 &&
            PEM_write_PrivateKey(key_file, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  if (cert_file) std::fclose(cert_file);
  if (key_file) std::fclose(key_file);
  return ok ? std::move(files) : nullptr;
}

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
  auto files = make_self_signed_certificate();
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
  auto first = make_self_signed_certificate();
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
