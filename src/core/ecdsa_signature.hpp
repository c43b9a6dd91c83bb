// ECDSA signatures in the two encodings that meet in JOSE: OpenSSL signs and verifies the DER
// ECDSA-Sig-Value (RFC 3279 §2.2.3), JWS carries the fixed-width big-endian R || S (RFC 7518
// §3.4). `half` is the width of R and of S: 32 for P-256, 48 for P-384.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace bastion::core {

// R || S -> DER; nullopt when `raw` is not 2 × half bytes.
std::optional<std::string> ecdsa_raw_to_der(std::string_view raw, std::size_t half);
// DER -> R || S; nullopt for bad DER or a value wider than `half`.
std::optional<std::string> ecdsa_der_to_raw(std::string_view der, std::size_t half);

}  // namespace bastion::core
