// A throwaway self-signed certificate (EC P-256, CN=localhost) written to PEM files in a
// temporary folder, removed again when the object goes away. For tests of TLS listeners.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace bastion::http::testing {

struct CertificateFiles {
  std::filesystem::path directory;
  std::string certificate;
  std::string key;
  ~CertificateFiles() {
    std::error_code ignored;
    std::filesystem::remove_all(directory, ignored);
  }
};

// `tag` names the folder, so tests in one process do not share files. Nullptr on failure.
inline std::unique_ptr<CertificateFiles> make_self_signed_certificate(std::string_view tag) {
  auto files = std::make_unique<CertificateFiles>();
  files->directory = std::filesystem::temp_directory_path() /
                     ("bastion-http-" + std::string(tag) + "-" + std::to_string(::getpid()));
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

}  // namespace bastion::http::testing
