#include "core/base64.hpp"

#include <gtest/gtest.h>

namespace bastion::core {
namespace {

TEST(Base64Url, RoundTripsEveryRemainderWithoutPadding) {
  const std::string bytes("\xfb\xff\x00\x3e\x3f", 5);
  for (std::size_t n = 0; n <= bytes.size(); ++n) {
    const std::string part = bytes.substr(0, n);
    const std::string encoded = base64url_encode(part);
    EXPECT_EQ(encoded.find('='), std::string::npos);
    EXPECT_EQ(encoded.find('+'), std::string::npos);
    EXPECT_EQ(encoded.find('/'), std::string::npos);
    EXPECT_EQ(base64url_decode(encoded), part);
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
}

TEST(Base64Url, RefusesPaddingTheStandardAlphabetAndImpossibleLengths) {
  EXPECT_FALSE(base64url_decode("-_8=").has_value());
  EXPECT_FALSE(base64url_decode("+/8").has_value());
  EXPECT_FALSE(base64url_decode("abcde").has_value());  // 5 % 4 == 1 encodes nothing
  EXPECT_FALSE(base64url_decode("ab c").has_value());
  EXPECT_EQ(base64url_decode(""), std::string());
}

}  // namespace
}  // namespace bastion::core
