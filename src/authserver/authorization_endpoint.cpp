#include "authserver/authorization_endpoint.hpp"

#include <algorithm>
#include <set>

#include "authserver/pages.hpp"
#include "core/random.hpp"

namespace bastion::authserver {

namespace {

constexpr std::size_t kMaxStateBytes = 1024;
constexpr std::size_t kMaxUsernameBytes = 128;
constexpr std::size_t kMaxPasswordBytes = 1024;
// How long the user has to sign in and approve (MCP security best practices: ~10 minutes).
constexpr auto kPendingLifetime = std::chrono::minutes(10);

http::Response method_not_allowed(const char* allow) {
  http::Response response = render_error(405, "Method not allowed", "This address does not accept that kind of request.");
  response.headers.set("Allow", allow);
  return response;
}

std::string cookie_header(const std::string& name, const std::string& value, bool secure, std::int64_t max_age) {
  // OWASP Session Management: HttpOnly (no script access), SameSite=Lax (not sent on cross-site
  // POSTs), Secure and the __Host- prefix over HTTPS, Path=/ and no Domain (host-only).
  std::string out = name + "=" + value + "; Path=/; HttpOnly; SameSite=Lax; Max-Age=" + std::to_string(max_age);
  if (secure) out += "; Secure";
  return out;
}

bool is_loopback_redirect(const std::string& uri) {
  const std::string host = uri_host(uri);
  return host == "localhost" || host == "[::1]" || host.starts_with("127.");
}

bool covers(const std::optional<std::string>& granted, const std::vector<std::string>& wanted) {
  if (!granted) return false;
  auto have = parse_scope(*granted);
  if (!have) return false;
  return std::all_of(wanted.begin(), wanted.end(),
                     [&](const std::string& s) { return std::find(have->begin(), have->end(), s) != have->end(); });
}

}  // namespace

std::string cookie_value(const http::Request& request, std::string_view name) {
  for (const auto& [field, value] : request.headers.fields()) {
    if (!http::iequals(field, "Cookie")) continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      std::size_t end = rest.find(';');
      std::string_view pair = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      const std::size_t eq = pair.find('=');
      if (eq == std::string_view::npos) continue;
      if (pair.substr(0, eq) == name) return std::string(pair.substr(eq + 1));
    }
  }
  return {};
}

std::string AuthorizationEndpoint::session_cookie_name(bool secure) {
  return secure ? "__Host-bastion-session" : "bastion-session";
}

std::string AuthorizationEndpoint::browser_cookie_name(bool secure) {
  return secure ? "__Host-bastion-browser" : "bastion-browser";
}

bool AuthorizationEndpoint::secure(const http::Request& request) const {
  // Over TLS, or behind a TLS-terminating proxy whose public issuer URL is https.
  return request.secure || context_.issuer().starts_with("https://");
}

http::Response AuthorizationEndpoint::redirect_to_client(const std::string& redirect_uri, const std::string& state,
                                                         std::vector<std::pair<std::string, std::string>> params) const {
  if (!state.empty()) params.emplace_back("state", state);
  // RFC 9207 §2: iss in every authorization response, success and error, so the client can
  // detect mix-up attacks.
  params.emplace_back("iss", context_.issuer());
  http::Response response;
  response.status = 303;  // See Other: the browser follows with a GET, also after a form POST
  response.headers.set("Location", add_query_params(redirect_uri, params));
  response.headers.set("Cache-Control", "no-store");
  response.headers.set("Referrer-Policy", "no-referrer");
  return response;
}

http::Response AuthorizationEndpoint::redirect_error(const std::string& redirect_uri, const std::string& state,
                                                     const std::string& error, const std::string& description) const {
  return redirect_to_client(redirect_uri, state, {{"error", error}, {"error_description", description}});
}

http::Response AuthorizationEndpoint::authorize(const http::Request& request) {
  if (request.method != "GET") return method_not_allowed("GET");
  auto form = parse_form(request.query);
  if (!form) {
    return render_error(400, "Invalid sign-in request",
                        "The application sent a malformed authorization request (a parameter is repeated or badly encoded).");
  }
  const auto now = context_.now();
  const std::string client_id = form_value(*form, "client_id");
  if (client_id.empty()) return render_error(400, "Invalid sign-in request", "The application did not say who it is (client_id is missing).");
  auto client = context_.clients->find(client_id, now, request.remote_address);
  if (!client) {
    if (client_id.starts_with("https://")) {
      context_.emit({SecurityEventKind::client_metadata_refused, client_id, "", request.remote_address,
                     client.error().description});
    }
    // RFC 6749 §4.1.2.1: with an invalid client the AS MUST NOT redirect; tell the user instead.
    return render_error(400, "Unknown application", client.error().description);
  }
  std::string redirect_uri = form_value(*form, "redirect_uri");
  if (redirect_uri.empty()) {
    if (client->redirect_uris.size() != 1) {
      return render_error(400, "Invalid sign-in request", "The application did not say where to return (redirect_uri is missing).");
    }
    redirect_uri = client->redirect_uris.front();
  } else if (!client->has_redirect_uri(redirect_uri) || !is_allowed_redirect_uri(redirect_uri)) {
    // OAuth 2.1 §4.1.1 / §7.5.3: exact string matching; MUST NOT redirect to an unregistered URI.
    return render_error(400, "Unregistered redirect address",
                        "The address this application asked to return to is not registered for it, so Bastion will not send you there.");
  }

  const std::string state = form_value(*form, "state");
  if (state.size() > kMaxStateBytes) return redirect_error(redirect_uri, "", "invalid_request", "state is too long");
  if (!client->allows_grant("authorization_code")) {
    return redirect_error(redirect_uri, state, "unauthorized_client", "this client may not use the authorization code grant");
  }
  if (form_value(*form, "response_type") != "code") {
    return redirect_error(redirect_uri, state, "unsupported_response_type", "response_type must be code");
  }
  // OAuth 2.1 §4.1.1 and MCP authorization: PKCE is required, and only S256 is offered (RFC 7636
  // §4.2: "plain" is for clients that cannot do S256; every MCP client can).
  if (form_value(*form, "code_challenge_method") != "S256") {
    return redirect_error(redirect_uri, state, "invalid_request", "PKCE is required: code_challenge_method must be S256");
  }
  const std::string code_challenge = form_value(*form, "code_challenge");
  if (!is_valid_s256_challenge(code_challenge)) {
    return redirect_error(redirect_uri, state, "invalid_request", "code_challenge must be 43 base64url characters");
  }
  // RFC 8707 §2: the resource the token is for; MCP clients MUST send it. Required here, so that
  // every token is audience-restricted.
  const std::string resource_param = form_value(*form, "resource");
  if (resource_param.empty()) {
    return redirect_error(redirect_uri, state, "invalid_target", "the resource parameter (RFC 8707) is required");
  }
  auto resource = context_.allowed_resource(resource_param);
  if (!resource) {
    return redirect_error(redirect_uri, state, "invalid_target", "tokens are not issued for that resource by this server");
  }
  auto requested = parse_scope(form_value(*form, "scope"));
  if (!requested) return redirect_error(redirect_uri, state, "invalid_scope", "the scope is malformed");
  const auto& offered = client->scopes.empty() ? context_.options.scopes : client->scopes;
  std::vector<std::string> scopes = *requested;
  for (const auto& s : scopes) {
    if (std::find(offered.begin(), offered.end(), s) == offered.end()) {
      return redirect_error(redirect_uri, state, "invalid_scope", "a requested scope is not offered to this client");
    }
  }
  // RFC 6749 §3.3: without a scope the AS uses its default, here every scope offered to the client.
  if (scopes.empty()) {
    scopes = offered;
    std::sort(scopes.begin(), scopes.end());
  }

  const bool is_secure = secure(request);
  std::string browser = cookie_value(request, browser_cookie_name(is_secure));
  const bool new_browser = browser.size() < 32 || browser.size() > 64;
  if (new_browser) browser = core::random_base64url(32);

  PendingRequest pending;
  pending.id = core::random_base64url(16);
  pending.client_id = client->client_id;
  pending.client_name = client->client_name;
  pending.client_kind = client->kind;
  pending.redirect_uri = redirect_uri;
  pending.state = state;
  pending.code_challenge = code_challenge;
  pending.resource = *resource;
  pending.scopes = scopes;
  pending.csrf = core::random_base64url(32);
  pending.browser_sha256 = sha256_hex(browser);
  pending.expires = now + kPendingLifetime;

  const std::string prompt = form_value(*form, "prompt");
  pending.force_consent = prompt == "consent";
  const auto subject = context_.session_subject(cookie_value(request, session_cookie_name(is_secure)));
  const bool consented = subject && prompt != "consent" && covers(context_.store->consent(*subject, client->client_id), scopes);
  if (prompt == "none" && !(subject && consented)) {
    // OpenID Connect Core §3.1.2.6, used by OAuth clients too: no UI may be shown.
    return redirect_error(redirect_uri, state, subject ? "consent_required" : "login_required", "user interaction is required");
  }

  http::Response response;
  if (subject && consented) {
    response = issue_code(pending, *subject);
  } else {
    if (!context_.put_pending(pending)) {
      return redirect_error(redirect_uri, state, "temporarily_unavailable", "too many sign-ins in progress; try again shortly");
    }
    if (subject) {
      response = show_consent(pending, *subject, request);
    } else {
      response = render_login(LoginPage{pending.id, pending.csrf, pending.client_name, uri_host(redirect_uri), "", "",
                                        uri_origin(redirect_uri)});
    }
  }
  if (new_browser) {
    response.headers.add("Set-Cookie", cookie_header(browser_cookie_name(is_secure), browser, is_secure, 24 * 3600));
  }
  return response;
}

std::variant<PendingRequest, http::Response> AuthorizationEndpoint::checked_pending(const http::Request& request,
                                                                                    const Form& form, bool check_csrf) {
  auto pending = context_.pending(form_value(form, "tx"));
  if (!pending) {
    return render_error(400, "Sign-in expired",
                        "This sign-in request is unknown or has expired (requests are kept for 10 minutes).");
  }
  // The request must come from the browser that started it (the browser cookie), and a form
  // post must carry the synchronizer token of its page (OWASP CSRF Prevention Cheat Sheet).
  const std::string browser = cookie_value(request, browser_cookie_name(secure(request)));
  if (browser.empty() || !constant_time_equals(sha256_hex(browser), pending->browser_sha256)) {
    return render_error(403, "Request refused", "This sign-in was started in another browser (CSRF check failed).");
  }
  if (check_csrf) {
    const std::string csrf = form_value(form, "csrf");
    if (csrf.empty() || !constant_time_equals(csrf, pending->csrf)) {
      return render_error(403, "Request refused",
                          "The form's security token is missing or wrong (CSRF check failed). Start again from the application.");
    }
  }
  return *pending;
}

http::Response AuthorizationEndpoint::login(const http::Request& request) {
  if (request.method != "POST") return method_not_allowed("POST");
  if (!is_form_content_type(request)) return render_error(415, "Invalid request", "The sign-in form must be posted as a form.");
  auto form = parse_form(request.body);
  if (!form) return render_error(400, "Invalid request", "The sign-in form is malformed.");
  auto checked = checked_pending(request, *form, true);
  if (auto* refusal = std::get_if<http::Response>(&checked)) return std::move(*refusal);
  PendingRequest pending = std::get<PendingRequest>(std::move(checked));

  const std::string username = form_value(*form, "username");
  const std::string password = form_value(*form, "password");
  LoginPage page{pending.id, pending.csrf, pending.client_name, uri_host(pending.redirect_uri), "", "",
                 uri_origin(pending.redirect_uri)};
  if (username.size() <= kMaxUsernameBytes) page.username = username;
  if (username.empty() || username.size() > kMaxUsernameBytes || password.empty() || password.size() > kMaxPasswordBytes) {
    page.message = "Enter your user name and password.";
    return render_login(page, 400);
  }
  const auto steady = RateLimiter::Clock::now();
  if (context_.login_failures_per_user.exhausted(username, steady) ||
      !context_.login_attempts_per_address.allow(request.remote_address, steady)) {
    context_.emit({SecurityEventKind::login_rate_limited, pending.client_id, username, request.remote_address, "too many attempts"});
    page.message = "Too many sign-in attempts. Wait a few minutes, then try again.";
    http::Response response = render_login(page, 429);
    response.headers.set("Retry-After", std::to_string(context_.options.login.window.count()));
    return response;
  }
  auto subject = context_.check_password(username, password);
  if (!subject) {
    context_.login_failures_per_user.allow(username, steady);
    context_.emit({SecurityEventKind::login_failed, pending.client_id, username, request.remote_address, "wrong user name or password"});
    page.message = "Wrong user name or password.";
    return render_login(page, 401);
  }
  context_.login_failures_per_user.reset(username);
  context_.emit({SecurityEventKind::login_succeeded, pending.client_id, *subject, request.remote_address, ""});
  const bool is_secure = secure(request);
  auto session = context_.new_session(*subject);
  if (!session) return render_error(503, "Busy", "Too many people are signed in right now; try again shortly.");
  const std::string set_cookie = cookie_header(session_cookie_name(is_secure), *session, is_secure,
                                               context_.options.login_session_ttl.count());
  http::Response response;
  if (!pending.force_consent && covers(context_.store->consent(*subject, pending.client_id), pending.scopes)) {
    response = issue_code(pending, *subject);
  } else {
    // A fresh CSRF token for the consent form: privileges changed with the sign-in.
    pending.csrf = core::random_base64url(32);
    context_.put_pending(pending);
    response.status = 303;
    response.headers.set("Location", "/oauth/consent?tx=" + pending.id);
    response.headers.set("Cache-Control", "no-store");
  }
  response.headers.add("Set-Cookie", set_cookie);
  return response;
}

http::Response AuthorizationEndpoint::show_consent(const PendingRequest& pending, const std::string& subject,
                                                   const http::Request&) {
  ConsentPage page;
  page.tx = pending.id;
  page.csrf = pending.csrf;
  page.client_name = pending.client_name;
  page.client_id = pending.client_id;
  page.redirect_host = uri_host(pending.redirect_uri);
  page.redirect_is_loopback = is_loopback_redirect(pending.redirect_uri);
  page.client_is_metadata_document = pending.client_kind == ClientKind::metadata_document;
  page.subject = subject;
  page.resource = pending.resource;
  page.scopes = pending.scopes;
  page.form_action_origin = uri_origin(pending.redirect_uri);
  return render_consent(page);
}

http::Response AuthorizationEndpoint::consent_page(const http::Request& request) {
  if (request.method != "GET") return method_not_allowed("GET, POST");
  auto query = parse_form(request.query);
  if (!query) return render_error(400, "Invalid request", "The address is malformed.");
  auto checked = checked_pending(request, *query, false);
  if (auto* refusal = std::get_if<http::Response>(&checked)) return std::move(*refusal);
  const PendingRequest& pending = std::get<PendingRequest>(checked);
  auto subject = context_.session_subject(cookie_value(request, session_cookie_name(secure(request))));
  if (!subject) {
    return render_login(LoginPage{pending.id, pending.csrf, pending.client_name, uri_host(pending.redirect_uri), "",
                                  "Please sign in first.", uri_origin(pending.redirect_uri)});
  }
  return show_consent(pending, *subject, request);
}

http::Response AuthorizationEndpoint::consent(const http::Request& request) {
  if (request.method != "POST") return method_not_allowed("GET, POST");
  if (!is_form_content_type(request)) return render_error(415, "Invalid request", "The consent form must be posted as a form.");
  auto form = parse_form(request.body);
  if (!form) return render_error(400, "Invalid request", "The consent form is malformed.");
  auto checked = checked_pending(request, *form, true);
  if (auto* refusal = std::get_if<http::Response>(&checked)) return std::move(*refusal);
  const PendingRequest pending = std::get<PendingRequest>(std::move(checked));
  auto subject = context_.session_subject(cookie_value(request, session_cookie_name(secure(request))));
  if (!subject) return render_error(401, "Signed out", "Your sign-in has expired. Start again from the application.");
  const std::string decision = form_value(*form, "decision");
  if (decision == "deny") {
    context_.erase_pending(pending.id);
    context_.emit({SecurityEventKind::consent_denied, pending.client_id, *subject, request.remote_address, ""});
    return redirect_error(pending.redirect_uri, pending.state, "access_denied", "the user denied the request");
  }
  if (decision != "approve") return render_error(400, "Invalid request", "Choose Allow or Deny.");
  // Remember the union of what was granted before and now, per user and client.
  std::set<std::string> granted(pending.scopes.begin(), pending.scopes.end());
  if (auto before = context_.store->consent(*subject, pending.client_id)) {
    if (auto old = parse_scope(*before)) granted.insert(old->begin(), old->end());
  }
  context_.store->put_consent(*subject, pending.client_id, join_scope({granted.begin(), granted.end()}),
                              unix_seconds(context_.now()));
  context_.emit({SecurityEventKind::consent_granted, pending.client_id, *subject, request.remote_address,
                 join_scope(pending.scopes)});
  return issue_code(pending, *subject);
}

http::Response AuthorizationEndpoint::issue_code(const PendingRequest& pending, const std::string& subject) {
  context_.erase_pending(pending.id);  // single use: a second approval of the same request finds nothing
  AuthorizationCode code;
  code.client_id = pending.client_id;
  code.redirect_uri = pending.redirect_uri;
  code.code_challenge = pending.code_challenge;
  code.resource = pending.resource;
  code.scope = join_scope(pending.scopes);
  code.subject = subject;
  code.expires = context_.now() + context_.options.code_ttl;
  auto value = context_.new_code(std::move(code));
  if (!value) return redirect_error(pending.redirect_uri, pending.state, "temporarily_unavailable", "try again shortly");
  return redirect_to_client(pending.redirect_uri, pending.state, {{"code", *value}});
}

}  // namespace bastion::authserver
