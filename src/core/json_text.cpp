#include "core/json_text.hpp"

#include <array>
#include <bit>
#include <charconv>
#include <cstring>

#include "core/hex.hpp"
#include "core/short_text.hpp"

namespace bastion::core {

namespace {

constexpr std::array<bool, 256> kNeedsEscape = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 0x20; ++c) table[static_cast<std::size_t>(c)] = true;
  table['"'] = table['\\'] = true;
  return table;
}();

#if defined(__SSE2__)
// detail::escape_mask16 of p[0..16).
unsigned escape_mask16(const char* p) { return detail::escape_mask16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
#endif

// The index of the first byte of p[from..size) that needs escaping, or `size`. Encoded text is
// mostly runs of bytes that need nothing (a request line's values, span attributes): they are
// scanned 16 bytes at a time where SSE2 is there (every x86-64), else 8 at a time, and a
// string's last bytes by one load that overlaps bytes already scanned (the tests are exact per
// byte, so an overlapped byte that needed escaping is simply masked off).
std::size_t next_to_escape(const char* p, std::size_t size, std::size_t from) {
  std::size_t i = from;
#if defined(__SSE2__)
  if (size >= 16) {
    for (; size - i >= 16; i += 16)
      if (const unsigned mask = escape_mask16(p + i)) return i + static_cast<std::size_t>(std::countr_zero(mask));
    if (i == size) return size;
    const std::size_t last = size - 16;
    const unsigned mask = escape_mask16(p + last) >> (i - last);
    return mask ? i + static_cast<std::size_t>(std::countr_zero(mask)) : size;
  }
#endif
  if (size >= 8) {
    for (; size - i >= 8; i += 8)
      if (const std::uint64_t flags = detail::escape_flags(load_word<std::uint64_t>(p + i)))
        return i + static_cast<std::size_t>(std::countr_zero(flags)) / 8;
    if (i == size) return size;
    const std::size_t last = size - 8;
    const std::uint64_t flags = detail::escape_flags(load_word<std::uint64_t>(p + last)) >> (8 * (i - last));
    return flags ? i + static_cast<std::size_t>(std::countr_zero(flags)) / 8 : size;
  }
  while (i < size && !kNeedsEscape[static_cast<unsigned char>(p[i])]) ++i;
  return i;
}

// Whether no byte of p[0..size) needs escaping: most strings a line or a span is made of.
bool needs_no_escape(const char* p, std::size_t size) {
  if (size >= 16) return next_to_escape(p, size, 0) == size;
  return detail::short_needs_no_escape(p, size);
}

constexpr char kDigitPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

// Exactly 8 digits of `value` (< 10^8), leading zeros included.
void write_8_digits(char* out, std::uint32_t value) {
  const std::uint32_t high = value / 10000, low = value % 10000;
  std::memcpy(out, kDigitPairs + 2 * (high / 100), 2);
  std::memcpy(out + 2, kDigitPairs + 2 * (high % 100), 2);
  std::memcpy(out + 4, kDigitPairs + 2 * (low / 100), 2);
  std::memcpy(out + 6, kDigitPairs + 2 * (low % 100), 2);
}

template <class Integer>
void append_integer(std::string& out, Integer value) {
  char buffer[24];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, ec == std::errc() ? end : buffer);
}

// The escaper, for a std::string or for raw memory (Out: append(data, size), push_back(c)).
template <class Out>
void escape_json_string(Out& out, std::string_view s) {
  out.push_back('"');
  if (needs_no_escape(s.data(), s.size())) {
    out.append(s.data(), s.size());
    out.push_back('"');
    return;
  }
  std::size_t clean_from = 0;
  for (;;) {
    const std::size_t at = next_to_escape(s.data(), s.size(), clean_from);
    out.append(s.data() + clean_from, at - clean_from);
    if (at == s.size()) break;
    clean_from = at + 1;
    const auto c = static_cast<unsigned char>(s[at]);
    switch (c) {
      case '"': out.append("\\\"", 2); break;
      case '\\': out.append("\\\\", 2); break;
      case '\n': out.append("\\n", 2); break;
      case '\r': out.append("\\r", 2); break;
      case '\t': out.append("\\t", 2); break;
      case '\b': out.append("\\b", 2); break;
      case '\f': out.append("\\f", 2); break;
      default: {
        char escaped[] = {'\\', 'u', '0', '0', '0', '0'};
        hex_into(&c, 1, escaped + 4);
        out.append(escaped, sizeof escaped);
      }
    }
  }
  out.push_back('"');
}

// Raw memory the caller sized (json_string_bound).
struct RawOut {
  char* at;
  void append(const char* data, std::size_t size) { at = copy_bytes(at, data, size); }
  void push_back(char c) { *at++ = c; }
};

}  // namespace

void append_json_string(std::string& out, std::string_view s) { escape_json_string(out, s); }

bool needs_no_json_escape(std::string_view s) { return needs_no_escape(s.data(), s.size()); }

char* detail::write_json_string_escaped(char* out, std::string_view s) {
  RawOut raw{out};
  escape_json_string(raw, s);
  return raw.at;
}

char* write_decimal(char* out, std::uint64_t value) {
  constexpr std::uint64_t k8 = 100000000, k16 = k8 * k8;
  if (value < k8) return std::to_chars(out, out + 20, static_cast<std::uint32_t>(value)).ptr;
  if (value < k16) {
    out = std::to_chars(out, out + 20, static_cast<std::uint32_t>(value / k8)).ptr;
    write_8_digits(out, static_cast<std::uint32_t>(value % k8));
    return out + 8;
  }
  const std::uint64_t rest = value % k16;
  out = std::to_chars(out, out + 20, static_cast<std::uint32_t>(value / k16)).ptr;  // at most 1844
  write_8_digits(out, static_cast<std::uint32_t>(rest / k8));
  write_8_digits(out + 8, static_cast<std::uint32_t>(rest % k8));
  return out + 16;
}

void append_decimal(std::string& out, std::int64_t value) { append_integer(out, value); }
void append_decimal(std::string& out, std::uint64_t value) { append_integer(out, value); }

}  // namespace bastion::core
