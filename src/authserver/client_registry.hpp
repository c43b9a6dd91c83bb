// Who may ask for tokens, in the MCP order of preference (authorization spec, "Client
// Registration Approaches"): clients pre-registered in the config, then Client ID Metadata
// Documents (draft-ietf-oauth-client-id-metadata-document: the client_id is an https URL we
// fetch), then clients registered dynamically (RFC 7591) and kept in the store.
#pragma once

#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "authserver/client_assertion.hpp"
#include "authserver/oauth_common.hpp"
#include "authserver/options.hpp"
#include "authserver/rate_limiter.hpp"
#include "authserver/store.hpp"
#include "core/result.hpp"

namespace bastion::authserver {

enum class ClientKind { configured, registered, metadata_document };

struct Client {
  std::string client_id;
  std::string client_name;
  std::vector<std::string> redirect_uris;
  std::string token_endpoint_auth_method = "none";
  std::vector<std::string> grant_types;
  std::vector<std::string> scopes;  // empty: any offered scope
  std::string secret_sha256;        // hex; "" for public clients
  std::optional<PublicKey> public_key;  // private_key_jwt clients
  ClientKind kind = ClientKind::configured;

  bool is_public() const { return token_endpoint_auth_method == "none"; }
  bool allows_grant(std::string_view grant) const;
  bool has_redirect_uri(std::string_view uri) const;  // exact string match (OAuth 2.1 §4.1.1)
};

// An OAuth error kept apart from Bastion's Error: `error` is the RFC 6749/7591 code.
struct OAuthFailure {
  std::string error;        // invalid_client, invalid_client_metadata, invalid_redirect_uri, ...
  std::string description;  // safe to show: never echoes fetched bytes or secrets
  int status = 400;
};
template <class T>
using OAuthResult = std::expected<T, OAuthFailure>;

class ClientRegistry {
 public:
  // Throws std::runtime_error when a configured client's public key cannot be used (start-up).
  ClientRegistry(Store& store, const AuthServerOptions& options, http::Fetcher fetcher);

  // The client for `client_id`, fetching (and caching) its metadata document when the id is an
  // https URL. Blocking (a fetch); call it on a worker. `remote_address` (the requester) is
  // counted against the per-address fetch limit; a failed fetch is remembered for a minute so
  // that nobody can make us fetch the same failing URL in a loop.
  OAuthResult<Client> find(const std::string& client_id, Clock::time_point now, const std::string& remote_address = "");

  // RFC 7591 §3.1: the registration request body; answers the §3.2.1 response body.
  OAuthResult<std::string> register_client(std::string_view body, const std::string& remote_address,
                                           Clock::time_point now);

  // Client authentication at the token/revocation endpoints (RFC 6749 §2.3.1).
  bool secret_matches(const Client& client, std::string_view secret) const;

  // True when `client_id` is a syntactically acceptable CIMD URL (https, a path, no fragment,
  // userinfo, dot segments; CIMD draft §3).
  static bool is_metadata_document_url(std::string_view client_id);

  std::size_t cached_documents();

 private:
  OAuthResult<Client> fetch_document(const std::string& url);

  Store& store_;
  const AuthServerOptions& options_;
  http::Fetcher fetcher_;
  std::map<std::string, Client, std::less<>> configured_;
  RateLimiter dcr_total_;
  RateLimiter dcr_per_address_;

  struct Cached {
    Client client;
    Clock::time_point expires;
    std::list<std::string>::iterator order;
  };
  std::mutex cache_mutex_;
  std::map<std::string, Cached, std::less<>> cache_;
  std::list<std::string> cache_order_;  // oldest first
  struct Failed {
    OAuthFailure failure;
    Clock::time_point expires;
  };
  std::map<std::string, Failed, std::less<>> failed_;  // bounded like cache_
  RateLimiter fetches_per_address_;
};

std::string sha256_hex(std::string_view data);

}  // namespace bastion::authserver
