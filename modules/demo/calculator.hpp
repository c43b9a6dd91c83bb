// A safe arithmetic evaluator for the demo `calculate` tool.
//
// The expression comes from a model or a user, so it is untrusted input: the parser is a
// hand-written recursive descent over a tiny grammar (no eval, no variables, no functions), with
// explicit limits on the input length, on nesting depth (which bounds recursion and therefore
// stack use) and on the length of a number literal. It never throws on bad input; every problem
// comes back as a CalculationError with the 0-based position where it was found.
//
// Grammar (usual precedence; `^` binds tighter than unary minus and is right-associative, so
// -2^2 = -4 and 2^3^2 = 512):
//   expression := term (('+' | '-') term)*
//   term       := unary (('*' | '/' | '%') unary)*
//   unary      := ('-' | '+') unary | power
//   power      := primary ('^' unary)?
//   primary    := number | '(' expression ')'
//   number     := digits ['.' digits] [('e' | 'E') ['+' | '-'] digits]  |  '.' digits [...]
// Arithmetic is IEEE double: integers are exact up to 2^53. `%` is the remainder of truncated
// division (the sign follows the dividend), as in C's fmod.
#pragma once

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>

namespace bastion::modules::demo {

struct CalculatorLimits {
  std::size_t max_length = 1000;        // characters in the whole expression
  int max_depth = 64;                   // nested parentheses / unary signs / exponents
  std::size_t max_number_length = 64;   // characters in one number literal
};

struct CalculationError {
  std::string message;  // safe to show to the caller
  std::size_t position = 0;
};

std::expected<double, CalculationError> evaluate(std::string_view expression,
                                                 const CalculatorLimits& limits = {});

// Shortest text that reads back as the same double; integral values up to 1e15 print without
// an exponent or a fractional part ("4", not "4.0"), and -0 prints as "0".
std::string format_number(double value);

}  // namespace bastion::modules::demo
