// Lowercase hex of bytes: session ids, digests, trace and span ids. Header-only: it runs several
// times per request (ids, the argument digest) and is a few instructions per byte.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace bastion::core {

namespace detail {
// The two digits of every byte value: one table read per byte instead of two.
inline constexpr std::array<char, 512> kHexPairs = [] {
  constexpr char digits[] = "0123456789abcdef";
  std::array<char, 512> pairs{};
  for (std::size_t b = 0; b < 256; ++b) {
    pairs[2 * b] = digits[b >> 4];
    pairs[2 * b + 1] = digits[b & 0xf];
  }
  return pairs;
}();
}  // namespace detail

// Lowercase hex of bytes[0..size) into out[0..2 * size).
inline void hex_into(const unsigned char* bytes, std::size_t size, char* out) {
  for (std::size_t i = 0; i < size; ++i) std::memcpy(out + 2 * i, &detail::kHexPairs[2 * bytes[i]], 2);
}

// The 16 lowercase hex digits of `value`, most significant first, into out[0..16): one table
// read per byte straight from the register (ids are made several times per request).
inline void hex_u64_into(std::uint64_t value, char* out) {
  for (int i = 0; i < 8; ++i) std::memcpy(out + 2 * i, &detail::kHexPairs[2 * ((value >> (56 - 8 * i)) & 0xff)], 2);
}

}  // namespace bastion::core
