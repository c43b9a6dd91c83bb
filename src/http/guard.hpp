// Host/Origin allow-list: the DNS-rebinding defence of MCP's HTTP transports (MCP spec,
// basic/transports §Security Warning: servers MUST validate Origin; the conformance suite also
// expects Host validation, see shared/spec/MCP-REQUIREMENTS.md item 60).
//
// A browser tricked by DNS rebinding sends our server a request whose Host (and Origin, for
// cross-origin fetches) names the attacker's domain; refusing unknown names defeats the attack.
// Behind a reverse proxy the Host we see is the proxy's upstream name, so the forwarded host is
// believed, but only from configured proxy addresses (PEERS.md pain 5): anyone else could forge it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/exchange.hpp"

namespace bastion::http {

struct GuardConfig {
  // "host" (any port) or "host:port", compared case-insensitively; "*" allows any Host.
  // IPv6 literals are written in brackets: "[2001:db8::1]:8443".
  std::vector<std::string> allowed_hosts;
  // Exact origins such as "http://localhost:6274" (scheme://host[:port], default port optional);
  // "*" allows any origin, "null" allows the opaque origin (sandboxed frames, file: pages).
  std::vector<std::string> allowed_origins;
  // localhost, 127.0.0.1 and [::1], with any port, as Host and as Origin host.
  bool allow_loopback_names = true;
  // Peer IPs or CIDRs ("10.0.0.0/8", "::1", "fd00::/8") whose X-Forwarded-Host and
  // Forwarded: host= (RFC 7239) are believed in place of Host.
  std::vector<std::string> trusted_proxies;
};

// A compiled, immutable GuardConfig: parse once at start-up, share across threads.
class Guard {
 public:
  // Throws std::invalid_argument naming the bad entry (a start-up configuration error).
  explicit Guard(GuardConfig config);

  // nullopt when the request may proceed; otherwise the 403 to send, with a JSON-RPC error body
  // {"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"Forbidden: ..."}}.
  std::optional<Response> check(const Request& request) const;

  const GuardConfig& config() const { return config_; }

 private:
  struct HostRule {
    std::string host;                   // lower-case; IPv6 in brackets
    std::optional<std::uint16_t> port;  // nullopt: any port
  };
  struct AddressRange {
    std::array<unsigned char, 16> network{};  // IPv4 stored as IPv4-mapped IPv6
    unsigned prefix_bits = 128;
  };

  bool host_allowed(std::string_view host_field) const;
  bool origin_allowed(std::string_view origin, std::string_view effective_host) const;
  bool peer_is_trusted_proxy(std::string_view remote_address) const;

  GuardConfig config_;
  bool any_host_ = false;
  bool any_origin_ = false;
  bool null_origin_ = false;
  std::vector<HostRule> host_rules_;
  std::vector<std::string> origins_;  // normalized scheme://host[:non-default-port]
  std::vector<AddressRange> trusted_proxies_;
};

// Convenience for one-off checks; compiles the configuration on every call, so servers keep a
// Guard instead.
std::optional<Response> check(const Request& request, const GuardConfig& config);

}  // namespace bastion::http
