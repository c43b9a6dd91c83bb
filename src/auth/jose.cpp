#include "auth/jose.hpp"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <vector>
#include <array>
#include <cstdint>

#include "core/ecdsa_signature.hpp"
#include "core/base64.hpp"

namespace bastion::auth {

namespace {

// JOSE problems are authentication failures, answered 401 by the caller; the code here only
// keeps Result's shape.
constexpr int kJoseError = -32001;

std::unexpected<Error> jose_fail(std::string message) { return fail(kJoseError, std::move(message), 401); }

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};

// Members of every object in the tree, and the deepest nesting.
std::size_t count_members(const json::value& v) {
  std::size_t n = 0;
  if (const auto* o = v.if_object()) {
    n += o->size();
    for (const auto& m : *o) n += count_members(m.value());
  } else if (const auto* a = v.if_array()) {
    for (const auto& e : *a) n += count_members(e);
  }
  return n;
}

// Name-separator colons outside strings: in valid JSON each one belongs to exactly one object
// member as written. More colons than members in the parsed tree means a name was repeated
// (the parser kept one of them). Also measures the nesting depth before the real parse.
struct Shape {
  std::size_t colons = 0;
  std::size_t depth = 0;
};
Shape scan(std::string_view text) {
  Shape s;
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;  // the escaped character cannot end the string
      else if (c == '"') in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case ':': ++s.colons; break;
      case '{':
      case '[':
        s.depth = std::max(s.depth, ++depth);
        break;
      case '}':
      case ']':
        if (depth) --depth;
        break;
      default: break;
    }
  }
  return s;
}

// Digests fetched once: OpenSSL 3 resolves the legacy EVP_sha256() handles through the provider
// on every init, which costs as much as a small signature check (OpenSSL 3 performance notes).
const EVP_MD* fetched(const char* name) {
  const EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  return md;  // kept for the life of the process
}

const EVP_MD* digest_for(JwsAlg alg) {
  static const EVP_MD* const sha256 = fetched("SHA256");
  static const EVP_MD* const sha384 = fetched("SHA384");
  static const EVP_MD* const sha512 = fetched("SHA512");
  switch (alg) {
    case JwsAlg::RS256:
    case JwsAlg::PS256:
    case JwsAlg::ES256: return sha256;
    case JwsAlg::RS384:
    case JwsAlg::PS384:
    case JwsAlg::ES384: return sha384;
    case JwsAlg::RS512:
    case JwsAlg::PS512: return sha512;
    case JwsAlg::EdDSA: return nullptr;  // Ed25519 hashes internally (RFC 8032)
  }
  return nullptr;
}

std::optional<std::string> b64_member(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (!v || !v->is_string()) return std::nullopt;
  return core::base64url_decode(v->get_string());
}

std::string string_member(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

Result<std::shared_ptr<EVP_PKEY>> from_params(const char* type, OSSL_PARAM* params) {
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) <= 0 || raw == nullptr)
    return jose_fail("key import failed");
  return std::shared_ptr<EVP_PKEY>(raw, PkeyFree{});
}

Result<Jwk> import_rsa(Jwk jwk, const json::object& o) {
  auto n = b64_member(o, "n");
  auto e = b64_member(o, "e");
  if (!n || !e || n->empty() || e->empty()) return jose_fail("RSA key without n or e");
  std::unique_ptr<BIGNUM, BnFree> bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()), nullptr));
  std::unique_ptr<BIGNUM, BnFree> bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()), nullptr));
  if (!bn_n || !bn_e) return jose_fail("RSA key import failed");
  jwk.bits = BN_num_bits(bn_n.get());
  // RFC 7518 §3.3: a key of 2048 bits or larger MUST be used with these algorithms.
  if (jwk.bits < 2048) return jose_fail("RSA key shorter than 2048 bits");
  if (jwk.bits > 16384) return jose_fail("RSA key too large");
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()))
    return jose_fail("RSA key import failed");
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) return jose_fail("RSA key import failed");
  auto key = from_params("RSA", params.get());
  if (!key) return std::unexpected(key.error());
  jwk.key = std::move(*key);
  return jwk;
}

Result<Jwk> import_ec(Jwk jwk, const json::object& o) {
  std::size_t size = 0;
  const char* group = nullptr;
  if (jwk.crv == "P-256") size = 32, group = "prime256v1";
  else if (jwk.crv == "P-384") size = 48, group = "secp384r1";
  else return jose_fail("unsupported EC curve");
  auto x = b64_member(o, "x");
  auto y = b64_member(o, "y");
  // RFC 7518 §6.2.1.2: the coordinates are the full-length octet strings of the curve.
  if (!x || !y || x->size() != size || y->size() != size) return jose_fail("EC key with bad coordinates");
  std::string point = "\x04" + *x + *y;  // SEC 1 uncompressed point
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()))
    return jose_fail("EC key import failed");
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) return jose_fail("EC key import failed");
  auto key = from_params("EC", params.get());
  if (!key) return std::unexpected(key.error());
  // fromdata does not always check that the point is on the curve: an invalid-curve point must
  // never reach a verification (invalid curve attacks).
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> check(EVP_PKEY_CTX_new_from_pkey(nullptr, key->get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return jose_fail("EC point is not on the curve");
  jwk.key = std::move(*key);
  return jwk;
}

Result<Jwk> import_okp(Jwk jwk, const json::object& o) {
  if (jwk.crv != "Ed25519") return jose_fail("unsupported OKP curve");
  auto x = b64_member(o, "x");
  if (!x || x->size() != 32) return jose_fail("Ed25519 key with bad x");
  EVP_PKEY* raw = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                              reinterpret_cast<const unsigned char*>(x->data()), x->size());
  if (!raw) return jose_fail("Ed25519 key import failed");
  jwk.key = std::shared_ptr<EVP_PKEY>(raw, PkeyFree{});
  return jwk;
}

// base64url without padding (RFC 7515 §2), strict: only the URL-safe alphabet, no padding, no
// impossible length, and the unused low bits of the last character must be zero (RFC 4648 §3.5
// canonical encoding), so one token has exactly one spelling. Decodes straight into its output
// (this runs three times per request).
constexpr std::array<signed char, 256> make_b64url_table() {
  std::array<signed char, 256> t{};
  for (auto& v : t) v = -1;
  const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<signed char>(i);
  return t;
}
constexpr auto kB64url = make_b64url_table();

std::optional<std::string> decode_segment(std::string_view in) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out(in.size() / 4 * 3 + (in.size() % 4 == 0 ? 0 : in.size() % 4 - 1), '\0');
  std::size_t o = 0;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int v = kB64url[static_cast<unsigned char>(c)];
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

// A verify context for `alg` over `key`: padding and digest set, ready to be duplicated.
std::shared_ptr<EVP_PKEY_CTX> prepare_context(JwsAlg alg, EVP_PKEY* key) {
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) <= 0) return nullptr;
  const EVP_MD* md = digest_for(alg);
  if (alg == JwsAlg::PS256 || alg == JwsAlg::PS384 || alg == JwsAlg::PS512) {
    if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PSS_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), RSA_PSS_SALTLEN_DIGEST) <= 0 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) <= 0)
      return nullptr;
  } else if (alg == JwsAlg::RS256 || alg == JwsAlg::RS384 || alg == JwsAlg::RS512) {
    if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) <= 0) return nullptr;
  }
  if (EVP_PKEY_CTX_set_signature_md(ctx.get(), md) <= 0) return nullptr;
  return std::shared_ptr<EVP_PKEY_CTX>(ctx.release(), PkeyCtxFree{});
}

// This thread's own copy of a prepared context (contexts are not safe to share between
// threads; a copy per check costs a third of an RSA verification). The cache holds the prepared
// context too, so its address cannot be reused by another key while it is cached. Bounded:
// cleared when full (rotation leaves old keys behind).
EVP_PKEY_CTX* thread_context(const std::shared_ptr<EVP_PKEY_CTX>& prepared) {
  struct Entry {
    std::shared_ptr<EVP_PKEY_CTX> prepared;
    std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> copy;
  };
  constexpr std::size_t kMaxEntries = 32;
  thread_local std::vector<Entry> cache;
  for (auto& e : cache)
    if (e.prepared == prepared) return e.copy.get();
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> copy(EVP_PKEY_CTX_dup(prepared.get()));
  if (!copy) return nullptr;
  if (cache.size() >= kMaxEntries) cache.clear();
  cache.push_back(Entry{prepared, std::move(copy)});
  return cache.back().copy.get();
}

}  // namespace

std::optional<JwsAlg> parse_alg(std::string_view name) {
  // Exact, case-sensitive names (RFC 7515 §4.1.1: the value is case-sensitive).
  static constexpr std::pair<std::string_view, JwsAlg> kNames[] = {
      {"RS256", JwsAlg::RS256}, {"RS384", JwsAlg::RS384}, {"RS512", JwsAlg::RS512},
      {"PS256", JwsAlg::PS256}, {"PS384", JwsAlg::PS384}, {"PS512", JwsAlg::PS512},
      {"ES256", JwsAlg::ES256}, {"ES384", JwsAlg::ES384}, {"EdDSA", JwsAlg::EdDSA}};
  for (const auto& [n, a] : kNames)
    if (n == name) return a;
  return std::nullopt;
}

std::string_view to_string(JwsAlg alg) {
  switch (alg) {
    case JwsAlg::RS256: return "RS256";
    case JwsAlg::RS384: return "RS384";
    case JwsAlg::RS512: return "RS512";
    case JwsAlg::PS256: return "PS256";
    case JwsAlg::PS384: return "PS384";
    case JwsAlg::PS512: return "PS512";
    case JwsAlg::ES256: return "ES256";
    case JwsAlg::ES384: return "ES384";
    case JwsAlg::EdDSA: return "EdDSA";
  }
  return "";
}

Result<json::object> parse_strict_object(std::string_view text, std::size_t max_depth, std::size_t max_members) {
  const Shape shape = scan(text);
  if (shape.depth > max_depth) return jose_fail("JSON nested too deeply");
  if (shape.colons > max_members) return jose_fail("JSON has too many members");
  json::parse_options options;
  options.max_depth = max_depth + 1;
  options.allow_comments = false;
  options.allow_trailing_commas = false;
  options.allow_invalid_utf8 = false;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, {}, options);
  if (ec) return jose_fail("malformed JSON");
  if (!v.is_object()) return jose_fail("JSON is not an object");
  if (count_members(v) != shape.colons) return jose_fail("duplicate JSON member name");
  return std::move(v.get_object());
}

Result<CompactJws> parse_compact_jws(std::string_view token, const JoseLimits& limits) {
  // Size first: nothing is decoded or parsed for an oversized token (RFC 8725 §3.x, DoS).
  if (token.empty()) return jose_fail("empty token");
  if (token.size() > limits.max_token_bytes) return jose_fail("token too large");
  const auto first = token.find('.');
  if (first == std::string_view::npos) return jose_fail("not a compact JWS");
  const auto second = token.find('.', first + 1);
  if (second == std::string_view::npos) return jose_fail("not a compact JWS");
  // Five parts would be a JWE (RFC 7516 §7.1): not accepted as an access token here.
  if (token.find('.', second + 1) != std::string_view::npos) return jose_fail("not a compact JWS");
  const std::string_view h64 = token.substr(0, first);
  const std::string_view p64 = token.substr(first + 1, second - first - 1);
  const std::string_view s64 = token.substr(second + 1);
  if (h64.empty() || p64.empty()) return jose_fail("not a compact JWS");
  // An empty signature is what alg "none" produces (RFC 7519 §6.1): never a valid token here.
  if (s64.empty()) return jose_fail("unsigned token");
  if (h64.size() > (limits.max_header_bytes * 4 + 2) / 3 + 1) return jose_fail("header too large");
  auto header_text = decode_segment(h64);
  auto payload_text = decode_segment(p64);
  auto signature = decode_segment(s64);
  if (!header_text || !payload_text || !signature) return jose_fail("bad base64url");
  if (header_text->size() > limits.max_header_bytes) return jose_fail("header too large");
  auto header = parse_strict_object(*header_text, limits.max_json_depth, limits.max_members);
  if (!header) return jose_fail("bad JOSE header");
  auto claims = parse_strict_object(*payload_text, limits.max_json_depth, limits.max_members);
  if (!claims) return jose_fail("bad claims");
  CompactJws out;
  out.header = std::move(*header);
  out.claims = std::move(*claims);
  out.signing_input.assign(token.data(), second);
  out.signature = std::move(*signature);
  return out;
}

namespace {
Result<Jwk> import_jwk_key(const json::object& o);
}

Result<Jwk> import_jwk(const json::object& o) {
  auto jwk = import_jwk_key(o);
  if (!jwk) return jwk;
  // EdDSA has no separate digest step (RFC 8032 hashes inside), so it keeps the one-shot path.
  for (JwsAlg alg : {JwsAlg::RS256, JwsAlg::RS384, JwsAlg::RS512, JwsAlg::PS256, JwsAlg::PS384, JwsAlg::PS512,
                     JwsAlg::ES256, JwsAlg::ES384})
    if (key_fits_alg(*jwk, alg)) jwk->prepared[static_cast<std::size_t>(alg)] = prepare_context(alg, jwk->key.get());
  return jwk;
}

namespace {
Result<Jwk> import_jwk_key(const json::object& o) {
  Jwk jwk;
  jwk.kty = string_member(o, "kty");
  jwk.kid = string_member(o, "kid");
  jwk.crv = string_member(o, "crv");
  jwk.alg = string_member(o, "alg");
  jwk.use = string_member(o, "use");
  if (!jwk.use.empty() && jwk.use != "sig") return jose_fail("key is not for signatures");
  if (const json::value* ops = o.if_contains("key_ops")) {
    // RFC 7517 §4.3: when present, "verify" must be among the permitted operations.
    bool verify = false;
    if (ops->is_array())
      for (const auto& op : ops->get_array()) verify = verify || (op.is_string() && op.get_string() == "verify");
    if (!verify) return jose_fail("key is not for verification");
  }
  if (!jwk.alg.empty() && !parse_alg(jwk.alg)) return jose_fail("key for an unsupported algorithm");
  if (jwk.kty == "RSA") return import_rsa(std::move(jwk), o);
  if (jwk.kty == "EC") return import_ec(std::move(jwk), o);
  if (jwk.kty == "OKP") return import_okp(std::move(jwk), o);
  // "oct" (symmetric) keys have no place in a public JWKS (RFC 8725 §3.1).
  return jose_fail("unsupported key type");
}
}  // namespace

Result<std::vector<Jwk>> import_jwk_set(std::string_view document, std::size_t* skipped) {
  // A JWKS is bigger than a token header: allow wider nesting and many members, still bounded.
  auto parsed = parse_strict_object(document, 6, 100'000);
  if (!parsed) return std::unexpected(parsed.error());
  const json::value* keys = parsed->if_contains("keys");
  if (!keys || !keys->is_array()) return jose_fail("JWK Set without keys");
  std::vector<Jwk> out;
  std::size_t bad = 0;
  for (const auto& k : keys->get_array()) {
    if (!k.is_object()) {
      ++bad;
      continue;
    }
    auto jwk = import_jwk(k.get_object());
    if (jwk) out.push_back(std::move(*jwk));
    else ++bad;
  }
  if (skipped) *skipped = bad;
  return out;
}

bool key_fits_alg(const Jwk& key, JwsAlg alg) {
  if (!key.alg.empty() && key.alg != to_string(alg)) return false;
  switch (alg) {
    case JwsAlg::RS256:
    case JwsAlg::RS384:
    case JwsAlg::RS512:
    case JwsAlg::PS256:
    case JwsAlg::PS384:
    case JwsAlg::PS512: return key.kty == "RSA";
    case JwsAlg::ES256: return key.kty == "EC" && key.crv == "P-256";
    case JwsAlg::ES384: return key.kty == "EC" && key.crv == "P-384";
    case JwsAlg::EdDSA: return key.kty == "OKP" && key.crv == "Ed25519";
  }
  return false;
}

bool verify_signature(JwsAlg alg, const Jwk& key, std::string_view signing_input, std::string_view signature) {
  const auto& prepared = key.prepared[static_cast<std::size_t>(alg)];
  if (!prepared) return verify_signature(alg, key.key.get(), signing_input, signature);
  std::string der;
  std::string_view sig = signature;
  if (alg == JwsAlg::ES256 || alg == JwsAlg::ES384) {
    auto converted = core::ecdsa_raw_to_der(signature, alg == JwsAlg::ES256 ? 32 : 48);
    if (!converted) return false;
    der = std::move(*converted);
    sig = der;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(signing_input.data(), signing_input.size(), digest, &digest_len, digest_for(alg), nullptr) != 1)
    return false;
  EVP_PKEY_CTX* ctx = thread_context(prepared);
  if (!ctx) return false;
  return EVP_PKEY_verify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(), digest, digest_len) == 1;
}

bool verify_signature(JwsAlg alg, EVP_PKEY* key, std::string_view signing_input, std::string_view signature) {
  if (key == nullptr) return false;
  std::string der;
  std::string_view sig = signature;
  if (alg == JwsAlg::ES256 || alg == JwsAlg::ES384) {
    auto converted = core::ecdsa_raw_to_der(signature, alg == JwsAlg::ES256 ? 32 : 48);
    if (!converted) return false;
    der = std::move(*converted);
    sig = der;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, digest_for(alg), nullptr, key) != 1) return false;
  if (alg == JwsAlg::PS256 || alg == JwsAlg::PS384 || alg == JwsAlg::PS512) {
    // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash output.
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, digest_for(alg)) <= 0)
      return false;
  } else if (alg == JwsAlg::RS256 || alg == JwsAlg::RS384 || alg == JwsAlg::RS512) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0) return false;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
}

}  // namespace bastion::auth
