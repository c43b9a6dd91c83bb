// The media samples must be what they claim: a PNG with valid chunk CRCs and a RIFF/WAVE file
// whose sizes add up (clients render them; the suite only checks MIME types).
#include "modules/conformance/media.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>

namespace bastion::modules::conformance {
namespace {

std::string decode_base64(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    const int v = value(c);
    EXPECT_GE(v, 0) << "invalid base64 character";
    buffer = (buffer << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

std::uint32_t crc32(std::string_view bytes) {
  std::uint32_t crc = 0xffffffffu;
  for (unsigned char b : bytes) {
    crc ^= b;
    for (int i = 0; i < 8; ++i) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::uint32_t be32(std::string_view s, std::size_t at) {
  return (std::uint32_t(std::uint8_t(s[at])) << 24) | (std::uint32_t(std::uint8_t(s[at + 1])) << 16) |
         (std::uint32_t(std::uint8_t(s[at + 2])) << 8) | std::uint32_t(std::uint8_t(s[at + 3]));
}
std::uint32_t le32(std::string_view s, std::size_t at) {
  return std::uint32_t(std::uint8_t(s[at])) | (std::uint32_t(std::uint8_t(s[at + 1])) << 8) |
         (std::uint32_t(std::uint8_t(s[at + 2])) << 16) | (std::uint32_t(std::uint8_t(s[at + 3])) << 24);
}

TEST(ConformanceMedia, PngIsWellFormed) {
  EXPECT_EQ(kPngBase64.size() % 4, 0u);
  const std::string png = decode_base64(kPngBase64);
  ASSERT_GE(png.size(), 8u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  std::size_t at = 8;
  std::vector<std::string> chunks;
  while (at + 12 <= png.size()) {
    const std::uint32_t length = be32(png, at);
    ASSERT_LE(at + 12 + length, png.size());
    const std::string_view type_and_data = std::string_view(png).substr(at + 4, 4 + length);
    EXPECT_EQ(crc32(type_and_data), be32(png, at + 8 + length)) << "bad CRC in " << type_and_data.substr(0, 4);
    chunks.emplace_back(type_and_data.substr(0, 4));
    if (chunks.back() == "IHDR") {
      EXPECT_EQ(be32(png, at + 8), 1u);   // width
      EXPECT_EQ(be32(png, at + 12), 1u);  // height
    }
    at += 12 + length;
  }
  EXPECT_EQ(at, png.size());
  EXPECT_EQ(chunks, (std::vector<std::string>{"IHDR", "IDAT", "IEND"}));
}

TEST(ConformanceMedia, WavIsWellFormed) {
  EXPECT_EQ(kWavBase64.size() % 4, 0u);
  const std::string wav = decode_base64(kWavBase64);
  ASSERT_GE(wav.size(), 44u);
  EXPECT_EQ(wav.substr(0, 4), "RIFF");
  EXPECT_EQ(le32(wav, 4), wav.size() - 8);
  EXPECT_EQ(wav.substr(8, 8), "WAVEfmt ");
  EXPECT_EQ(le32(wav, 16), 16u);                       // PCM format chunk size
  EXPECT_EQ(le32(wav, 24), 8000u);                     // sample rate
  EXPECT_EQ(wav.substr(36, 4), "data");
  EXPECT_EQ(le32(wav, 40), wav.size() - 44);           // data size
}

}  // namespace
}  // namespace bastion::modules::conformance
