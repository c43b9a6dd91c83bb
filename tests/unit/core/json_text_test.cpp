#include "core/json_text.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace bastion::core {
namespace {

std::string encoded(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

TEST(JsonText, EscapesQuotesBackslashesAndEveryControlCharacter) {
  EXPECT_EQ(encoded(""), R"("")");
  EXPECT_EQ(encoded(R"(say "hi" \ bye)"), R"("say \"hi\" \\ bye")");
  EXPECT_EQ(encoded("a\nb\rc\td"), R"("a\nb\rc\td")");
  EXPECT_EQ(encoded(std::string("\x00\x01\x1f", 3)), R"("\u0000\u0001\u001f")");
  // Bytes from 0x20 up pass through (UTF-8 stays UTF-8; DEL is not a JSON control character).
  EXPECT_EQ(encoded("caf\xc3\xa9 \x7f ~"), "\"caf\xc3\xa9 \x7f ~\"");
}

// The block-at-a-time scan (16 bytes, 8 bytes, and a last block that overlaps bytes already
// scanned) must find a byte to escape at every position of a block, in a string's last bytes,
// next to bytes >= 0x80, and next to a byte it just escaped: '#' right after '"' and ']' right
// after '\\' are what a word test built on subtraction flags by mistake (the borrow of the byte
// that matched). boost::json's serializer is the reference.
TEST(JsonText, AgreesWithBoostJsonOnEveryPositionAndLength) {
  for (char filler : {'x', ' ', '#', ']'}) {
    for (char special : {'"', '\\', '\n', '\x00', '\x1f', '\x01'}) {
      for (std::size_t length = 1; length <= 40; ++length) {
        for (std::size_t at = 0; at < length; ++at) {
          std::string s(length, filler);
          if (length > 3) s[length / 2] = '\xe9';
          s[at] = special;
          const std::string expected = boost::json::serialize(boost::json::string_view(s.data(), s.size()));
          ASSERT_EQ(encoded(s), expected) << "length " << length << ", special at " << at << ", filler " << filler;
          // Two to escape: the second in the block the first was found in, or in the last block.
          for (std::size_t second = at + 1; second < length; second += 5) {
            std::string t = s;
            t[second] = '\x1f';
            ASSERT_EQ(encoded(t), boost::json::serialize(boost::json::string_view(t.data(), t.size())))
                << "length " << length << ", specials at " << at << " and " << second;
          }
        }
      }
    }
  }
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 2000; ++round) {
    std::string s(static_cast<std::size_t>(byte(rng) % 64), ' ');
    // Mostly printable ASCII, some control characters, quotes and backslashes.
    for (char& c : s) {
      const int b = byte(rng);
      c = static_cast<char>(b < 200 ? 0x20 + b % 0x5f : b < 230 ? b % 0x20 : b < 243 ? '"' : '\\');
    }
    ASSERT_EQ(encoded(s), boost::json::serialize(boost::json::string_view(s.data(), s.size())));
  }
}

// copy_bytes copies short pieces with overlapping loads and stores: every size of each of its
// branches must copy exactly its bytes, and touch nothing past them.
TEST(JsonText, CopyBytesCopiesEverySizeExactly) {
  std::string source(40, ' ');
  for (std::size_t i = 0; i < source.size(); ++i) source[i] = static_cast<char>('a' + i % 26);
  for (std::size_t size = 0; size <= source.size(); ++size) {
    const std::size_t from = std::min<std::size_t>(3, source.size() - size);  // an unaligned start
    std::string out(64, '#');
    char* end = copy_bytes(out.data() + 4, source.data() + from, size);
    ASSERT_EQ(end, out.data() + 4 + size) << "size " << size;
    EXPECT_EQ(out.substr(0, 4), "####") << "size " << size;
    EXPECT_EQ(out.substr(4, size), source.substr(from, size)) << "size " << size;
    EXPECT_EQ(out.substr(4 + size), std::string(60 - size, '#')) << "size " << size;
  }
}

// write_json_string (raw memory) writes what append_json_string (a std::string) appends.
TEST(JsonText, WritesIntoRawMemoryWhatItAppends) {
  for (std::size_t length = 0; length <= 40; ++length) {
    for (const char* special : {"", "\"", "\n"}) {
      std::string s(length, 'x');
      if (length > 0 && *special) s[length / 3] = *special;
      std::string raw(json_string_bound(s.size()), '\0');
      raw.resize(static_cast<std::size_t>(write_json_string(raw.data(), s) - raw.data()));
      ASSERT_EQ(raw, encoded(s)) << "length " << length;
    }
  }
}

// write_decimal takes 8 digits at a time: every length, the edges of each chunk, and random values
// agree with std::to_chars.
TEST(JsonText, WritesDecimalsAsToCharsDoes) {
  std::vector<std::uint64_t> values{0, std::numeric_limits<std::uint64_t>::max()};
  std::uint64_t power = 1;
  for (int digits = 1; digits <= 19; ++digits) {
    power *= 10;
    for (std::uint64_t v : {power - 1, power, power + 1, power / 2 + 7}) values.push_back(v);
  }
  std::mt19937_64 rng(11);
  for (int i = 0; i < 20000; ++i) values.push_back(rng() >> (i % 64));
  for (std::uint64_t v : values) {
    char expected[24], got[24];
    const std::string_view want(expected, static_cast<std::size_t>(std::to_chars(expected, expected + 24, v).ptr - expected));
    ASSERT_EQ(std::string_view(got, static_cast<std::size_t>(write_decimal(got, v) - got)), want) << v;
  }
}

TEST(JsonText, AppendsDecimalsAtTheLimits) {
  std::string out;
  append_decimal(out, std::numeric_limits<std::int64_t>::min());
  out.push_back(' ');
  append_decimal(out, std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(out, "-9223372036854775808 18446744073709551615");
}

}  // namespace
}  // namespace bastion::core
