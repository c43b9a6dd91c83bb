#include "config/detail.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace bastion::config::detail {

std::string parent_path(const std::string& path) {
  const std::size_t cut = path.find_last_of(".[");
  if (cut == std::string::npos) return {};
  return path.substr(0, cut);
}

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// [-+]? ( digits ( . digits? )? | . digits ) ( [eE] [-+]? digits )?
bool looks_like_float(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  std::size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    if (!all_digits(s.substr(i))) return false;
    return true;
  }
  return i == s.size();
}

}  // namespace

boost::json::value plain_scalar_value(const std::string& text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") return nullptr;
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  std::string_view digits = text;
  const bool negative = !digits.empty() && digits.front() == '-';
  if (!digits.empty() && (digits.front() == '-' || digits.front() == '+')) digits.remove_prefix(1);
  if (all_digits(digits)) {
    if (negative) {
      std::int64_t v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec == std::errc() && p == text.data() + text.size()) return v;
    } else {
      std::uint64_t v = 0;
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
      if (ec == std::errc() && p == digits.data() + digits.size()) {
        if (v <= static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(v);
        return v;
      }
    }
    // Too large for 64 bits: falls through to double.
  }
  if (looks_like_float(text)) {
    std::string_view f = text;
    if (!f.empty() && f.front() == '+') f.remove_prefix(1);
    double d = 0;
    auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), d);
    if (ec == std::errc() && p == f.data() + f.size()) return d;
  }
  return boost::json::string(text);
}

std::optional<IpAddress> parse_ip(const std::string& text) {
  IpAddress ip;
  if (::inet_pton(AF_INET, text.c_str(), ip.bytes) == 1) return ip;
  if (::inet_pton(AF_INET6, text.c_str(), ip.bytes) == 1) {
    ip.v6 = true;
    return ip;
  }
  return std::nullopt;
}

bool is_loopback(const IpAddress& ip) {
  if (!ip.v6) return ip.bytes[0] == 127;
  static constexpr unsigned char kLoopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  if (std::memcmp(ip.bytes, kLoopback6, 16) == 0) return true;
  // ::ffff:127.x.y.z (IPv4-mapped loopback)
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(ip.bytes, kMapped, 12) == 0 && ip.bytes[12] == 127;
}

bool is_unspecified(const IpAddress& ip) {
  const std::size_t n = ip.v6 ? 16 : 4;
  return std::all_of(ip.bytes, ip.bytes + n, [](unsigned char b) { return b == 0; });
}

bool is_ip_or_cidr(const std::string& text) {
  const std::size_t slash = text.find('/');
  const auto ip = parse_ip(text.substr(0, slash));
  if (!ip) return false;
  if (slash == std::string::npos) return true;
  const std::string prefix = text.substr(slash + 1);
  if (!all_digits(prefix) || prefix.size() > 3) return false;
  const int bits = std::stoi(prefix);
  return bits <= (ip->v6 ? 128 : 32);
}

bool is_secret_key(std::string_view key) {
  std::string lower(key);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  static constexpr std::array<std::string_view, 11> kWords = {
      "password", "passwd",  "passphrase", "secret",      "token",        "apikey",
      "api_key",  "api-key", "credential", "private_key", "authorization"};
  return std::any_of(kWords.begin(), kWords.end(),
                     [&](std::string_view w) { return lower.find(w) != std::string::npos; });
}

}  // namespace bastion::config::detail
