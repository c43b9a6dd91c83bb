// Lowercase hex of bytes: session ids, digests, trace and span ids. Header-only: it runs several
// times per request (ids, the argument digest) and is a few instructions per byte.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

#if defined(__SSE2__)
namespace detail {
// The 16 digits of 8 bytes at once (SSE2, every x86-64): nibbles spread to bytes, '0' added,
// and 'a' - '0' - 10 more where a nibble is over 9. A per-request id or digest is 8 to 32 bytes;
// the table walks 2 bytes of digits per input byte.
inline void hex8_into(__m128i eight_bytes, char* out) {
  const __m128i low_nibble = _mm_set1_epi8(0x0f);
  const __m128i high = _mm_and_si128(_mm_srli_epi16(eight_bytes, 4), low_nibble);
  const __m128i low = _mm_and_si128(eight_bytes, low_nibble);
  const __m128i nibbles = _mm_unpacklo_epi8(high, low);  // most significant nibble of each byte first
  const __m128i over_nine = _mm_cmpgt_epi8(nibbles, _mm_set1_epi8(9));
  const __m128i digits = _mm_add_epi8(_mm_add_epi8(nibbles, _mm_set1_epi8('0')),
                                      _mm_and_si128(over_nine, _mm_set1_epi8('a' - '0' - 10)));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), digits);
}
}  // namespace detail
#endif

// Lowercase hex of bytes[0..size) into out[0..2 * size).
inline void hex_into(const unsigned char* bytes, std::size_t size, char* out) {
  std::size_t i = 0;
#if defined(__SSE2__)
  for (const std::size_t whole = size - size % 8; i < whole; i += 8)
    detail::hex8_into(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes + i)), out + 2 * i);
#endif
  for (; i < size; ++i) std::memcpy(out + 2 * i, &detail::kHexPairs[2 * bytes[i]], 2);
}

// The 16 lowercase hex digits of `value`, most significant first, into out[0..16) (ids are
// made several times per request).
inline void hex_u64_into(std::uint64_t value, char* out) {
#if defined(__SSE2__)
  detail::hex8_into(_mm_cvtsi64_si128(static_cast<long long>(__builtin_bswap64(value))), out);
#else
  for (int i = 0; i < 8; ++i) std::memcpy(out + 2 * i, &detail::kHexPairs[2 * ((value >> (56 - 8 * i)) & 0xff)], 2);
#endif
}

}  // namespace bastion::core
