// Sealed MRTR requestState (MCP 2026-07-28 basic/patterns/mrtr.mdx §Server Requirements;
// MCP-REQUIREMENTS items 57 and 95).
//
// The state a handler asks to keep between rounds travels through the client, which the spec
// says to treat as an attacker. Before it leaves, it is sealed with AES-256-GCM: the ciphertext
// carries the handler's state and an expiry; the associated data binds it to the method, a
// digest of the request's parameters and the principal, so it opens only on a retry of the same
// request by the same caller before it expires. A modified, expired, foreign or replayed-
// elsewhere token fails to open, and the request is refused with -32602.
//
// Keys form a ring: the first key seals, every listed key opens, and each token names the key
// that sealed it. To rotate, put the new key first and keep the old one until tokens sealed
// with it have expired. Every instance behind one load balancer must share the ring, because
// a retry may land on any of them (MCP-REQUIREMENTS item 105).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "bastion/types.hpp"
#include "core/aead.hpp"
#include "core/result.hpp"

namespace bastion::mcp {

namespace json = boost::json;

// What a sealed requestState is bound to.
struct RequestBinding {
  std::string method;         // "tools/call", "prompts/get", "resources/read"
  std::string params_digest;  // params_digest() of the request
  std::string principal;      // principal_binding(); empty on routes without authentication
};

// SHA-256 (hex) of the request parameters in a canonical form (object members sorted by name,
// recursively), leaving out what changes between rounds of one request: `_meta`,
// `inputResponses` and `requestState`.
std::string params_digest(const json::object& params);
// The two halves of params_digest(), so a caller can keep the (cheap) copy of what is bound and
// hash it only when a state is actually sealed or opened.
json::object bound_params(const json::object& params);
std::string digest_of_bound_params(const json::object& bound);

// Who a state belongs to: issuer and subject of the principal, or "" without one.
std::string principal_binding(const Principal* principal);

class RequestStateSealer {
 public:
  using Clock = std::chrono::system_clock;

  // `keys`: AES-256 keys, each the standard base64 of 32 random bytes; the first one seals.
  // Empty: one random key is generated, which is right for a single instance only (a retry that
  // reaches another instance, or this one after a restart, fails verification); multi-instance
  // deployments must configure shared keys. Throws std::invalid_argument for a malformed or
  // repeated key (a configuration error, reported at start-up).
  RequestStateSealer(const std::vector<std::string>& keys, std::chrono::milliseconds ttl,
                     std::function<Clock::time_point()> now = {});
  ~RequestStateSealer();
  RequestStateSealer(const RequestStateSealer&) = delete;
  RequestStateSealer& operator=(const RequestStateSealer&) = delete;

  // True when no key was configured and the ring holds one generated key.
  bool generated_key() const { return generated_; }
  std::chrono::milliseconds ttl() const { return ttl_; }

  // Seals `state` for `binding`; the token is URL-safe ASCII.
  std::string seal(const RequestBinding& binding, std::string_view state) const;

  // The handler's state, or -32602 when the token is malformed, was sealed with no key of the
  // ring, does not verify for `binding`, or has expired.
  Result<std::string> open(const RequestBinding& binding, std::string_view token) const;

 private:
  struct Key {
    std::string id;
    core::AeadKey key;
  };
  std::vector<Key> keys_;
  std::chrono::milliseconds ttl_;
  std::function<Clock::time_point()> now_;
  bool generated_ = false;
};

}  // namespace bastion::mcp
