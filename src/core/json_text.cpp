#include "core/json_text.hpp"

#include <array>
#include <charconv>
#include <cstring>

#include "core/hex.hpp"

namespace bastion::core {

namespace {

constexpr std::array<bool, 256> kNeedsEscape = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 0x20; ++c) table[static_cast<std::size_t>(c)] = true;
  table['"'] = table['\\'] = true;
  return table;
}();

// Whether any of the 8 bytes in `word` needs escaping (< 0x20, '"' or '\\'): the classic
// SWAR tests, exact as to whether such a byte exists (not which one).
bool word_needs_escape(std::uint64_t word) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ull;
  constexpr std::uint64_t kHigh = 0x8080808080808080ull;
  const auto has_zero_byte = [](std::uint64_t x) { return (x - kOnes) & ~x & kHigh; };
  const std::uint64_t below_space = (word - kOnes * 0x20) & ~word & kHigh;
  return (below_space | has_zero_byte(word ^ (kOnes * '"')) | has_zero_byte(word ^ (kOnes * '\\'))) != 0;
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
  // Runs of bytes that need nothing are appended whole: encoded text is mostly such runs, and
  // a character-at-a-time loop was the request-line formatter's largest cost.
  std::size_t clean_from = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    // Eight clean bytes at a time; the byte loop only where one of them needs work.
    if (s.size() - i >= 8) {
      std::uint64_t word;
      std::memcpy(&word, s.data() + i, sizeof word);
      if (!word_needs_escape(word)) {
        i += 8;
        continue;
      }
    }
    const auto c = static_cast<unsigned char>(s[i++]);
    if (!kNeedsEscape[c]) continue;
    const std::size_t at = i - 1;
    out.append(s.data() + clean_from, at - clean_from);
    clean_from = at + 1;
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
  out.append(s.data() + clean_from, s.size() - clean_from);
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

char* write_json_string(char* out, std::string_view s) {
  RawOut raw{out};
  escape_json_string(raw, s);
  return raw.at;
}

void append_decimal(std::string& out, std::int64_t value) { append_integer(out, value); }
void append_decimal(std::string& out, std::uint64_t value) { append_integer(out, value); }

}  // namespace bastion::core
