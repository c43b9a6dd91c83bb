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
// The same hex appended to `out` (no temporary string on hot paths).
void append_sha256_hex(std::string& out, std::string_view data);

}  // namespace bastion::core
