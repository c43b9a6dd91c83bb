// Lowercase hex: every byte value, in order, two digits each.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "core/hex.hpp"

TEST(Hex, EveryByteValueInOrder) {
  unsigned char bytes[256];
  for (int b = 0; b < 256; ++b) bytes[b] = static_cast<unsigned char>(b);
  std::string out(512, '?');
  bastion::core::hex_into(bytes, sizeof bytes, out.data());
  std::string expected;
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int b = 0; b < 256; ++b) {
    expected.push_back(kDigits[b >> 4]);
    expected.push_back(kDigits[b & 0xf]);
  }
  EXPECT_EQ(out, expected);
  EXPECT_EQ(out.substr(0, 6), "000102");
  EXPECT_EQ(out.substr(506), "fdfeff");
}

// A 64-bit value as 16 digits, most significant first, the same text as its big-endian bytes.
TEST(Hex, U64MostSignificantDigitFirst) {
  std::string out(16, '?');
  bastion::core::hex_u64_into(0x0123456789abcdefull, out.data());
  EXPECT_EQ(out, "0123456789abcdef");
  bastion::core::hex_u64_into(0, out.data());
  EXPECT_EQ(out, "0000000000000000");
  std::uint64_t value = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 64; ++i, value = value * 6364136223846793005ull + 1442695040888963407ull) {
    unsigned char bytes[8];
    for (int b = 0; b < 8; ++b) bytes[b] = static_cast<unsigned char>(value >> (56 - 8 * b));
    std::string expected(16, '?');
    bastion::core::hex_into(bytes, sizeof bytes, expected.data());
    bastion::core::hex_u64_into(value, out.data());
    EXPECT_EQ(out, expected);
  }
}

// Eight bytes at a time and the rest one at a time: every length writes exactly its 2 * size
// digits and nothing past them.
TEST(Hex, EveryLengthWritesExactlyItsDigits) {
  unsigned char bytes[21];
  for (int b = 0; b < 21; ++b) bytes[b] = static_cast<unsigned char>(0xf0 - 11 * b);
  static constexpr char kDigits[] = "0123456789abcdef";
  for (std::size_t size = 0; size <= sizeof bytes; ++size) {
    std::string out(2 * sizeof bytes + 4, '#');
    bastion::core::hex_into(bytes, size, out.data());
    std::string expected;
    for (std::size_t b = 0; b < size; ++b) {
      expected.push_back(kDigits[bytes[b] >> 4]);
      expected.push_back(kDigits[bytes[b] & 0xf]);
    }
    EXPECT_EQ(out.substr(0, 2 * size), expected) << "size " << size;
    EXPECT_EQ(out.substr(2 * size), std::string(out.size() - 2 * size, '#')) << "size " << size;
  }
}
