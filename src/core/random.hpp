// Cryptographically secure random values (OpenSSL RAND_bytes). Session ids, CSRF tokens and
// anything an attacker must not guess come from here, never from <random>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace bastion::core {

// `bytes` random bytes, hex encoded (2*bytes characters from [0-9a-f]).
std::string random_hex(std::size_t bytes);

// `bytes` random bytes, base64url encoded without padding.
std::string random_base64url(std::size_t bytes);

std::uint64_t random_u64();

}  // namespace bastion::core
