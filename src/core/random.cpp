#include "core/random.hpp"

#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

#include "core/hex.hpp"

namespace bastion::core {
namespace {

void fill(unsigned char* out, std::size_t n) {
  // RAND_bytes only fails when the CSPRNG cannot be seeded; continuing would mint guessable
  // identifiers, so this is a hard failure rather than a fallback.
  if (RAND_bytes(out, static_cast<int>(n)) != 1) throw std::runtime_error("CSPRNG failure");
}

}  // namespace

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  fill(buf.data(), bytes);
  std::string out(2 * bytes, '\0');
  hex_into(buf.data(), bytes, out.data());
  return out;
}

std::string random_base64url(std::size_t bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::vector<unsigned char> buf(bytes);
  fill(buf.data(), bytes);
  std::string out;
  std::size_t i = 0;
  for (; i + 3 <= bytes; i += 3) {
    unsigned v = (buf[i] << 16) | (buf[i + 1] << 8) | buf[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (bytes - i == 1) {
    unsigned v = buf[i] << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (bytes - i == 2) {
    unsigned v = (buf[i] << 16) | (buf[i + 1] << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::uint64_t random_u64() {
  std::uint64_t v = 0;
  fill(reinterpret_cast<unsigned char*>(&v), sizeof v);
  return v;
}

}  // namespace bastion::core
