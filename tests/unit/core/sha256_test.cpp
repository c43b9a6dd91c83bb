// SHA-256: known answers, pieces equal to the whole, and streams interleaved on one thread
// (each keeps its own state).
#include <gtest/gtest.h>

#include <string>

#include "core/hex.hpp"
#include "core/sha256.hpp"

using namespace bastion;

namespace {

std::string hex(const core::Sha256Digest& d) {
  char out[64];
  core::hex_into(d.data(), d.size(), out);
  return std::string(out, sizeof out);
}

}  // namespace

TEST(Sha256, KnownAnswers) {
  // FIPS 180-2 appendix B.1 and the empty message.
  EXPECT_EQ(core::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(core::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, PiecesDigestLikeTheWhole) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "piece " + std::to_string(i) + ";";
  for (std::size_t piece : {1u, 7u, 64u, 513u}) {
    core::Sha256Stream stream;
    for (std::size_t at = 0; at < text.size(); at += piece) stream.update(std::string_view(text).substr(at, piece));
    EXPECT_EQ(hex(stream.finish()), core::sha256_hex(text)) << "pieces of " << piece;
  }
}

TEST(Sha256, InterleavedStreamsOnOneThreadStayApart) {
  core::Sha256Stream outer;
  outer.update("ab");
  {
    core::Sha256Stream inner;
    inner.update("xyz");
    EXPECT_EQ(hex(inner.finish()), core::sha256_hex("xyz"));
    EXPECT_EQ(core::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  }
  outer.update("c");
  EXPECT_EQ(hex(outer.finish()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // A stream made where another just ended starts clean.
  core::Sha256Stream again;
  again.update("abc");
  EXPECT_EQ(hex(again.finish()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
