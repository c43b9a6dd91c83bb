// JSON text written straight into a std::string, for the encoders that run per request or per
// span (log lines, OTLP export) where building a boost::json tree first costs more than the
// data: string escaping per RFC 8259 §7 and integers without a temporary string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/short_text.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace bastion::core {

namespace detail {

// Bit 7 of each byte of the result is set exactly where `y` has a zero byte: no carry crosses a
// byte (each sum is at most 0xfe), so a byte next to one that matched is never flagged by it.
template <class Word>
constexpr Word zero_bytes(Word y) {
  constexpr Word kLow7 = static_cast<Word>(0x7f7f7f7f7f7f7f7full);
  return static_cast<Word>(~(((y & kLow7) + kLow7) | y | kLow7));
}

// The bytes of a word that need escaping in a JSON string (< 0x20, '"' or '\\'), flagged in bit
// 7 of each; exact per byte, so the lowest flag is the first such byte (words are loaded
// little-endian).
template <class Word>
constexpr Word escape_flags(Word word) {
  constexpr Word kOnes = static_cast<Word>(0x0101010101010101ull);
  return zero_bytes<Word>(word & (kOnes * 0xe0)) | zero_bytes<Word>(word ^ (kOnes * '"')) |
         zero_bytes<Word>(word ^ (kOnes * '\\'));
}
static_assert(escape_flags<std::uint64_t>(0x2020202020202020ull) == 0);
static_assert(escape_flags<std::uint64_t>(0x2020202020235c22ull) == 0x8080ull);  // "\"\\#": no borrow
static_assert(escape_flags<std::uint32_t>(0x7e1f205du) == 0x00800000u);

#if defined(__SSE2__)
// One bit per byte of `v`: set where the byte needs escaping.
inline unsigned escape_mask16(__m128i v) {
  const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);  // v <= 0x1f
  const __m128i quote = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
  const __m128i backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
  return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(control, _mm_or_si128(quote, backslash))));
}
#endif

// Whether no byte of p[0..size), size <= 16, needs escaping, by loads that overlap (the first
// and last word, or the whole block) instead of a loop over the bytes: most values of a request
// line or a span are 4 to 16 bytes.
[[gnu::always_inline]] inline bool short_needs_no_escape(const char* p, std::size_t size) {
#if defined(__SSE2__)
  if (size == 16) return escape_mask16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))) == 0;
  // Both words in one register, one test.
  if (size >= 8)
    return escape_mask16(_mm_set_epi64x(static_cast<long long>(load_word<std::uint64_t>(p + size - 8)),
                                        static_cast<long long>(load_word<std::uint64_t>(p)))) == 0;
#else
  if (size >= 8) return (escape_flags(load_word<std::uint64_t>(p)) | escape_flags(load_word<std::uint64_t>(p + size - 8))) == 0;
#endif
  if (size >= 4)
    return escape_flags((std::uint64_t{load_word<std::uint32_t>(p + size - 4)} << 32) | load_word<std::uint32_t>(p)) == 0;
  for (std::size_t i = 0; i < size; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c < 0x20 || c == '"' || c == '\\') return false;
  }
  return true;
}

// write_json_string's general case: any length, escapes written.
char* write_json_string_escaped(char* out, std::string_view s);

// `size` bytes, sizeof(Word) <= size <= 2 * sizeof(Word): its first and last words (they overlap
// when size < 2 * sizeof(Word)), both read before either is written.
template <class Word>
inline void copy_first_and_last_word(char* out, const char* data, std::size_t size) {
  Word head, tail;
  std::memcpy(&head, data, sizeof(Word));
  std::memcpy(&tail, data + size - sizeof(Word), sizeof(Word));
  std::memcpy(out, &head, sizeof(Word));
  std::memcpy(out + size - sizeof(Word), &tail, sizeof(Word));
}
}  // namespace detail

// Copies `size` bytes to `out` and returns the end. For the short pieces a line is made of
// (keys, ids, labels, a few to 16 bytes): memcpy with a size known only at run time is a call
// that dispatches on the size, and a request line made some forty such calls; two overlapping
// loads and stores do it inline.
[[gnu::always_inline]] inline char* copy_bytes(char* out, const char* data, std::size_t size) {
  if (size > 16) {
    std::memcpy(out, data, size);
  } else if (size >= 8) {
    detail::copy_first_and_last_word<std::uint64_t>(out, data, size);
  } else if (size >= 4) {
    detail::copy_first_and_last_word<std::uint32_t>(out, data, size);
  } else if (size > 0) {
    out[0] = data[0];
    out[size / 2] = data[size / 2];
    out[size - 1] = data[size - 1];
  }
  return out + size;
}

// `s` as a JSON string, quotes included: '"', '\\' and control characters are escaped; other
// bytes are copied as they are (UTF-8 passes through unchanged).
void append_json_string(std::string& out, std::string_view s);

// Whether no byte of `s` needs escaping in a JSON string ('"', '\\', control characters).
bool needs_no_json_escape(std::string_view s);

// The most bytes a JSON string of `size` input bytes takes: every byte escaped as \u00XX, and
// the quotes.
constexpr std::size_t json_string_bound(std::size_t size) { return 6 * size + 2; }
// append_json_string into memory that holds json_string_bound(s.size()) bytes: for writers that
// size a whole line once instead of growing a string piece by piece. Returns the end. Inline for
// a value of up to 16 bytes that needs no escape (nearly every one a request line holds).
[[gnu::always_inline]] inline char* write_json_string(char* out, std::string_view s) {
  if (s.size() > 16 || !detail::short_needs_no_escape(s.data(), s.size())) return detail::write_json_string_escaped(out, s);
  *out++ = '"';
  out = copy_bytes(out, s.data(), s.size());
  *out++ = '"';
  return out;
}

// `value` in decimal into memory that holds 20 bytes; returns the end. For the nanosecond times
// of spans (19 digits), which std::to_chars writes two digits per step over the whole number:
// this takes 8 digits at a time in 32-bit arithmetic.
char* write_decimal(char* out, std::uint64_t value);
void append_decimal(std::string& out, std::int64_t value);
void append_decimal(std::string& out, std::uint64_t value);

}  // namespace bastion::core
