// Helpers shared by the config parser, validator and dump; not part of the config API.
#pragma once

#include <boost/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace bastion::config::detail {

// The parent of a key path: "routes[0].modules[1]" -> "routes[0].modules" -> "routes[0]" ->
// "routes" -> "".
std::string parent_path(const std::string& path);

// How a plain (unquoted) YAML scalar reads under the YAML 1.2 core schema, decimal numbers only.
// Used for module settings, and by the dump to know which strings need quotes.
boost::json::value plain_scalar_value(const std::string& text);

// An IPv4 or IPv6 literal (no brackets, no zone).
struct IpAddress {
  bool v6 = false;
  unsigned char bytes[16] = {};
};
std::optional<IpAddress> parse_ip(const std::string& text);
bool is_loopback(const IpAddress& address);
bool is_unspecified(const IpAddress& address);  // 0.0.0.0 or ::
// "10.0.0.0/8", "2001:db8::/32" or a single address.
bool is_ip_or_cidr(const std::string& text);

// Module settings keys whose literal values the dump hides (a secret written in clear is still
// kept out of logs and `--print-config` output).
bool is_secret_key(std::string_view key);

}  // namespace bastion::config::detail
