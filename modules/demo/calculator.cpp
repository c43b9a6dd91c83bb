#include "modules/demo/calculator.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <system_error>

namespace bastion::modules::demo {
namespace {

using Outcome = std::expected<double, CalculationError>;

std::unexpected<CalculationError> failure(std::string message, std::size_t position) {
  return std::unexpected<CalculationError>(CalculationError{std::move(message), position});
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Describes a character for an error message without echoing control bytes or broken UTF-8.
std::string describe(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte >= 0x21 && byte < 0x7f) return std::string("'") + c + "'";
  static constexpr char hex[] = "0123456789ABCDEF";
  return std::string("byte 0x") + hex[byte >> 4] + hex[byte & 0x0f];
}

class Parser {
 public:
  Parser(std::string_view text, const CalculatorLimits& limits) : text_(text), limits_(limits) {}

  Outcome parse() {
    skip_space();
    if (pos_ == text_.size()) return failure("the expression is empty", 0);
    auto value = expression();
    if (!value) return value;
    skip_space();
    if (pos_ != text_.size()) {
      if (text_[pos_] == ')') return failure("unbalanced ')'", pos_);
      return failure("unexpected " + describe(text_[pos_]) + ", expected an operator", pos_);
    }
    return value;
  }

 private:
  // Bounds recursion. Depth counts what really nests: an open parenthesis, a sign, an exponent.
  // Every recursive path passes through one of those, so the stack depth is O(max_depth) (a few
  // frames per level) whatever the input looks like, and a flat "1+2+3" costs no depth at all.
  class DepthGuard {
   public:
    explicit DepthGuard(Parser& p) : p_(p) { ++p_.depth_; }
    ~DepthGuard() { --p_.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;
    bool exceeded() const { return p_.depth_ > p_.limits_.max_depth; }

   private:
    Parser& p_;
  };

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r'))
      ++pos_;
  }

  bool accept(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  Outcome too_deep() {
    return failure("the expression is nested too deeply (limit " + std::to_string(limits_.max_depth) + ")",
                   pos_);
  }

  // Every operation's result passes through here: a non-finite value means overflow (inf) or
  // an undefined real result (NaN, e.g. (-8)^0.5), which we report instead of printing "inf".
  Outcome checked(double value, std::size_t op_pos) {
    if (std::isnan(value)) return failure("the result is not a real number", op_pos);
    if (std::isinf(value)) return failure("overflow: the result is too large", op_pos);
    return value;
  }

  Outcome expression() {
    auto left = term();
    if (!left) return left;
    for (;;) {
      skip_space();
      const std::size_t op_pos = pos_;
      if (accept('+')) {
        auto right = term();
        if (!right) return right;
        left = checked(*left + *right, op_pos);
      } else if (accept('-')) {
        auto right = term();
        if (!right) return right;
        left = checked(*left - *right, op_pos);
      } else {
        return left;
      }
      if (!left) return left;
    }
  }

  Outcome term() {
    auto left = unary();
    if (!left) return left;
    for (;;) {
      skip_space();
      const std::size_t op_pos = pos_;
      char op = 0;
      if (accept('*')) op = '*';
      else if (accept('/')) op = '/';
      else if (accept('%')) op = '%';
      else return left;
      auto right = unary();
      if (!right) return right;
      if (op == '*') {
        left = checked(*left * *right, op_pos);
      } else if (*right == 0.0) {
        return failure(op == '/' ? "division by zero" : "modulo by zero", op_pos);
      } else if (op == '/') {
        left = checked(*left / *right, op_pos);
      } else {
        left = checked(std::fmod(*left, *right), op_pos);
      }
      if (!left) return left;
    }
  }

  Outcome unary() {
    skip_space();
    const bool negate = pos_ < text_.size() && text_[pos_] == '-';
    if (negate || (pos_ < text_.size() && text_[pos_] == '+')) {
      ++pos_;
      DepthGuard guard(*this);  // "------1" nests as deeply as "((((((1))))))"
      if (guard.exceeded()) return too_deep();
      auto operand = unary();
      if (!operand) return operand;
      return negate ? -*operand : *operand;
    }
    return power();
  }

  Outcome power() {
    auto base = primary();
    if (!base) return base;
    skip_space();
    const std::size_t op_pos = pos_;
    if (!accept('^')) return base;
    DepthGuard guard(*this);  // 2^2^2^... recurses once per '^'
    if (guard.exceeded()) return too_deep();
    auto exponent = unary();  // right-associative, and allows 2^-1
    if (!exponent) return exponent;
    if (*base == 0.0 && *exponent < 0.0) return failure("division by zero (0 to a negative power)", op_pos);
    return checked(std::pow(*base, *exponent), op_pos);
  }

  Outcome primary() {
    skip_space();
    if (pos_ == text_.size()) return failure("the expression ends too early, expected a number or '('", pos_);
    const char c = text_[pos_];
    if (c == '(') {
      const std::size_t open_pos = pos_;
      ++pos_;
      DepthGuard guard(*this);
      if (guard.exceeded()) return too_deep();
      auto inner = expression();
      if (!inner) return inner;
      if (!accept(')')) {
        skip_space();
        if (pos_ == text_.size()) return failure("missing ')' for the '(' here", open_pos);
        return failure("unexpected " + describe(text_[pos_]) + ", expected ')'", pos_);
      }
      return inner;
    }
    if (is_digit(c) || c == '.') return number();
    if (c == ')') return failure("unexpected ')', expected a number or '('", pos_);
    return failure("unexpected " + describe(c) + ", expected a number or '('", pos_);
  }

  Outcome number() {
    const std::size_t start = pos_;
    std::size_t digits = 0;
    while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_, ++digits;
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_, ++digits;
    }
    if (digits == 0) return failure("a number needs at least one digit", start);
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      std::size_t p = pos_ + 1;
      if (p < text_.size() && (text_[p] == '+' || text_[p] == '-')) ++p;
      if (p < text_.size() && is_digit(text_[p])) {
        while (p < text_.size() && is_digit(text_[p])) ++p;
        pos_ = p;
      } else {
        return failure("the exponent of this number has no digits", start);
      }
    }
    if (pos_ - start > limits_.max_number_length)
      return failure("this number is too long (limit " + std::to_string(limits_.max_number_length) +
                         " characters)",
                     start);
    double value = 0;
    const auto [end, ec] = std::from_chars(text_.data() + start, text_.data() + pos_, value);
    if (ec == std::errc::result_out_of_range) {
      // from_chars reports underflow (1e-999) the same way; a denormal-or-zero result is a
      // faithful answer there, only overflow is an error.
      bool negative_exponent = false;
      for (std::size_t i = start; i < pos_; ++i)
        if ((text_[i] == 'e' || text_[i] == 'E') && i + 1 < pos_ && text_[i + 1] == '-') negative_exponent = true;
      if (negative_exponent) return 0.0;
      return failure("this number is too large", start);
    }
    if (ec != std::errc() || end != text_.data() + pos_) return failure("this is not a valid number", start);
    return value;
  }

  std::string_view text_;
  const CalculatorLimits& limits_;
  std::size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

std::expected<double, CalculationError> evaluate(std::string_view expression, const CalculatorLimits& limits) {
  // The length check comes first so that no work at all is done on oversized input.
  if (expression.size() > limits.max_length)
    return failure("the expression is too long (limit " + std::to_string(limits.max_length) + " characters)",
                   limits.max_length);
  Parser parser(expression, limits);
  auto value = parser.parse();
  if (value && *value == 0.0) return 0.0;  // fold -0 into 0
  return value;
}

std::string format_number(double value) {
  if (value == 0.0) return "0";
  char buffer[64];
  if (std::nearbyint(value) == value && std::fabs(value) < 1e15) {
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, static_cast<std::int64_t>(value));
    if (ec == std::errc()) return std::string(buffer, end);
  }
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (ec != std::errc()) return "NaN";  // unreachable: 64 bytes fit any shortest double
  return std::string(buffer, end);
}

}  // namespace bastion::modules::demo
