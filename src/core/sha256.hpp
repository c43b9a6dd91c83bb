// SHA-256 over OpenSSL EVP (digests for binding, never for passwords).
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace bastion::core {

using Sha256Digest = std::array<unsigned char, 32>;

Sha256Digest sha256(std::string_view data);
// Lowercase hex of the digest.
std::string sha256_hex(std::string_view data);
// Lowercase hex of `digest` into out[0..64).
void sha256_hex_into(const Sha256Digest& digest, char* out);

// SHA-256 over data fed in pieces (a serializer's output, without joining it into one string
// first). Uses this thread's reusable context when no other stream holds it, else its own.
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;

  void update(std::string_view data);
  Sha256Digest finish();  // once

 private:
  struct Context;
  Context* context_;
  bool owned_;
};

}  // namespace bastion::core
