// JOSE glue for verifying JWS-signed access tokens: compact serialization with limits checked
// before any parsing, strict JSON (duplicate member names and deep nesting refused), JWK import
// into OpenSSL 3 EVP keys, and signature verification. No hand-written cryptography: OpenSSL
// computes, this file only adapts formats (RFC 7515, RFC 7517, RFC 7518, RFC 8037, RFC 8725).
#pragma once

#include <boost/json.hpp>

#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

typedef struct evp_pkey_st EVP_PKEY;
typedef struct evp_pkey_ctx_st EVP_PKEY_CTX;

namespace bastion::auth {

namespace json = boost::json;

// The asymmetric algorithms a resource server may accept (RFC 7518 §3.1, RFC 8037 §3.1). No
// HMAC: a resource server holds no shared secret, and accepting HS256 with a public key as the
// secret is the classic algorithm-confusion attack (RFC 8725 §2.1, §3.1). No "none".
enum class JwsAlg { RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA };

std::optional<JwsAlg> parse_alg(std::string_view name);
std::string_view to_string(JwsAlg alg);

// Limits applied before and during parsing; every one is tested.
struct JoseLimits {
  std::size_t max_token_bytes = 8 * 1024;   // the whole compact token
  std::size_t max_header_bytes = 2 * 1024;  // decoded JOSE header
  std::size_t max_json_depth = 8;           // nesting of objects/arrays in header and claims
  std::size_t max_members = 256;            // object members in a header or claims set, all levels
};

// Parses a JSON object from untrusted bytes: refuses duplicate member names anywhere in the
// document (RFC 7515 §5.2 and RFC 8725 §3.10: parsers that keep the first or the last name
// disagree, so an attacker could show one value to a filter and another to the verifier),
// nesting deeper than `max_depth` and more than `max_members` members. Never throws.
Result<json::object> parse_strict_object(std::string_view text, std::size_t max_depth, std::size_t max_members);

// A JWS in compact serialization, decoded but not yet verified.
struct CompactJws {
  json::object header;
  json::object claims;
  std::string signing_input;  // ASCII(BASE64URL(header) || '.' || BASE64URL(payload))
  std::string signature;      // decoded signature bytes
};

// Splits and decodes; checks the size limits first, then the shape (exactly three parts, each
// base64url without padding), then strict JSON. Error messages never contain token bytes.
Result<CompactJws> parse_compact_jws(std::string_view token, const JoseLimits& limits);

// A public key from a JWK Set (RFC 7517 §4). Only the public parts are read.
struct Jwk {
  std::string kid;
  std::string kty;  // RSA | EC | OKP
  std::string crv;  // P-256 | P-384 | Ed25519 (EC/OKP)
  std::string alg;  // optional "alg" member; when present the key is only used with it
  std::string use;  // optional; a key marked for anything other than "sig" is not used
  std::shared_ptr<EVP_PKEY> key;
  int bits = 0;     // RSA modulus size
  // Verification contexts set up once at import, one per algorithm the key fits (index:
  // JwsAlg), duplicated for each check: setting a context up costs OpenSSL 3 about as much as
  // an RSA verification itself. Never used concurrently (each check works on its own copy).
  std::array<std::shared_ptr<EVP_PKEY_CTX>, 9> prepared;
};

// Imports one JWK. Refused: unknown kty/crv, RSA moduli under 2048 bits (RFC 7518 §3.3),
// EC points not on the curve (OpenSSL checks on import), symmetric ("oct") keys.
Result<Jwk> import_jwk(const json::object& jwk);

// Imports every usable key of a JWK Set document; keys that fail to import are skipped (one bad
// key must not take the issuer's other keys down), `skipped` counts them.
Result<std::vector<Jwk>> import_jwk_set(std::string_view document, std::size_t* skipped = nullptr);

// Whether `alg` may be used with `key`: key type and curve must match the algorithm, and a key
// that names its own "alg" is used with that one only (RFC 8725 §3.1: the key determines the
// algorithm, never the token alone).
bool key_fits_alg(const Jwk& key, JwsAlg alg);

// Verifies `signature` over `signing_input` with OpenSSL. ES* signatures are the fixed-size
// R||S of RFC 7518 §3.4 (converted to DER here; any other length fails). False on any failure.
bool verify_signature(JwsAlg alg, EVP_PKEY* key, std::string_view signing_input, std::string_view signature);
// The same with a JWK's prepared context when it has one for `alg` (the request path).
bool verify_signature(JwsAlg alg, const Jwk& key, std::string_view signing_input, std::string_view signature);

}  // namespace bastion::auth
