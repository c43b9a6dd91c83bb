// JSON text written straight into a std::string, for the encoders that run per request or per
// span (log lines, OTLP export) where building a boost::json tree first costs more than the
// data: string escaping per RFC 8259 §7 and integers without a temporary string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace bastion::core {

namespace detail {
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
// size a whole line once instead of growing a string piece by piece. Returns the end.
char* write_json_string(char* out, std::string_view s);

// `value` in decimal into memory that holds 20 bytes; returns the end. For the nanosecond times
// of spans (19 digits), which std::to_chars writes two digits per step over the whole number:
// this takes 8 digits at a time in 32-bit arithmetic.
char* write_decimal(char* out, std::uint64_t value);
void append_decimal(std::string& out, std::int64_t value);
void append_decimal(std::string& out, std::uint64_t value);

}  // namespace bastion::core
