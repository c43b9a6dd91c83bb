// SHA-256 over OpenSSL's SHA-256 functions (digests for binding, never for passwords).
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace bastion::core {

using Sha256Digest = std::array<unsigned char, 32>;

Sha256Digest sha256(std::string_view data);
// Lowercase hex of the digest.
std::string sha256_hex(std::string_view data);

// SHA-256 over data fed in pieces (a serializer's output, without joining it into one string
// first). Its state lives inside the object: making one allocates nothing.
class Sha256Stream {
 public:
  Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;

  void update(std::string_view data);
  Sha256Digest finish();  // once

 private:
  // OpenSSL's SHA256_CTX (112 bytes), kept opaque so that this header need not include the
  // deprecated declarations (sha256.cpp checks that it fits).
  alignas(8) unsigned char state_[112];
};

}  // namespace bastion::core
