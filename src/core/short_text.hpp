// Equality of short strings without a call: labels, method names, routes and ids are compared
// several times per request, and std::string_view's operator== calls memcmp for any length not
// known at compile time (about two dozen calls per request with telemetry on, 0.5% of the loaded
// server's CPU in a perf profile).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace bastion::core {

// The sizeof(Word) bytes at p as one word (an unaligned load; words are little-endian here).
template <class Word>
inline Word load_word(const char* p) {
  Word word;
  std::memcpy(&word, p, sizeof word);
  return word;
}

// a == b; up to 16 bytes by one or two overlapping word loads per side, longer by memcmp. Always
// inlined: against a literal, the length is then known and only its branch is left.
[[gnu::always_inline]] inline bool same_text(std::string_view a, std::string_view b) {
  const std::size_t n = a.size();
  if (n != b.size()) return false;
  const char* p = a.data();
  const char* q = b.data();
  if (n >= 8) {
    if (n > 16) return std::memcmp(p, q, n) == 0;
    return load_word<std::uint64_t>(p) == load_word<std::uint64_t>(q) &&
           load_word<std::uint64_t>(p + n - 8) == load_word<std::uint64_t>(q + n - 8);
  }
  if (n >= 4) {
    return load_word<std::uint32_t>(p) == load_word<std::uint32_t>(q) &&
           load_word<std::uint32_t>(p + n - 4) == load_word<std::uint32_t>(q + n - 4);
  }
  for (std::size_t i = 0; i < n; ++i)
    if (p[i] != q[i]) return false;
  return true;
}

}  // namespace bastion::core
