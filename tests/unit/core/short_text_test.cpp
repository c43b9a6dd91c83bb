// Equality of short strings by word loads: every length up to and past the word sizes, a
// difference at every position (first word, last word, their overlap) and in neither.
#include <gtest/gtest.h>

#include <string>

#include "core/short_text.hpp"

TEST(ShortText, SameTextAgreesWithStringEqualityAtEveryLengthAndPosition) {
  for (std::size_t length = 0; length <= 40; ++length) {
    std::string a(length, 'a');
    for (std::size_t i = 0; i < length; ++i) a[i] = static_cast<char>('a' + i % 26);
    const std::string same = a;
    EXPECT_TRUE(bastion::core::same_text(a, same)) << "length " << length;
    EXPECT_FALSE(bastion::core::same_text(a, a + "x")) << "length " << length;
    EXPECT_FALSE(bastion::core::same_text(a + "x", a)) << "length " << length;
    for (std::size_t at = 0; at < length; ++at) {
      std::string b = a;
      b[at] = static_cast<char>(b[at] ^ 0x20);
      EXPECT_FALSE(bastion::core::same_text(a, b)) << "length " << length << ", differing at " << at;
      EXPECT_EQ(bastion::core::same_text(a.substr(0, at), b.substr(0, at)), true) << "length " << at;
    }
  }
}
