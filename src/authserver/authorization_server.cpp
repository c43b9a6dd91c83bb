#include "authserver/authorization_server.hpp"

#include <boost/json.hpp>
#include <boost/url.hpp>
#include <sys/stat.h>

#include <filesystem>
#include <stdexcept>

#include "authserver/pages.hpp"

namespace bastion::authserver {

namespace json = boost::json;

std::string_view to_string(SecurityEventKind kind) {
  switch (kind) {
    case SecurityEventKind::login_succeeded: return "login_succeeded";
    case SecurityEventKind::login_failed: return "login_failed";
    case SecurityEventKind::login_rate_limited: return "login_rate_limited";
    case SecurityEventKind::consent_granted: return "consent_granted";
    case SecurityEventKind::consent_denied: return "consent_denied";
    case SecurityEventKind::client_registered: return "client_registered";
    case SecurityEventKind::client_registration_refused: return "client_registration_refused";
    case SecurityEventKind::client_metadata_refused: return "client_metadata_refused";
    case SecurityEventKind::refresh_token_reuse_detected: return "refresh_token_reuse_detected";
    case SecurityEventKind::authorization_code_reuse_detected: return "authorization_code_reuse_detected";
    case SecurityEventKind::token_revoked: return "token_revoked";
    case SecurityEventKind::signing_key_rotated: return "signing_key_rotated";
    case SecurityEventKind::admin_user_created: return "admin_user_created";
  }
  return "unknown";
}

namespace {

std::unique_ptr<Context> make_context(AuthServerOptions options) {
  const auto now = options.clock ? options.clock() : Clock::now();
  std::string db_path = ":memory:";
  std::string key_dir;
  if (options.data_dir != ":memory:") {
    std::error_code ec;
    std::filesystem::create_directories(options.data_dir, ec);
    if (ec) throw std::runtime_error("authorization_server.data_dir: cannot create " + options.data_dir + ": " + ec.message());
    // The folder holds private keys: only this user may list or enter it.
    ::chmod(options.data_dir.c_str(), 0700);
    db_path = options.data_dir + "/authserver.db";
    key_dir = options.data_dir + "/keys";
  }
  auto store = Store::open(db_path);
  if (!store) throw std::runtime_error("authorization_server: " + store.error().message);
  SigningKeysOptions key_options;
  key_options.algorithm = options.algorithm;
  key_options.rotation_period = options.key_rotation;
  key_options.token_lifetime = options.access_token_ttl;
  key_options.key_dir = key_dir;
  key_options.on_rotated = [sink = options.on_event](const std::string& kid) {
    if (sink) sink({SecurityEventKind::signing_key_rotated, "", "", "", "new key " + kid});
  };
  auto keys = SigningKeys::open(**store, key_options, now);
  if (!keys) throw std::runtime_error("authorization_server: " + keys.error().message);
  if (!options.fetcher) options.fetcher = http::default_fetcher();
  auto context = std::make_unique<Context>(std::move(options), std::move(*store), std::move(*keys));

  // First start: nobody could sign in, so make one admin and say its password once.
  if (context->options.create_admin_if_no_users && context->options.users.empty() && context->store->user_count() == 0) {
    const std::string password = PasswordHasher::random_password();
    auto hash = context->hasher.hash(password);
    if (!hash || !context->store->add_user("admin", *hash, unix_seconds(now))) {
      throw std::runtime_error("authorization_server: cannot create the first admin user");
    }
    if (context->options.on_admin_created) context->options.on_admin_created("admin", password);
    context->emit({SecurityEventKind::admin_user_created, "", "admin", "", ""});
  }
  context->store->purge_expired_refresh(unix_seconds(now));
  return context;
}

void set_cors(http::Response& response) {
  // Metadata, keys and the back-channel endpoints are called by browser-based MCP clients
  // (e.g. the Inspector) from other origins. No cookies are involved there, so "*" is safe.
  response.headers.set("Access-Control-Allow-Origin", "*");
}

bool is_cors_path(std::string_view path) {
  return path.starts_with("/.well-known/") || path == "/oauth/token" || path == "/oauth/register" ||
         path == "/oauth/revoke" || path == "/oauth/jwks";
}

}  // namespace

AuthorizationServer::AuthorizationServer(AuthServerOptions options)
    : context_(make_context(std::move(options))),
      authorization_(*context_),
      token_(*context_),
      workers_(std::make_unique<core::WorkerPool>(std::max<std::size_t>(1, context_->options.worker_threads),
                                                  context_->options.max_queued)) {}

AuthorizationServer::~AuthorizationServer() { stop(); }

void AuthorizationServer::stop() {
  if (workers_) workers_->stop();
}

void AuthorizationServer::set_issuer(std::string issuer) { context_->set_issuer(std::move(issuer)); }
void AuthorizationServer::set_resources(std::vector<std::string> resources) { context_->set_resources(std::move(resources)); }
std::string AuthorizationServer::issuer() const { return context_->issuer(); }

std::string AuthorizationServer::metadata_json() const {
  const std::string issuer = context_->issuer();
  const auto& o = context_->options;
  json::object m;  // RFC 8414 §2
  m["issuer"] = issuer;
  m["authorization_endpoint"] = issuer + "/oauth/authorize";
  m["token_endpoint"] = issuer + "/oauth/token";
  m["jwks_uri"] = issuer + "/oauth/jwks";
  if (o.dcr.enabled) m["registration_endpoint"] = issuer + "/oauth/register";
  m["revocation_endpoint"] = issuer + "/oauth/revoke";
  json::array scopes;
  for (const auto& s : o.scopes) scopes.emplace_back(s);
  m["scopes_supported"] = std::move(scopes);
  m["response_types_supported"] = json::array{"code"};
  m["response_modes_supported"] = json::array{"query"};
  m["grant_types_supported"] = json::array{"authorization_code", "refresh_token", "client_credentials"};
  m["token_endpoint_auth_methods_supported"] =
      json::array{"none", "client_secret_basic", "client_secret_post", "private_key_jwt"};
  // MCP client-credentials extension: listed whenever JWT client authentication is offered.
  m["token_endpoint_auth_signing_alg_values_supported"] = json::array{"ES256", "EdDSA", "RS256"};
  m["revocation_endpoint_auth_methods_supported"] = json::array{"none", "client_secret_basic", "client_secret_post"};
  m["code_challenge_methods_supported"] = json::array{"S256"};  // RFC 7636; no "plain"
  m["authorization_response_iss_parameter_supported"] = true;  // RFC 9207 §3
  m["client_id_metadata_document_supported"] = o.cimd.enabled;  // CIMD draft §6
  // Not an OpenID Provider (no ID tokens); the document is also served at the OIDC discovery
  // address because some MCP clients only look there.
  m["subject_types_supported"] = json::array{"public"};
  m["access_token_signing_alg_values_supported"] = json::array{std::string(jws_alg(o.algorithm))};
  return json::serialize(m);
}

bool AuthorizationServer::needs_worker(const std::string& path) const {
  return path == "/oauth/authorize" || path == "/oauth/login" || path == "/oauth/consent" || path == "/oauth/token" ||
         path == "/oauth/register" || path == "/oauth/revoke";
}

http::Response AuthorizationServer::handle_sync(const http::Request& request) {
  const std::string& path = request.path;
  http::Response response;
  if (request.method == "OPTIONS" && is_cors_path(path)) {
    response.status = 204;
    response.headers.set("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    response.headers.set("Access-Control-Allow-Headers", "Authorization, Content-Type, MCP-Protocol-Version");
    response.headers.set("Access-Control-Max-Age", "600");
    set_cors(response);
    return response;
  }
  if (path.starts_with("/.well-known/oauth-authorization-server") || path.starts_with("/.well-known/openid-configuration")) {
    // RFC 8414 §3.1: for an issuer with a path, the path goes after the well-known segment.
    auto parsed = boost::urls::parse_absolute_uri(context_->issuer());
    std::string issuer_path = parsed ? std::string(parsed->encoded_path()) : std::string();
    if (issuer_path == "/") issuer_path.clear();
    const std::string base = path.starts_with("/.well-known/oauth-authorization-server")
                                 ? "/.well-known/oauth-authorization-server"
                                 : "/.well-known/openid-configuration";
    if (path != base + issuer_path) {
      response = http::not_found_response();
    } else if (request.method != "GET" && request.method != "HEAD") {
      response = oauth_error(405, "invalid_request", "use GET");
      response.headers.set("Allow", "GET, HEAD");
    } else {
      response = http::json_response(200, metadata_json());
      response.headers.set("Cache-Control", "public, max-age=300");
    }
  } else if (path == "/oauth/jwks") {
    // application/json, as Keycloak, Entra ID and Auth0 serve it: every JWKS client accepts it,
    // not every one accepts RFC 7517's application/jwk-set+json.
    response = http::json_response(200, context_->keys->jwks_json(context_->now()));
    // Short: after a rotation verifiers should see the new key soon.
    response.headers.set("Cache-Control", "public, max-age=300");
  } else if (path == "/oauth/style.css") {
    response = stylesheet();
  } else if (path == "/oauth/authorize") {
    response = authorization_.authorize(request);
  } else if (path == "/oauth/login") {
    response = authorization_.login(request);
  } else if (path == "/oauth/consent") {
    response = request.method == "GET" ? authorization_.consent_page(request) : authorization_.consent(request);
  } else if (path == "/oauth/token") {
    response = token_.token(request);
  } else if (path == "/oauth/revoke") {
    response = token_.revoke(request);
  } else if (path == "/oauth/register") {
    if (request.method != "POST") {
      response = oauth_error(405, "invalid_request", "use POST");
      response.headers.set("Allow", "POST");
    } else {
      const std::string* type = request.headers.find("Content-Type");
      if (type == nullptr || !std::string_view(*type).starts_with("application/json")) {
        response = oauth_error(400, "invalid_client_metadata", "the body must be application/json");
      } else {
        auto registered = context_->clients->register_client(request.body, request.remote_address, context_->now());
        if (registered) {
          response = no_store_json(201, *registered);
          boost::system::error_code ec;
          auto doc = json::parse(*registered, ec);
          const std::string id = !ec && doc.is_object() ? std::string(doc.as_object().at("client_id").as_string()) : "";
          context_->emit({SecurityEventKind::client_registered, id, "", request.remote_address, ""});
        } else {
          response = oauth_error(registered.error().status, registered.error().error, registered.error().description);
          context_->emit({SecurityEventKind::client_registration_refused, "", "", request.remote_address, registered.error().error});
        }
      }
    }
  } else {
    response = http::not_found_response();
  }
  if (is_cors_path(path)) set_cors(response);
  return response;
}

void AuthorizationServer::handle(std::shared_ptr<http::Exchange> exchange) {
  const std::string& path = exchange->request().path;
  if (!needs_worker(path)) {
    exchange->respond(handle_sync(exchange->request()));
    return;
  }
  auto job = [this, exchange] {
    http::Response response;
    try {
      response = handle_sync(exchange->request());
    } catch (const std::exception&) {
      // Nothing here is expected to throw (untrusted input is parsed without exceptions); a
      // bad_alloc or a bug must still not leave the client hanging.
      response = oauth_error(500, "server_error", "internal error");
    }
    exchange->respond(std::move(response));
  };
  if (!workers_->post(job)) {
    http::Response busy = oauth_error(503, "temporarily_unavailable", "the authorization server is busy; try again");
    busy.headers.set("Retry-After", "1");
    exchange->respond(std::move(busy));
  }
}

void AuthorizationServer::register_routes(http::Router& router) {
  auto handler = [this](std::shared_ptr<http::Exchange> exchange) { handle(std::move(exchange)); };
  router.add_prefix("/.well-known/oauth-authorization-server", handler);
  router.add_prefix("/.well-known/openid-configuration", handler);
  router.add_prefix("/oauth", handler);
}

}  // namespace bastion::authserver
