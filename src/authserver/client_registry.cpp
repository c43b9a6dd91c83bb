#include "authserver/client_registry.hpp"

#include <boost/json.hpp>
#include <boost/url.hpp>

#include <algorithm>
#include <stdexcept>

#include "core/random.hpp"
#include "core/sha256.hpp"

namespace bastion::authserver {

namespace json = boost::json;
namespace urls = boost::urls;

std::string sha256_hex(std::string_view data) { return core::sha256_hex(data); }

bool Client::allows_grant(std::string_view grant) const {
  return std::find(grant_types.begin(), grant_types.end(), grant) != grant_types.end();
}

bool Client::has_redirect_uri(std::string_view uri) const {
  return std::find(redirect_uris.begin(), redirect_uris.end(), uri) != redirect_uris.end();
}

namespace {

OAuthFailure failure(std::string error, std::string description, int status = 400) {
  return OAuthFailure{std::move(error), std::move(description), status};
}

// Reads an optional array of strings; nullopt (with `bad` set) on a wrong type.
std::optional<std::vector<std::string>> string_array(const json::object& o, std::string_view key, bool& bad,
                                                     std::size_t max_items = 20, std::size_t max_len = 2048) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_array() || v->as_array().size() > max_items) {
    bad = true;
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& item : v->as_array()) {
    if (!item.is_string() || item.as_string().size() > max_len) {
      bad = true;
      return std::nullopt;
    }
    out.emplace_back(item.as_string());
  }
  return out;
}

std::optional<std::string> string_member(const json::object& o, std::string_view key, bool& bad,
                                         std::size_t max_len = 200) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string() || v->as_string().size() > max_len) {
    bad = true;
    return std::nullopt;
  }
  return std::string(v->as_string());
}

// A client name is shown on the consent page: printable text only (no control characters that
// could reorder or hide what the user reads).
bool acceptable_name(std::string_view name) {
  return std::none_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

}  // namespace

ClientRegistry::ClientRegistry(Store& store, const AuthServerOptions& options, http::Fetcher fetcher)
    : store_(store),
      options_(options),
      fetcher_(std::move(fetcher)),
      dcr_total_(options.dcr.per_minute, std::chrono::seconds(60), 1),
      dcr_per_address_(options.dcr.per_minute_per_address, std::chrono::seconds(60), 10'000),
      fetches_per_address_(options.cimd.fetches_per_minute_per_address, std::chrono::seconds(60), 10'000) {
  for (const auto& c : options.clients) {
    Client client;
    client.client_id = c.client_id;
    client.client_name = c.client_name.empty() ? c.client_id : c.client_name;
    client.redirect_uris = c.redirect_uris;
    client.token_endpoint_auth_method = c.token_endpoint_auth_method;
    client.grant_types = c.grant_types;
    client.scopes = c.scopes;
    if (!c.client_secret.empty()) client.secret_sha256 = sha256_hex(c.client_secret);
    if (!c.public_key_pem.empty()) {
      client.public_key = PublicKey::from_pem(c.public_key_pem);
      if (!client.public_key) {
        throw std::runtime_error("client " + c.client_id + ": public_key is not a PEM public key of P-256, Ed25519 or RSA (2048+ bits)");
      }
    }
    if (client.token_endpoint_auth_method == "private_key_jwt" && !client.public_key) {
      throw std::runtime_error("client " + c.client_id + ": private_key_jwt needs a public_key");
    }
    client.kind = ClientKind::configured;
    configured_.emplace(client.client_id, std::move(client));
  }
}

bool ClientRegistry::is_metadata_document_url(std::string_view client_id) {
  if (client_id.size() > 2048) return false;
  auto parsed = urls::parse_absolute_uri(client_id);
  if (!parsed) return false;
  // CIMD draft §3: https scheme, a path component, no fragment, no userinfo, no "." or ".."
  // path segments. (A query is only discouraged; we refuse it too, so one document has one id.)
  if (parsed->scheme() != "https" || parsed->has_fragment() || parsed->has_userinfo() || parsed->has_query()) return false;
  if (parsed->encoded_host().empty() || !authority_well_formed(*parsed)) return false;
  const auto path = parsed->encoded_path();
  if (path.empty() || path == "/") return false;
  for (const auto& segment : parsed->encoded_segments()) {
    if (segment == "." || segment == "..") return false;
  }
  return true;
}

bool ClientRegistry::secret_matches(const Client& client, std::string_view secret) const {
  if (client.secret_sha256.empty() || secret.empty()) return false;
  // Compare digests: the time taken does not depend on where the strings differ, nor on the
  // secret's length.
  return constant_time_equals(sha256_hex(secret), client.secret_sha256);
}

OAuthResult<Client> ClientRegistry::find(const std::string& client_id, Clock::time_point now,
                                         const std::string& remote_address) {
  if (client_id.empty() || client_id.size() > 2048) return std::unexpected(failure("invalid_client", "unknown client", 401));
  if (auto it = configured_.find(client_id); it != configured_.end()) return it->second;

  if (client_id.starts_with("https://")) {
    if (!options_.cimd.enabled || !is_metadata_document_url(client_id)) {
      return std::unexpected(failure("invalid_client", "client ID metadata documents are not accepted for this client_id", 401));
    }
    {
      std::lock_guard lock(cache_mutex_);
      if (auto it = cache_.find(client_id); it != cache_.end()) {
        if (it->second.expires > now) return it->second.client;
        cache_order_.erase(it->second.order);
        cache_.erase(it);
      }
      if (auto it = failed_.find(client_id); it != failed_.end()) {
        if (it->second.expires > now) return std::unexpected(it->second.failure);
        failed_.erase(it);
      }
    }
    // Each uncached fetch is a request we make on someone's behalf: bounded per requester.
    if (!fetches_per_address_.allow(remote_address, RateLimiter::Clock::now())) {
      return std::unexpected(failure("invalid_client", "too many client metadata documents requested; try again later", 401));
    }
    auto fetched = fetch_document(client_id);
    std::lock_guard lock(cache_mutex_);
    if (!fetched) {
      if (failed_.size() >= options_.cimd.max_cached) {
        std::erase_if(failed_, [&](const auto& entry) { return entry.second.expires <= now; });
      }
      if (failed_.size() < options_.cimd.max_cached) failed_[client_id] = Failed{fetched.error(), now + std::chrono::seconds(60)};
      return fetched;
    }
    // Bounded: the oldest entry makes room (the cache only saves fetches; forgetting is safe).
    while (cache_.size() >= options_.cimd.max_cached && !cache_order_.empty()) {
      cache_.erase(cache_order_.front());
      cache_order_.pop_front();
    }
    if (options_.cimd.max_cached > 0 && !cache_.contains(client_id)) {
      cache_order_.push_back(client_id);
      cache_.emplace(client_id, Cached{*fetched, now + options_.cimd.cache_ttl, std::prev(cache_order_.end())});
    }
    return fetched;
  }

  auto stored = store_.client(client_id);
  if (!stored) return std::unexpected(failure("invalid_client", "unknown client", 401));
  boost::system::error_code ec;
  auto metadata = json::parse(stored->metadata_json, ec);
  if (ec || !metadata.is_object()) return std::unexpected(failure("invalid_client", "unknown client", 401));
  const auto& o = metadata.as_object();
  bool bad = false;
  Client client;
  client.client_id = stored->client_id;
  client.client_name = string_member(o, "client_name", bad).value_or(client.client_id);
  client.redirect_uris = string_array(o, "redirect_uris", bad).value_or(std::vector<std::string>{});
  client.token_endpoint_auth_method = string_member(o, "token_endpoint_auth_method", bad).value_or("none");
  client.grant_types = string_array(o, "grant_types", bad).value_or(std::vector<std::string>{"authorization_code"});
  client.secret_sha256 = stored->secret_hash;
  client.kind = ClientKind::registered;
  if (bad) return std::unexpected(failure("invalid_client", "unknown client", 401));
  return client;
}

std::size_t ClientRegistry::cached_documents() {
  std::lock_guard lock(cache_mutex_);
  return cache_.size();
}

OAuthResult<Client> ClientRegistry::fetch_document(const std::string& url) {
  http::ClientRequest request;
  request.url = url;
  request.headers.set("Accept", "application/json");
  http::ClientOptions fetch_options;
  fetch_options.timeout = options_.cimd.timeout;
  fetch_options.max_response_bytes = options_.cimd.max_document_bytes;
  // Redirects are followed a little (hosting moves happen); the HTTP client re-checks the
  // address policy on every hop (MCP security best practices, SSRF: re-validate redirects).
  fetch_options.max_redirects = 3;
  fetch_options.allow_http = false;  // CIMD draft §3: https only, even in development
  fetch_options.address_policy =
      options_.cimd.allow_loopback ? http::AddressPolicy::public_or_loopback : http::AddressPolicy::public_only;
  fetch_options.ca_file = options_.cimd.ca_file;
  auto response = fetcher_ ? fetcher_(request, fetch_options) : http::fetch(request, fetch_options);
  if (!response) {
    // The client error says what kind of failure it was, never the bytes received.
    return std::unexpected(failure("invalid_client", "the client ID metadata document could not be fetched: " +
                                                         response.error().message, 401));
  }
  if (response->status != 200) {
    return std::unexpected(failure("invalid_client", "the client ID metadata document answered HTTP " +
                                                         std::to_string(response->status), 401));
  }
  if (response->body.size() > options_.cimd.max_document_bytes) {
    return std::unexpected(failure("invalid_client", "the client ID metadata document is too large", 401));
  }
  boost::system::error_code ec;
  json::parse_options parse_options;
  parse_options.max_depth = 16;
  auto document = json::parse(response->body, ec, {}, parse_options);
  if (ec || !document.is_object()) {
    return std::unexpected(failure("invalid_client", "the client ID metadata document is not a JSON object", 401));
  }
  const auto& o = document.as_object();
  bool bad = false;
  // CIMD draft §4.1: the client_id in the document MUST equal the URL it was fetched from.
  const auto doc_id = string_member(o, "client_id", bad, 2048);
  if (bad || !doc_id || *doc_id != url) {
    return std::unexpected(failure("invalid_client", "the client ID metadata document names another client_id", 401));
  }
  auto redirect_uris = string_array(o, "redirect_uris", bad);
  if (bad || !redirect_uris || redirect_uris->empty()) {
    return std::unexpected(failure("invalid_client", "the client ID metadata document has no redirect_uris", 401));
  }
  for (const auto& uri : *redirect_uris) {
    if (!is_allowed_redirect_uri(uri)) {
      return std::unexpected(failure("invalid_client", "the client ID metadata document lists a redirect URI that is neither https nor loopback", 401));
    }
  }
  // CIMD draft §4.1: no shared secrets for a document-defined client (anyone can read it).
  const auto method = string_member(o, "token_endpoint_auth_method", bad).value_or("none");
  if (bad || method != "none") {
    return std::unexpected(failure("invalid_client", "the client ID metadata document must use token_endpoint_auth_method none", 401));
  }
  const auto name = string_member(o, "client_name", bad);
  if (bad || (name && !acceptable_name(*name))) {
    return std::unexpected(failure("invalid_client", "the client ID metadata document has an invalid client_name", 401));
  }
  auto grant_types = string_array(o, "grant_types", bad);
  if (bad) return std::unexpected(failure("invalid_client", "the client ID metadata document has invalid grant_types", 401));
  Client client;
  client.client_id = url;
  client.client_name = name.value_or(uri_host(url));
  client.redirect_uris = std::move(*redirect_uris);
  client.token_endpoint_auth_method = "none";
  client.grant_types = grant_types.value_or(std::vector<std::string>{"authorization_code", "refresh_token"});
  std::erase_if(client.grant_types, [](const std::string& g) { return g == "client_credentials"; });
  client.kind = ClientKind::metadata_document;
  return client;
}

OAuthResult<std::string> ClientRegistry::register_client(std::string_view body, const std::string& remote_address,
                                                         Clock::time_point now) {
  if (!options_.dcr.enabled) return std::unexpected(failure("access_denied", "dynamic client registration is disabled", 403));
  if (body.size() > options_.dcr.max_body_bytes) {
    return std::unexpected(failure("invalid_client_metadata", "the registration request is too large", 413));
  }
  const auto steady = RateLimiter::Clock::now();
  if (!dcr_per_address_.allow(remote_address, steady) || !dcr_total_.allow("all", steady)) {
    return std::unexpected(failure("temporarily_unavailable", "too many registrations; try again later", 429));
  }
  if (store_.client_count() >= options_.dcr.max_clients) {
    return std::unexpected(failure("temporarily_unavailable", "the registered-client limit is reached", 429));
  }
  boost::system::error_code ec;
  json::parse_options parse_options;
  parse_options.max_depth = 16;
  auto parsed = json::parse(body, ec, {}, parse_options);
  if (ec || !parsed.is_object()) return std::unexpected(failure("invalid_client_metadata", "the body must be a JSON object"));
  const auto& o = parsed.as_object();
  bool bad = false;
  auto redirect_uris = string_array(o, "redirect_uris", bad, 10);
  // RFC 7591 §3.2.2 invalid_redirect_uri; OAuth 2.1 §2.3.1: redirect URIs are required.
  if (bad || !redirect_uris || redirect_uris->empty()) {
    return std::unexpected(failure("invalid_redirect_uri", "redirect_uris must be a non-empty list"));
  }
  for (const auto& uri : *redirect_uris) {
    if (!is_allowed_redirect_uri(uri)) {
      return std::unexpected(failure("invalid_redirect_uri", "every redirect URI must be https or http on a loopback host, without a fragment"));
    }
  }
  // RFC 7591 §2: the default method is client_secret_basic.
  const std::string method = string_member(o, "token_endpoint_auth_method", bad).value_or("client_secret_basic");
  if (bad || (method != "none" && method != "client_secret_basic" && method != "client_secret_post")) {
    return std::unexpected(failure("invalid_client_metadata", "token_endpoint_auth_method must be none, client_secret_basic or client_secret_post"));
  }
  auto grant_types = string_array(o, "grant_types", bad).value_or(std::vector<std::string>{"authorization_code"});
  for (const auto& g : grant_types) {
    // client_credentials clients are pre-registered only (MCP client-credentials extension).
    if (g != "authorization_code" && g != "refresh_token") {
      return std::unexpected(failure("invalid_client_metadata", "grant_types may hold authorization_code and refresh_token only"));
    }
  }
  auto response_types = string_array(o, "response_types", bad).value_or(std::vector<std::string>{"code"});
  for (const auto& r : response_types) {
    if (r != "code") return std::unexpected(failure("invalid_client_metadata", "response_types may hold code only"));
  }
  const auto name = string_member(o, "client_name", bad);
  if (bad || (name && !acceptable_name(*name))) {
    return std::unexpected(failure("invalid_client_metadata", "client_name must be a string of at most 200 printable characters"));
  }
  const auto scope = string_member(o, "scope", bad, 1000);
  if (bad) return std::unexpected(failure("invalid_client_metadata", "scope must be a string"));

  json::object out;
  const std::string client_id = "bastion-" + core::random_base64url(16);
  out["client_id"] = client_id;
  out["client_id_issued_at"] = unix_seconds(now);
  std::string secret;
  if (method != "none") {
    secret = core::random_base64url(32);
    out["client_secret"] = secret;
    out["client_secret_expires_at"] = 0;  // RFC 7591 §3.2.1: 0 = does not expire
  }
  json::array uris;
  for (const auto& u : *redirect_uris) uris.emplace_back(u);
  out["redirect_uris"] = std::move(uris);
  out["token_endpoint_auth_method"] = method;
  json::array grants;
  for (const auto& g : grant_types) grants.emplace_back(g);
  out["grant_types"] = std::move(grants);
  out["response_types"] = json::array{"code"};
  if (name) out["client_name"] = *name;
  if (scope) out["scope"] = *scope;

  // The stored metadata never contains the secret, only its digest (column secret_hash).
  json::object stored = out;
  stored.erase("client_secret");
  StoredClient record{client_id, json::serialize(stored), secret.empty() ? std::string() : sha256_hex(secret),
                      unix_seconds(now)};
  if (!store_.put_client(record)) return std::unexpected(failure("server_error", "registration could not be stored", 500));
  return json::serialize(out);
}

}  // namespace bastion::authserver
