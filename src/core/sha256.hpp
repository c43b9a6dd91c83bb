// SHA-256 over OpenSSL's SHA-256 functions (digests for binding, never for passwords), and
// HMAC-SHA-256 over them (keyed digests: pseudonyms that nobody without the key can recompute).
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
// first). Its state lives inside the object: making one allocates nothing. A copy continues from
// the same state on its own (HmacSha256 starts every message from its key's hashed blocks so).
class Sha256Stream {
 public:
  Sha256Stream();
  Sha256Stream(const Sha256Stream& other);
  Sha256Stream& operator=(const Sha256Stream&) = delete;  // a copy is made, not assigned

  void update(std::string_view data);
  Sha256Digest finish();  // once

 private:
  // OpenSSL's SHA256_CTX (112 bytes), kept opaque so that this header need not include the
  // deprecated declarations (sha256.cpp checks that it fits).
  alignas(8) unsigned char state_[112];
};

// HMAC-SHA-256 (RFC 2104; RFC 4231 has its test vectors) under one key of any length (one longer
// than SHA-256's 64-byte block is hashed first, RFC 2104 §2). The key's inner and outer padded
// blocks are hashed once, here (RFC 2104 §4, "precomputed" intermediate results), so a message
// of up to 55 bytes costs two compressions instead of four.
class HmacSha256 {
 public:
  explicit HmacSha256(std::string_view key);

  // One message fed in pieces. Must not outlive the key it was made from.
  class Stream {
   public:
    explicit Stream(const HmacSha256& key) : key_(key), inner_(key.inner_) {}
    void update(std::string_view data) { inner_.update(data); }
    Sha256Digest finish();  // once

   private:
    const HmacSha256& key_;
    Sha256Stream inner_;
  };

  Sha256Digest digest(std::string_view message) const;

 private:
  Sha256Stream inner_;  // after (key XOR ipad)
  Sha256Stream outer_;  // after (key XOR opad)
};

}  // namespace bastion::core
