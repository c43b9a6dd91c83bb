// Lowercase hex: every byte value, in order, two digits each.
#include <gtest/gtest.h>

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
