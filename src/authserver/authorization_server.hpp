// The embedded OAuth 2.1 authorization server: one object that owns the store, the keys, the
// client registry and the endpoints, and registers its routes on an http::Router:
//
//   /.well-known/oauth-authorization-server[/<issuer path>]   RFC 8414 metadata
//   /.well-known/openid-configuration[/<issuer path>]         the same document (OIDC discovery)
//   /oauth/authorize  /oauth/login  /oauth/consent             front channel (browser)
//   /oauth/token  /oauth/revoke  /oauth/register  /oauth/jwks   back channel
//   /oauth/style.css                                           the pages' stylesheet
//
// The resource server sees it only through the metadata and the JWKS, exactly as it would see
// an external issuer. Blocking work (argon2, SQLite, client-metadata fetches) runs on this
// object's own bounded worker pool; when its queue is full the answer is 503, never an
// unbounded queue.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "authserver/authorization_endpoint.hpp"
#include "authserver/context.hpp"
#include "authserver/options.hpp"
#include "authserver/token_endpoint.hpp"
#include "core/worker_pool.hpp"
#include "http/exchange.hpp"
#include "http/router.hpp"

namespace bastion::authserver {

class AuthorizationServer {
 public:
  // Opens (or creates) the store and the keys under options.data_dir and creates the first
  // admin user when there is no user at all. Throws std::runtime_error with a clear message
  // when the data directory or a stored key cannot be used (a start-up error).
  explicit AuthorizationServer(AuthServerOptions options);
  ~AuthorizationServer();
  AuthorizationServer(const AuthorizationServer&) = delete;
  AuthorizationServer& operator=(const AuthorizationServer&) = delete;

  // Set before the server starts serving, once the listener's port is known.
  void set_issuer(std::string issuer);
  void set_resources(std::vector<std::string> resources);
  std::string issuer() const;

  void register_routes(http::Router& router);

  // Answers one request on the calling thread (tests; the routes use the worker pool).
  http::Response handle_sync(const http::Request& request);
  // Answers through the exchange, blocking work on a worker.
  void handle(std::shared_ptr<http::Exchange> exchange);

  std::string metadata_json() const;

  Context& context() { return *context_; }
  // Finishes queued work and joins the workers. Idempotent.
  void stop();

 private:
  bool needs_worker(const std::string& path) const;

  std::unique_ptr<Context> context_;
  AuthorizationEndpoint authorization_;
  TokenEndpoint token_;
  std::unique_ptr<core::WorkerPool> workers_;
};

}  // namespace bastion::authserver
