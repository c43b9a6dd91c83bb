#include "mcp/request_state.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "core/base64.hpp"
#include "core/sha256.hpp"
#include "jsonrpc/error_codes.hpp"

namespace bastion::mcp {
namespace {

constexpr std::string_view kTokenVersion = "v1";
constexpr std::string_view kAadLabel = "bastion/mrtr-request-state/v1";

// base64url without padding (RFC 4648 §5): the token goes into JSON and may end up in headers
// or logs of intermediaries, so it avoids '+', '/' and '='.
std::string to_base64url(std::string_view bytes) {
  std::string s = core::base64_encode(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  return s;
}

std::optional<std::string> from_base64url(std::string_view text) {
  std::string s;
  s.reserve(text.size() + 3);
  for (char c : text) {
    if (c == '-') s += '+';
    else if (c == '_') s += '/';
    else if (c == '+' || c == '/' || c == '=') return std::nullopt;  // only the URL-safe alphabet
    else s += c;
  }
  if (s.size() % 4 == 1) return std::nullopt;
  while (s.size() % 4 != 0) s += '=';
  return core::base64_decode(s);
}

void canonical(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::object: {
      const auto& o = v.get_object();
      std::vector<const json::key_value_pair*> members;
      members.reserve(o.size());
      for (const auto& kv : o) members.push_back(&kv);
      std::sort(members.begin(), members.end(), [](auto* a, auto* b) { return a->key() < b->key(); });
      out += '{';
      bool first = true;
      for (const auto* kv : members) {
        if (!first) out += ',';
        first = false;
        out += json::serialize(json::value(kv->key()));
        out += ':';
        canonical(kv->value(), out);
      }
      out += '}';
      break;
    }
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& item : v.get_array()) {
        if (!first) out += ',';
        first = false;
        canonical(item, out);
      }
      out += ']';
      break;
    }
    default:
      out += json::serialize(v);
  }
}

std::string aad_for(const std::string& key_id, const RequestBinding& b) {
  // A JSON array keeps the fields unambiguous whatever characters they contain.
  return json::serialize(json::array{json::string(kAadLabel), json::string(key_id), json::string(b.method),
                                     json::string(b.params_digest), json::string(b.principal)});
}

std::string key_id_for(const core::AeadKey& key) {
  // A short fingerprint so a token names the key that sealed it (a one-way digest of a random
  // 256-bit key reveals nothing about it).
  std::string material = "bastion request-state key id:";
  material.append(reinterpret_cast<const char*>(key.data()), key.size());
  return core::sha256_hex(material).substr(0, 12);
}

Error invalid_state(std::string why) {
  return Error{jsonrpc::kInvalidParams, "Invalid params: requestState " + std::move(why), 400};
}

}  // namespace

json::object bound_params(const json::object& params) {
  json::object salient;
  for (const auto& kv : params) {
    if (kv.key() == "_meta" || kv.key() == "inputResponses" || kv.key() == "requestState") continue;
    salient.emplace(kv.key(), kv.value());
  }
  return salient;
}

std::string digest_of_bound_params(const json::object& bound) {
  std::string text;
  canonical(bound, text);
  return core::sha256_hex(text);
}

std::string params_digest(const json::object& params) { return digest_of_bound_params(bound_params(params)); }

std::string principal_binding(const Principal* principal) {
  if (principal == nullptr) return {};
  return json::serialize(json::array{json::string(principal->issuer), json::string(principal->subject)});
}

RequestStateSealer::RequestStateSealer(const std::vector<std::string>& keys, std::chrono::milliseconds ttl,
                                       std::function<Clock::time_point()> now)
    : ttl_(ttl), now_(now ? std::move(now) : [] { return Clock::now(); }) {
  if (ttl_.count() <= 0) throw std::invalid_argument("request state lifetime must be positive");
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto raw = core::base64_decode(keys[i]);
    if (!raw || raw->size() != core::kAeadKeyBytes)
      throw std::invalid_argument("request state key #" + std::to_string(i + 1) +
                                  " must be the base64 of exactly 32 bytes");
    Key k;
    std::copy(raw->begin(), raw->end(), k.key.begin());
    core::secure_wipe(raw->data(), raw->size());
    k.id = key_id_for(k.key);
    for (const auto& other : keys_)
      if (other.id == k.id) throw std::invalid_argument("request state key #" + std::to_string(i + 1) + " is repeated");
    keys_.push_back(std::move(k));
  }
  if (keys_.empty()) {
    // No shared key configured: one random key for this process. A retry that reaches another
    // instance, or this one after a restart, fails verification and the client starts over;
    // multi-instance deployments must configure shared keys.
    Key k;
    k.key = core::aead_generate_key();
    k.id = key_id_for(k.key);
    keys_.push_back(std::move(k));
    generated_ = true;
  }
}

RequestStateSealer::~RequestStateSealer() {
  for (auto& k : keys_) core::secure_wipe(k.key.data(), k.key.size());
}

std::string RequestStateSealer::seal(const RequestBinding& binding, std::string_view state) const {
  const Key& current = keys_.front();
  auto expires = std::chrono::duration_cast<std::chrono::milliseconds>((now_() + ttl_).time_since_epoch()).count();
  std::string plaintext = json::serialize(json::object{{"exp", expires}, {"state", state}});
  std::string sealed = core::aes256gcm_seal(current.key, plaintext, aad_for(current.id, binding));
  std::string token(kTokenVersion);
  token += '.';
  token += current.id;
  token += '.';
  token += to_base64url(sealed);
  return token;
}

Result<std::string> RequestStateSealer::open(const RequestBinding& binding, std::string_view token) const {
  // "v1.<key id>.<base64url(nonce || ciphertext || tag)>"
  auto dot1 = token.find('.');
  auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.substr(0, dot1) != kTokenVersion)
    return std::unexpected(invalid_state("is malformed"));
  std::string_view id = token.substr(dot1 + 1, dot2 - dot1 - 1);
  auto key = std::find_if(keys_.begin(), keys_.end(), [&](const Key& k) { return k.id == id; });
  // An unknown key id reads the same as tampering: the token was not sealed by this ring (or
  // its key has been retired).
  if (key == keys_.end()) return std::unexpected(invalid_state("failed verification"));
  auto sealed = from_base64url(token.substr(dot2 + 1));
  if (!sealed) return std::unexpected(invalid_state("is malformed"));
  auto plaintext = core::aes256gcm_open(key->key, *sealed, aad_for(key->id, binding));
  // One message for a modified token and for a token issued for another request or principal:
  // the caller learns nothing about which check failed.
  if (!plaintext) return std::unexpected(invalid_state("failed verification"));

  boost::system::error_code ec;
  json::value payload = json::parse(*plaintext, ec);
  const json::object* o = ec ? nullptr : payload.if_object();
  const json::value* exp = o ? o->if_contains("exp") : nullptr;
  const json::value* state = o ? o->if_contains("state") : nullptr;
  if (!exp || !exp->is_int64() || !state || !state->is_string())
    return std::unexpected(invalid_state("failed verification"));
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(now_().time_since_epoch()).count();
  if (now >= exp->get_int64())
    return std::unexpected(invalid_state("has expired; retry the original request without it"));
  return std::string(state->get_string());
}

}  // namespace bastion::mcp
