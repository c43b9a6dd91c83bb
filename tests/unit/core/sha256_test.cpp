// SHA-256: known answers, pieces equal to the whole, and streams interleaved on one thread
// (each keeps its own state); HMAC-SHA-256's known answers.
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

TEST(HmacSha256, Rfc4231TestVectors) {
  // RFC 4231 §4.2 (a 20-byte key), §4.3 (a key shorter than the output), §4.7 (a 131-byte key,
  // longer than the block, hashed first) and §4.8 (the same with a message of several blocks).
  EXPECT_EQ(hex(core::HmacSha256(std::string(20, '\x0b')).digest("Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(hex(core::HmacSha256("Jefe").digest("what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  const std::string long_key(131, '\xaa');
  EXPECT_EQ(hex(core::HmacSha256(long_key).digest("Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(hex(core::HmacSha256(long_key).digest(
                "This is a test using a larger than block-size key and a larger than block-size data. The key needs to "
                "be hashed before being used by the HMAC algorithm.")),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

TEST(HmacSha256, OneKeyDigestsManyMessagesEachFromItsOwnStart) {
  const core::HmacSha256 key("Jefe");
  core::HmacSha256::Stream first(key);
  first.update("what do ya ");
  EXPECT_EQ(hex(key.digest("abc")), hex(core::HmacSha256("Jefe").digest("abc")));  // meanwhile
  first.update("want for nothing?");
  EXPECT_EQ(hex(first.finish()), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hex(key.digest("what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Another key, another digest; and not the plain SHA-256 of the message.
  EXPECT_NE(hex(core::HmacSha256("Jeff").digest("abc")), hex(key.digest("abc")));
  EXPECT_NE(hex(key.digest("abc")), core::sha256_hex("abc"));
}
