#include "authserver/signing_keys.hpp"

#include <boost/json.hpp>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/ecdsa_signature.hpp"
#include "core/base64.hpp"
#include "core/sha256.hpp"

namespace bastion::authserver {

namespace json = boost::json;

std::string_view jws_alg(SigningAlgorithm algorithm) {
  return algorithm == SigningAlgorithm::eddsa ? "EdDSA" : "ES256";
}

namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

std::string b64u(const unsigned char* data, std::size_t size) {
  return core::base64url_encode(std::string_view(reinterpret_cast<const char*>(data), size));
}

std::string private_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return {};
  std::string out;
  if (PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1) {
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    if (size > 0) out.assign(data, static_cast<std::size_t>(size));
  }
  BIO_free(bio);
  return out;
}

Pkey read_pem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return nullptr;
  Pkey key(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return key;
}

// The public JWK members, in the lexicographic order RFC 7638 §3.2 needs for the thumbprint.
std::optional<json::object> public_jwk(EVP_PKEY* key, SigningAlgorithm algorithm) {
  json::object jwk;
  if (algorithm == SigningAlgorithm::es256) {
    BIGNUM* x = nullptr;
    BIGNUM* y = nullptr;
    std::optional<json::object> result;
    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
        EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1) {
      unsigned char xb[32], yb[32];
      if (BN_bn2binpad(x, xb, 32) == 32 && BN_bn2binpad(y, yb, 32) == 32) {
        jwk["crv"] = "P-256";
        jwk["kty"] = "EC";
        jwk["x"] = b64u(xb, 32);
        jwk["y"] = b64u(yb, 32);
        result = jwk;
      }
    }
    BN_free(x);
    BN_free(y);
    return result;
  }
  unsigned char pub[32];
  std::size_t size = sizeof(pub);
  if (EVP_PKEY_get_raw_public_key(key, pub, &size) != 1 || size != 32) return std::nullopt;
  jwk["crv"] = "Ed25519";
  jwk["kty"] = "OKP";
  jwk["x"] = b64u(pub, 32);
  return jwk;
}

// RFC 7638 JWK thumbprint of the required members, base64url: a stable kid.
std::string thumbprint(const json::object& jwk) {
  std::string canonical = "{";
  bool first = true;
  for (const char* name : {"crv", "kty", "x", "y"}) {
    auto it = jwk.find(name);
    if (it == jwk.end()) continue;
    if (!first) canonical += ",";
    first = false;
    canonical += "\"" + std::string(name) + "\":" + json::serialize(it->value());
  }
  canonical += "}";
  const auto digest = core::sha256(canonical);
  return b64u(digest.data(), digest.size());
}

std::optional<SigningAlgorithm> algorithm_named(std::string_view alg) {
  if (alg == "ES256") return SigningAlgorithm::es256;
  if (alg == "EdDSA") return SigningAlgorithm::eddsa;
  return std::nullopt;
}


bool write_private_file(const std::string& path, const std::string& pem) {
  // O_EXCL: never overwrite an existing key file; mode 0600 from the start (no window in which
  // another user could read it).
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return false;
  std::size_t written = 0;
  while (written < pem.size()) {
    const ssize_t n = ::write(fd, pem.data() + written, pem.size() - written);
    if (n <= 0) {
      ::close(fd);
      return false;
    }
    written += static_cast<std::size_t>(n);
  }
  const bool ok = ::fsync(fd) == 0;
  return ::close(fd) == 0 && ok;
}

std::optional<std::string> read_small_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  if (s.size() > 64 * 1024) return std::nullopt;
  return s;
}

}  // namespace

struct SigningKeys::Key {
  std::string kid;
  SigningAlgorithm algorithm = SigningAlgorithm::es256;
  Pkey pkey;
  json::object jwk;  // public members plus kid, alg, use
  std::int64_t created_at = 0;
  std::int64_t retired_at = 0;
};

SigningKeys::SigningKeys(Store& store, SigningKeysOptions options) : store_(store), options_(std::move(options)) {}
SigningKeys::~SigningKeys() = default;

Result<std::unique_ptr<SigningKeys>> SigningKeys::open(Store& store, SigningKeysOptions options, Clock::time_point now) {
  std::unique_ptr<SigningKeys> keys(new SigningKeys(store, std::move(options)));
  if (!keys->options_.key_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(keys->options_.key_dir, ec);
    if (ec) return fail(0, "cannot create the key directory " + keys->options_.key_dir);
    ::chmod(keys->options_.key_dir.c_str(), 0700);
  }
  for (const auto& record : store.keys()) {
    auto algorithm = algorithm_named(record.alg);
    if (!algorithm) return fail(0, "signing key " + record.kid + " has an unknown algorithm " + record.alg);
    std::string pem = record.private_pem;
    if (!keys->options_.key_dir.empty()) {
      auto text = read_small_file(keys->options_.key_dir + "/" + record.kid + ".pem");
      if (!text) return fail(0, "signing key file for " + record.kid + " is missing or unreadable");
      pem = std::move(*text);
    }
    auto key = std::make_shared<Key>();
    key->kid = record.kid;
    key->algorithm = *algorithm;
    key->pkey = read_pem(pem);
    key->created_at = record.created_at;
    key->retired_at = record.retired_at;
    auto jwk = key->pkey ? public_jwk(key->pkey.get(), *algorithm) : std::nullopt;
    if (!jwk) return fail(0, "signing key " + record.kid + " cannot be loaded");
    key->jwk = *jwk;
    key->jwk["kid"] = key->kid;
    key->jwk["alg"] = jws_alg(*algorithm);
    key->jwk["use"] = "sig";
    keys->keys_.push_back(std::move(key));
  }
  std::lock_guard lock(keys->mutex_);
  // A configured algorithm change also starts a new key (the old one stays published).
  const bool need_new = keys->keys_.empty() || keys->keys_.back()->retired_at != 0 ||
                        keys->keys_.back()->algorithm != keys->options_.algorithm;
  if (need_new) {
    if (auto r = keys->generate_locked(now); !r) return std::unexpected(r.error());
  }
  return keys;
}

Result<void> SigningKeys::generate_locked(Clock::time_point now) {
  Pkey pkey(options_.algorithm == SigningAlgorithm::es256 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                                                          : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!pkey) return fail(0, "key generation failed");
  auto jwk = public_jwk(pkey.get(), options_.algorithm);
  if (!jwk) return fail(0, "key generation failed");
  auto key = std::make_shared<Key>();
  key->kid = thumbprint(*jwk);
  key->algorithm = options_.algorithm;
  key->created_at = unix_seconds(now);
  key->jwk = *jwk;
  key->jwk["kid"] = key->kid;
  key->jwk["alg"] = jws_alg(options_.algorithm);
  key->jwk["use"] = "sig";
  const std::string pem = private_pem(pkey.get());
  if (pem.empty()) return fail(0, "key serialization failed");
  KeyRecord record{key->kid, std::string(jws_alg(options_.algorithm)), "", key->created_at, 0};
  if (options_.key_dir.empty()) {
    record.private_pem = pem;
  } else if (!write_private_file(options_.key_dir + "/" + key->kid + ".pem", pem)) {
    return fail(0, "cannot write the signing key file under " + options_.key_dir);
  }
  key->pkey = std::move(pkey);
  const std::int64_t t = unix_seconds(now);
  const bool rotation = !keys_.empty();
  if (!keys_.empty() && keys_.back()->retired_at == 0) {
    keys_.back()->retired_at = t;
    store_.retire_key(keys_.back()->kid, t);
  }
  store_.put_key(record);
  keys_.push_back(std::move(key));
  if (rotation && options_.on_rotated) options_.on_rotated(keys_.back()->kid);
  return {};
}

void SigningKeys::prune_locked(Clock::time_point now) {
  const std::int64_t t = unix_seconds(now);
  const std::int64_t grace = options_.token_lifetime.count() + 60;  // + clock skew allowance
  for (auto it = keys_.begin(); it != keys_.end();) {
    const auto& key = *it;
    if (key->retired_at != 0 && key->retired_at + grace < t && key != keys_.back()) {
      store_.delete_key(key->kid);
      if (!options_.key_dir.empty()) {
        std::error_code ec;
        std::filesystem::remove(options_.key_dir + "/" + key->kid + ".pem", ec);
      }
      it = keys_.erase(it);
    } else {
      ++it;
    }
  }
}

Result<void> SigningKeys::rotate(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto r = generate_locked(now);
  prune_locked(now);
  return r;
}

Result<std::string> SigningKeys::sign(std::string_view typ, std::string_view payload_json, Clock::time_point now) {
  std::shared_ptr<Key> key;
  {
    std::lock_guard lock(mutex_);
    if (keys_.empty() || unix_seconds(now) - keys_.back()->created_at >= options_.rotation_period.count()) {
      if (auto r = generate_locked(now); !r) return std::unexpected(r.error());
    }
    prune_locked(now);
    key = keys_.back();
  }
  json::object header;
  header["alg"] = jws_alg(key->algorithm);
  header["kid"] = key->kid;
  header["typ"] = typ;
  const std::string signing_input =
      core::base64url_encode(json::serialize(header)) + "." + core::base64url_encode(payload_json);

  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return fail(0, "signing failed");
  const EVP_MD* md = key->algorithm == SigningAlgorithm::es256 ? EVP_sha256() : nullptr;
  std::size_t size = 0;
  std::string signature;
  bool ok = EVP_DigestSignInit(ctx, nullptr, md, nullptr, key->pkey.get()) == 1 &&
            EVP_DigestSign(ctx, nullptr, &size, reinterpret_cast<const unsigned char*>(signing_input.data()),
                           signing_input.size()) == 1;
  if (ok) {
    std::string raw(size, '\0');
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(raw.data()), &size,
                        reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
    raw.resize(size);
    if (ok && key->algorithm == SigningAlgorithm::es256) {
      auto converted = core::ecdsa_der_to_raw(raw, 32);
      ok = converted.has_value();
      if (ok) signature = std::move(*converted);
    } else if (ok) {
      signature = std::move(raw);
    }
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) return fail(0, "signing failed");
  return signing_input + "." + core::base64url_encode(signature);
}

std::string SigningKeys::jwks_json(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  prune_locked(now);
  json::array keys;
  // Newest first: verifiers that try keys in order find the current one at once.
  for (auto it = keys_.rbegin(); it != keys_.rend(); ++it) keys.push_back((*it)->jwk);
  json::object out;
  out["keys"] = std::move(keys);
  return json::serialize(out);
}

std::string SigningKeys::current_kid() {
  std::lock_guard lock(mutex_);
  return keys_.empty() ? std::string() : keys_.back()->kid;
}

std::size_t SigningKeys::published_key_count(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  prune_locked(now);
  return keys_.size();
}

bool verify_jws_for_tests(const std::string& jwks_json, const std::string& jws) {
  const auto first = jws.find('.');
  const auto second = jws.find('.', first == std::string::npos ? 0 : first + 1);
  if (first == std::string::npos || second == std::string::npos) return false;
  auto header_text = core::base64url_decode(std::string_view(jws).substr(0, first));
  auto signature = core::base64url_decode(std::string_view(jws).substr(second + 1));
  if (!header_text || !signature) return false;
  boost::system::error_code ec;
  auto header = json::parse(*header_text, ec);
  auto set = json::parse(jwks_json, ec);
  if (ec || !header.is_object() || !set.is_object()) return false;
  const auto* kid = header.as_object().if_contains("kid");
  const auto* alg = header.as_object().if_contains("alg");
  if (kid == nullptr || alg == nullptr || !kid->is_string() || !alg->is_string()) return false;
  const json::object* jwk = nullptr;
  for (const auto& k : set.as_object().at("keys").as_array()) {
    if (k.as_object().at("kid") == *kid) jwk = &k.as_object();
  }
  if (jwk == nullptr) return false;
  auto x = core::base64url_decode(std::string(jwk->at("x").as_string()));
  if (!x) return false;
  Pkey pkey;
  std::string sig = *signature;
  const bool ec_key = alg->as_string() == "ES256";
  if (ec_key) {
    auto y = core::base64url_decode(std::string(jwk->at("y").as_string()));
    if (!y) return false;
    std::string point = "\x04" + *x + *y;
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
    EVP_PKEY* raw = nullptr;
    if (ctx && EVP_PKEY_fromdata_init(ctx) == 1) EVP_PKEY_fromdata(ctx, &raw, EVP_PKEY_PUBLIC_KEY, params);
    pkey.reset(raw);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    auto der = core::ecdsa_raw_to_der(sig, 32);
    if (!der) return false;
    sig = *der;
  } else {
    pkey.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                           reinterpret_cast<const unsigned char*>(x->data()), x->size()));
  }
  if (!pkey) return false;
  const std::string input = jws.substr(0, second);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = EVP_DigestVerifyInit(ctx, nullptr, ec_key ? EVP_sha256() : nullptr, nullptr, pkey.get()) == 1 &&
                  EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                                   reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

}  // namespace bastion::authserver
