// A whole AuthorizationServer over an in-memory store, driven through handle_sync() with a
// cookie jar and a fake clock: what a browser and a client would do, without sockets.
#pragma once

#include <boost/json.hpp>
#include <boost/url.hpp>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "authserver/authorization_server.hpp"
#include "core/base64.hpp"
#include "core/sha256.hpp"

namespace bastion::authserver::testing {

inline constexpr const char* kIssuer = "http://127.0.0.1:8080";
inline constexpr const char* kResource = "http://127.0.0.1:8080/mcp";
inline constexpr const char* kRedirect = "http://127.0.0.1:3000/callback";
inline constexpr const char* kClient = "test-client";
inline constexpr const char* kPassword = "correct horse battery staple";
// 43 characters of the unreserved set: a valid PKCE verifier (RFC 7636 §4.1).
inline constexpr const char* kVerifier = "verifier-0123456789-abcdefghijklmnopqrstuvwxyz";

// Cheap argon2 for tests: the cost is a parameter, not what is under test here.
inline PasswordCost cheap_cost() { return PasswordCost{64, 1, 1}; }

inline std::string challenge_for(const std::string& verifier) {
  const auto d = core::sha256(verifier);
  return core::base64url_encode(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

inline std::string enc(const std::string& s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

inline std::map<std::string, std::string> query_of(const std::string& url) {
  std::map<std::string, std::string> out;
  auto parsed = boost::urls::parse_uri_reference(url);
  if (!parsed) return out;
  for (auto p : parsed->params()) out[p.key] = p.value;
  return out;
}

inline boost::json::object json_of(const http::Response& r) {
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  return !ec && v.is_object() ? v.as_object() : boost::json::object{};
}

inline std::string str(const boost::json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// Pulls the value of a hidden form field out of a rendered page.
inline std::string hidden_field(const std::string& html, const std::string& name) {
  const std::string marker = "name=\"" + name + "\" value=\"";
  auto at = html.find(marker);
  if (at == std::string::npos) return {};
  at += marker.size();
  return html.substr(at, html.find('"', at) - at);
}

class Harness {
 public:
  explicit Harness(std::function<void(AuthServerOptions&)> customize = {}) {
    AuthServerOptions o;
    o.data_dir = ":memory:";
    o.password_cost = cheap_cost();
    o.users.push_back({"alice", *PasswordHasher(cheap_cost()).hash(kPassword)});
    ClientOptions client;
    client.client_id = kClient;
    client.client_name = "Test <Client>";
    client.redirect_uris = {kRedirect};
    o.clients.push_back(client);
    ClientOptions machine;
    machine.client_id = "machine";
    machine.token_endpoint_auth_method = "client_secret_basic";
    machine.client_secret = "machine-secret-0123456789";
    machine.grant_types = {"client_credentials"};
    o.clients.push_back(machine);
    o.scopes = {"mcp", "mcp:admin"};
    o.clock = [this] { return now; };
    o.on_event = [this](const SecurityEvent& e) { events.push_back(e); };
    o.fetcher = [this](const http::ClientRequest& request, const http::ClientOptions& options) {
      ++fetches;
      last_fetch_options = options;
      if (fetch) return fetch(request, options);
      return Result<http::ClientResponse>(fail(0, "no network in unit tests"));
    };
    if (customize) customize(o);
    server = std::make_unique<AuthorizationServer>(std::move(o));
    server->set_issuer(kIssuer);
    server->set_resources({kResource});
  }

  http::Response request(const std::string& method, const std::string& target, const std::string& body = {},
                         std::vector<std::pair<std::string, std::string>> headers = {}, bool use_cookies = true) {
    http::Request r;
    r.method = method;
    r.target = target;
    const auto q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    r.body = body;
    r.remote_address = "127.0.0.1";
    r.secure = secure;
    for (auto& [k, v] : headers) r.headers.add(k, v);
    if (use_cookies && !cookies.empty()) {
      std::string jar;
      for (const auto& [k, v] : cookies) jar += (jar.empty() ? "" : "; ") + k + "=" + v;
      r.headers.add("Cookie", jar);
    }
    http::Response response = server->handle_sync(r);
    for (const auto& [name, value] : response.headers.fields()) {
      if (!http::iequals(name, "Set-Cookie")) continue;
      const auto eq = value.find('=');
      const auto semi = value.find(';');
      cookies[value.substr(0, eq)] = value.substr(eq + 1, semi - eq - 1);
      set_cookie_lines.push_back(value);
    }
    return response;
  }

  http::Response post_form(const std::string& path, const std::string& body,
                           std::vector<std::pair<std::string, std::string>> headers = {}, bool use_cookies = true) {
    headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    return request("POST", path, body, std::move(headers), use_cookies);
  }

  std::string authorize_url(const std::string& extra = "", const std::string& verifier = kVerifier) const {
    return "/oauth/authorize?response_type=code&client_id=" + enc(kClient) + "&redirect_uri=" + enc(kRedirect) +
           "&state=xyz&code_challenge=" + challenge_for(verifier) + "&code_challenge_method=S256&resource=" +
           enc(kResource) + extra;
  }

  // authorize -> login page -> sign in -> consent page -> approve; returns the final redirect.
  http::Response sign_in_and_approve(const std::string& authorize_target, const std::string& decision = "approve") {
    auto page = request("GET", authorize_target);
    if (page.status != 200) return page;
    std::string tx = hidden_field(page.body, "tx");
    std::string csrf = hidden_field(page.body, "csrf");
    if (page.body.find("action=\"/oauth/login\"") != std::string::npos) {
      auto login = post_form("/oauth/login", "tx=" + tx + "&csrf=" + csrf + "&username=alice&password=" + enc(kPassword));
      if (login.status != 303) return login;
      const std::string* location = login.headers.find("Location");
      if (location == nullptr || !location->starts_with("/oauth/consent")) return login;
      page = request("GET", *location);
      if (page.status != 200) return page;
      tx = hidden_field(page.body, "tx");
      csrf = hidden_field(page.body, "csrf");
    }
    return post_form("/oauth/consent", "tx=" + tx + "&csrf=" + csrf + "&decision=" + decision);
  }

  std::string code_from(const http::Response& redirect) {
    const std::string* location = redirect.headers.find("Location");
    if (location == nullptr) return {};
    return query_of(*location)["code"];
  }

  http::Response redeem(const std::string& code, const std::string& verifier = kVerifier, const std::string& extra = "") {
    return post_form("/oauth/token", "grant_type=authorization_code&code=" + enc(code) + "&redirect_uri=" + enc(kRedirect) +
                                         "&code_verifier=" + verifier + "&client_id=" + kClient + "&resource=" +
                                         enc(kResource) + extra,
                     {}, false);
  }

  http::Response refresh(const std::string& token) {
    return post_form("/oauth/token", "grant_type=refresh_token&refresh_token=" + enc(token) + "&client_id=" + kClient, {}, false);
  }

  bool saw_event(SecurityEventKind kind) const {
    for (const auto& e : events) {
      if (e.kind == kind) return true;
    }
    return false;
  }

  Clock::time_point now = Clock::time_point(std::chrono::seconds(1'800'000'000));
  bool secure = false;
  std::vector<SecurityEvent> events;
  std::map<std::string, std::string> cookies;
  std::vector<std::string> set_cookie_lines;
  std::function<Result<http::ClientResponse>(const http::ClientRequest&, const http::ClientOptions&)> fetch;
  int fetches = 0;
  http::ClientOptions last_fetch_options;
  std::unique_ptr<AuthorizationServer> server;
};

}  // namespace bastion::authserver::testing
