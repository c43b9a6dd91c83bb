#include "core/ecdsa_signature.hpp"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>

namespace bastion::core {

std::optional<std::string> ecdsa_raw_to_der(std::string_view raw, std::size_t half) {
  if (half == 0 || raw.size() != 2 * half) return std::nullopt;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(half), nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data() + half), static_cast<int>(half), nullptr);
  if (sig == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::optional<std::string> ecdsa_der_to_raw(std::string_view der, std::size_t half) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (sig == nullptr) return std::nullopt;
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig, &r, &s);
  std::string out(2 * half, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  const int width = static_cast<int>(half);
  const bool ok = BN_bn2binpad(r, bytes, width) == width && BN_bn2binpad(s, bytes + half, width) == width;
  ECDSA_SIG_free(sig);
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace bastion::core
