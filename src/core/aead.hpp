// Authenticated encryption (AES-256-GCM) over OpenSSL EVP. Used to seal state that travels
// through the client and must come back unmodified (MCP 2026-07-28 MRTR requestState). No
// hand-written cryptography here: this file only drives EVP (DESIGN.md §4).
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace bastion::core {

inline constexpr std::size_t kAeadKeyBytes = 32;    // AES-256
inline constexpr std::size_t kAeadNonceBytes = 12;  // 96-bit GCM nonce (NIST SP 800-38D §8.2.2)
inline constexpr std::size_t kAeadTagBytes = 16;    // full 128-bit tag

using AeadKey = std::array<unsigned char, kAeadKeyBytes>;

// A fresh key from the CSPRNG.
AeadKey aead_generate_key();

// Overwrites key material before its memory is released (OPENSSL_cleanse: not optimised away).
void secure_wipe(void* data, std::size_t size);

// Encrypts `plaintext` under `key` with a fresh random nonce, authenticating `aad` too.
// Returns nonce || ciphertext || tag. Throws std::runtime_error only when OpenSSL itself fails
// (not on any input), since sealing without the cipher would be unsafe.
std::string aes256gcm_seal(const AeadKey& key, std::string_view plaintext, std::string_view aad);

// Reverses aes256gcm_seal. nullopt when the input is too short, or when the tag does not verify
// for this key and `aad` (tampered, truncated, other key, other associated data).
std::optional<std::string> aes256gcm_open(const AeadKey& key, std::string_view sealed, std::string_view aad);

}  // namespace bastion::core
