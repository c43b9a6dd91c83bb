// Everything the embedded authorization server is configured with. Built by the app from the
// `authorization_server:` config block (src/config), so this library does not depend on config/.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "authserver/events.hpp"
#include "authserver/password_hasher.hpp"
#include "authserver/signing_keys.hpp"
#include "http/client.hpp"

namespace bastion::authserver {

struct UserOptions {
  std::string username;
  std::string password_hash;  // argon2id PHC string
};

struct ClientOptions {
  std::string client_id;
  std::string client_name;
  std::vector<std::string> redirect_uris;
  // none (public, PKCE only), client_secret_basic, client_secret_post or private_key_jwt.
  std::string token_endpoint_auth_method = "none";
  std::string client_secret;  // resolved from a secret reference; "" for public clients
  std::string public_key_pem;  // private_key_jwt: the client's public key (SubjectPublicKeyInfo PEM)
  // authorization_code, refresh_token, client_credentials.
  std::vector<std::string> grant_types{"authorization_code", "refresh_token"};
  std::vector<std::string> scopes;  // scopes this client may get; empty: every offered scope
};

struct DcrOptions {
  bool enabled = true;
  std::size_t max_clients = 1000;      // registered clients in the store, in total
  std::size_t per_minute = 20;         // registrations per minute, all addresses together
  std::size_t per_minute_per_address = 10;
  std::size_t max_body_bytes = 16 * 1024;
};

struct CimdOptions {
  bool enabled = true;
  // Development only: also fetch documents from loopback addresses. Private, link-local and
  // other special addresses stay refused.
  bool allow_loopback = false;
  std::size_t max_document_bytes = 5 * 1024;  // the CIMD draft suggests 5 KB
  std::chrono::milliseconds timeout{3000};
  std::chrono::seconds cache_ttl{300};
  std::size_t max_cached = 1000;           // documents, and separately failures (kept 60 s)
  std::size_t fetches_per_minute_per_address = 20;  // uncached fetches one requester may cause
  std::string ca_file;  // extra trust anchor for the fetch (tests, private CAs)
};

struct LoginLimits {
  std::size_t failures_per_user = 10;     // per window
  std::size_t attempts_per_address = 30;  // per window
  std::chrono::seconds window{std::chrono::minutes(15)};
};

struct AuthServerOptions {
  // The issuer identifier (RFC 8414 §2): https URL (or http on loopback) without query or
  // fragment. May be set after construction (set_issuer) once the listener's port is known.
  std::string issuer;
  std::string data_dir = ":memory:";  // a folder, or ":memory:"
  SigningAlgorithm algorithm = SigningAlgorithm::es256;
  std::chrono::seconds access_token_ttl{std::chrono::minutes(10)};
  std::chrono::seconds code_ttl{std::chrono::seconds(60)};
  std::chrono::seconds refresh_token_ttl{std::chrono::hours(24 * 30)};
  std::chrono::seconds key_rotation{std::chrono::hours(24 * 30)};
  std::chrono::seconds login_session_ttl{std::chrono::hours(8)};
  std::vector<std::string> scopes{"mcp"};
  // Resource indicators (RFC 8707) tokens may be issued for. May be set later (set_resources).
  std::vector<std::string> resources;
  std::vector<UserOptions> users;
  std::vector<ClientOptions> clients;
  DcrOptions dcr;
  CimdOptions cimd;
  LoginLimits login;
  PasswordCost password_cost;
  // First start with no user at all: create "admin" with a random password and hand it to
  // this callback once (the app prints it on the console).
  bool create_admin_if_no_users = true;
  std::function<void(const std::string& username, const std::string& password)> on_admin_created;
  SecurityEventSink on_event;
  // Worker threads for argon2, SQLite and CIMD fetches; and how many requests may wait for one.
  std::size_t worker_threads = 2;
  std::size_t max_queued = 256;
  // Pending authorization requests and login sessions held in memory (bounded).
  std::size_t max_pending_requests = 10'000;
  std::size_t max_sessions = 10'000;
  std::size_t max_codes = 10'000;
  // Seams for tests.
  http::Fetcher fetcher;  // default: http::default_fetcher()
  std::function<Clock::time_point()> clock;
};

}  // namespace bastion::authserver
