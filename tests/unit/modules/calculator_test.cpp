#include "modules/demo/calculator.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

namespace bastion::modules::demo {
namespace {

double value_of(std::string_view expression) {
  auto result = evaluate(expression);
  EXPECT_TRUE(result.has_value()) << expression << ": " << (result ? "" : result.error().message);
  return result ? *result : NAN;
}

CalculationError error_of(std::string_view expression, const CalculatorLimits& limits = {}) {
  auto result = evaluate(expression, limits);
  EXPECT_FALSE(result.has_value()) << expression << " evaluated to " << (result ? *result : 0.0);
  return result ? CalculationError{} : result.error();
}

TEST(Calculator, ArithmeticAndPrecedence) {
  EXPECT_EQ(value_of("2+2"), 4);
  EXPECT_EQ(value_of("2 + 3 * 4"), 14);
  EXPECT_EQ(value_of("(2 + 3) * 4"), 20);
  EXPECT_EQ(value_of("10 - 4 - 3"), 3);  // left-associative
  EXPECT_EQ(value_of("100 / 10 / 5"), 2);
  EXPECT_EQ(value_of("7 % 3"), 1);
  EXPECT_EQ(value_of("-7 % 3"), -1);  // sign follows the dividend, as fmod
  EXPECT_EQ(value_of("5.5 % 2"), 1.5);
  EXPECT_EQ(value_of(" \t1\n+\r1 "), 2);
}

TEST(Calculator, PowerAndUnaryMinus) {
  EXPECT_EQ(value_of("2^10"), 1024);
  EXPECT_EQ(value_of("2^3^2"), 512);  // right-associative
  EXPECT_EQ(value_of("-2^2"), -4);    // ^ binds tighter than unary minus
  EXPECT_EQ(value_of("(-2)^2"), 4);
  EXPECT_EQ(value_of("2^-1"), 0.5);
  EXPECT_EQ(value_of("--3"), 3);
  EXPECT_EQ(value_of("+-+3"), -3);
  EXPECT_EQ(value_of("2*-3"), -6);
}

TEST(Calculator, NumberForms) {
  EXPECT_EQ(value_of(".5"), 0.5);
  EXPECT_EQ(value_of("5."), 5);
  EXPECT_EQ(value_of("1e3"), 1000);
  EXPECT_EQ(value_of("1.5E-3"), 0.0015);
  EXPECT_EQ(value_of("1e+2"), 100);
  EXPECT_EQ(value_of("1e-999"), 0);  // underflow is a faithful zero, not an error
  EXPECT_EQ(value_of("0.1 + 0.2"), 0.1 + 0.2);
}

TEST(Calculator, ArithmeticErrorsAreReported) {
  auto e = error_of("1/0");
  EXPECT_EQ(e.message, "division by zero");
  EXPECT_EQ(e.position, 1u);
  EXPECT_EQ(error_of("5 % (2-2)").message, "modulo by zero");
  EXPECT_NE(error_of("0^-1").message.find("division by zero"), std::string::npos);
  EXPECT_NE(error_of("1e308 * 10").message.find("overflow"), std::string::npos);
  EXPECT_NE(error_of("10^400").message.find("overflow"), std::string::npos);
  EXPECT_NE(error_of("-1e308 - 1e308").message.find("overflow"), std::string::npos);
  EXPECT_NE(error_of("(-8)^0.5").message.find("not a real number"), std::string::npos);
  EXPECT_NE(error_of("1e999").message.find("too large"), std::string::npos);
}

TEST(Calculator, SyntaxErrorsPointAtTheProblem) {
  EXPECT_EQ(error_of("").message, "the expression is empty");
  EXPECT_EQ(error_of("   ").message, "the expression is empty");
  EXPECT_EQ(error_of("2+").position, 2u);
  auto missing = error_of("(1+2");
  EXPECT_NE(missing.message.find("missing ')'"), std::string::npos);
  EXPECT_EQ(missing.position, 0u);
  EXPECT_EQ(error_of("1+2)").message, "unbalanced ')'");
  EXPECT_EQ(error_of("2 3").position, 2u);
  EXPECT_EQ(error_of("2(3)").position, 1u);  // no implicit multiplication
  EXPECT_NE(error_of("abc").message.find("'a'"), std::string::npos);
  EXPECT_EQ(error_of("1..2").position, 2u);
  EXPECT_NE(error_of("1e").message.find("exponent"), std::string::npos);
  EXPECT_NE(error_of(".").message.find("digit"), std::string::npos);
  EXPECT_NE(error_of("()").message.find("')'"), std::string::npos);
  EXPECT_NE(error_of("2**3").message.find("'*'"), std::string::npos);
}

TEST(Calculator, HostileBytesAreNamedNotEchoed) {
  const std::string nul("1+\0", 3);
  EXPECT_NE(error_of(nul).message.find("byte 0x00"), std::string::npos);
  EXPECT_NE(error_of("1+\x1b[31m").message.find("byte 0x1B"), std::string::npos);
  EXPECT_NE(error_of("\xef\xbc\x92").message.find("byte 0xEF"), std::string::npos);  // fullwidth digit two
}

TEST(Calculator, LengthLimit) {
  std::string long_sum;
  while (long_sum.size() < 999) long_sum += "1+";
  long_sum += "1";  // 1001 characters
  auto e = error_of(long_sum);
  EXPECT_NE(e.message.find("too long"), std::string::npos);
  long_sum.resize(999);  // "...1+1" back under the limit
  EXPECT_TRUE(evaluate(long_sum).has_value());
  CalculatorLimits small;
  small.max_length = 3;
  EXPECT_TRUE(evaluate("1+1", small).has_value());
  EXPECT_FALSE(evaluate("1+11", small).has_value());
}

TEST(Calculator, NestingLimitStopsDeepInputBeforeTheStackDoes) {
  const auto nested = [](int n) { return std::string(n, '(') + "1" + std::string(n, ')'); };
  EXPECT_EQ(value_of(nested(64)), 1);
  EXPECT_NE(error_of(nested(65)).message.find("nested too deeply"), std::string::npos);
  // Far beyond the limit: must fail fast, not overflow the stack.
  EXPECT_NE(error_of(std::string(999, '(')).message.find("nested too deeply"), std::string::npos);
  EXPECT_NE(error_of(std::string(998, '-') + "1").message.find("nested too deeply"), std::string::npos);
  std::string tower;
  for (int i = 0; i < 300; ++i) tower += "1^";
  tower += "1";
  EXPECT_NE(error_of(tower).message.find("nested too deeply"), std::string::npos);
  // A flat expression of the same length costs no depth.
  std::string flat;
  for (int i = 0; i < 300; ++i) flat += "1+";
  flat += "1";
  EXPECT_EQ(value_of(flat), 301);
}

TEST(Calculator, NumberLengthLimit) {
  EXPECT_TRUE(evaluate(std::string(64, '9')).has_value());
  EXPECT_NE(error_of(std::string(65, '9')).message.find("too long"), std::string::npos);
}

TEST(Calculator, RandomInputNeverCrashesAndNeverYieldsNonFinite) {
  const std::string alphabet = "0123456789.+-*/%^() eE";
  std::mt19937 rng(20250101);
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1), length(0, 40);
  for (int i = 0; i < 20000; ++i) {
    std::string s(length(rng), ' ');
    for (char& c : s) c = alphabet[pick(rng)];
    auto result = evaluate(s);
    if (result) {
      EXPECT_TRUE(std::isfinite(*result)) << s;
    } else {
      EXPECT_FALSE(result.error().message.empty()) << s;
      EXPECT_LE(result.error().position, s.size()) << s;
    }
  }
}

TEST(Calculator, FormatNumber) {
  EXPECT_EQ(format_number(4), "4");
  EXPECT_EQ(format_number(-0.0), "0");
  EXPECT_EQ(format_number(2.5), "2.5");
  EXPECT_EQ(format_number(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(format_number(999999999999999.0), "999999999999999");
  EXPECT_EQ(format_number(1e20), "1e+20");
  EXPECT_EQ(format_number(-1024), "-1024");
  EXPECT_EQ(*evaluate("-0"), 0.0);
  EXPECT_FALSE(std::signbit(*evaluate("-0")));
}

}  // namespace
}  // namespace bastion::modules::demo
