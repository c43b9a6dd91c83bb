#include "authserver/pages.hpp"

#include "authserver/oauth_common.hpp"

namespace bastion::authserver {

namespace {

const char* kStyle = R"css(:root { color-scheme: light dark; --accent: #2563eb; --muted: #6b7280; --border: #d1d5db; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: #f3f4f6; color: #111827; }
@media (prefers-color-scheme: dark) { body { background: #111827; color: #f9fafb; } .card { background: #1f2937; border-color: #374151; } }
main { display: flex; min-height: 100vh; align-items: center; justify-content: center; padding: 1rem; }
.card { width: 100%; max-width: 26rem; background: #fff; border: 1px solid var(--border); border-radius: 12px; padding: 2rem; box-shadow: 0 4px 16px rgba(0,0,0,.06); }
h1 { font-size: 1.35rem; margin: 0 0 .25rem; }
.brand { font-size: .8rem; letter-spacing: .08em; text-transform: uppercase; color: var(--muted); margin-bottom: 1rem; }
p { margin: .5rem 0; }
.muted { color: var(--muted); font-size: .9rem; }
label { display: block; font-weight: 600; margin: 1rem 0 .25rem; }
input[type=text], input[type=password] { width: 100%; padding: .6rem .75rem; border: 1px solid var(--border); border-radius: 8px; font-size: 1rem; }
button { font-size: 1rem; padding: .6rem 1.2rem; border-radius: 8px; border: 1px solid var(--accent); cursor: pointer; }
button.primary { background: var(--accent); color: #fff; }
button.secondary { background: transparent; color: inherit; border-color: var(--border); }
.actions { display: flex; gap: .75rem; margin-top: 1.5rem; justify-content: flex-end; }
.message { background: #fee2e2; color: #991b1b; border-radius: 8px; padding: .6rem .75rem; margin-top: 1rem; }
.warning { background: #fef3c7; color: #92400e; border-radius: 8px; padding: .6rem .75rem; margin-top: 1rem; font-size: .9rem; }
ul.scopes { padding-left: 1.2rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; word-break: break-all; }
)css";

std::string layout(const std::string& title, const std::string& body) {
  return "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<meta name=\"referrer\" content=\"no-referrer\">"
         "<title>" + html_escape(title) + " - Bastion</title>"
         "<link rel=\"stylesheet\" href=\"/oauth/style.css\"></head><body><main><div class=\"card\">"
         "<div class=\"brand\">Bastion sign-in</div>" + body + "</div></main></body></html>\n";
}

http::Response html(int status, std::string body, const std::string& form_action_origin) {
  http::Response response;
  response.status = status;
  response.headers.set("Content-Type", "text/html; charset=utf-8");
  response.body = std::move(body);
  set_page_headers(response, form_action_origin);
  return response;
}

}  // namespace

void set_page_headers(http::Response& response, const std::string& form_action_origin) {
  // No script anywhere; styles only from our own stylesheet; forms post only to us (and the
  // redirect that follows a form post may go to the client's registered redirect origin, which
  // browsers check against form-action too); never framed (clickjacking).
  std::string csp = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'";
  if (!form_action_origin.empty()) csp += " " + form_action_origin;
  csp += "; frame-ancestors 'none'";
  response.headers.set("Content-Security-Policy", std::move(csp));
  response.headers.set("X-Frame-Options", "DENY");
  response.headers.set("X-Content-Type-Options", "nosniff");
  response.headers.set("Referrer-Policy", "no-referrer");
  response.headers.set("Cache-Control", "no-store");
  response.headers.set("Pragma", "no-cache");
}

http::Response render_login(const LoginPage& page, int status) {
  std::string body = "<h1>Sign in</h1>";
  body += "<p><strong>" + html_escape(page.client_name) + "</strong> wants to access your Bastion MCP server.</p>";
  body += "<p class=\"muted\">After you sign in you will be asked to approve it. It will be sent back to <code>" +
          html_escape(page.redirect_host) + "</code>.</p>";
  if (!page.message.empty()) body += "<div class=\"message\" role=\"alert\">" + html_escape(page.message) + "</div>";
  body += "<form method=\"post\" action=\"/oauth/login\">";
  body += "<input type=\"hidden\" name=\"tx\" value=\"" + html_escape(page.tx) + "\">";
  body += "<input type=\"hidden\" name=\"csrf\" value=\"" + html_escape(page.csrf) + "\">";
  body += "<label for=\"username\">User name</label>";
  body += "<input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" required autofocus value=\"" +
          html_escape(page.username) + "\">";
  body += "<label for=\"password\">Password</label>";
  body += "<input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>";
  body += "<div class=\"actions\"><button type=\"submit\" class=\"primary\" id=\"sign-in\">Sign in</button></div>";
  body += "</form>";
  return html(status, layout("Sign in", body), page.form_action_origin);
}

http::Response render_consent(const ConsentPage& page) {
  std::string body = "<h1>Allow access?</h1>";
  body += "<p>Signed in as <strong>" + html_escape(page.subject) + "</strong>.</p>";
  body += "<p><strong id=\"client-name\">" + html_escape(page.client_name) +
          "</strong> asks for access to <code>" + html_escape(page.resource) + "</code>.</p>";
  // MCP authorization, CIMD: the AS MUST show the redirect URI's host name.
  body += "<p>After your answer you will be sent to <strong id=\"redirect-host\">" + html_escape(page.redirect_host) +
          "</strong>.</p>";
  if (page.client_is_metadata_document) {
    body += "<p class=\"muted\">Client identified by <code>" + html_escape(page.client_id) + "</code>.</p>";
  }
  if (page.redirect_is_loopback) {
    // MCP authorization, CIMD: SHOULD warn when redirects go only to localhost.
    body += "<div class=\"warning\">This application receives the answer on this computer (" +
            html_escape(page.redirect_host) +
            "). Only approve it if you started the sign-in yourself just now.</div>";
  }
  body += "<p>It will be allowed to:</p><ul class=\"scopes\">";
  if (page.scopes.empty()) body += "<li>use the MCP server</li>";
  for (const auto& s : page.scopes) body += "<li><code>" + html_escape(s) + "</code></li>";
  body += "</ul>";
  body += "<form method=\"post\" action=\"/oauth/consent\">";
  body += "<input type=\"hidden\" name=\"tx\" value=\"" + html_escape(page.tx) + "\">";
  body += "<input type=\"hidden\" name=\"csrf\" value=\"" + html_escape(page.csrf) + "\">";
  body += "<div class=\"actions\">";
  body += "<button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\" id=\"deny\">Deny</button>";
  body += "<button type=\"submit\" name=\"decision\" value=\"approve\" class=\"primary\" id=\"approve\">Allow</button>";
  body += "</div></form>";
  return html(200, layout("Allow access", body), page.form_action_origin);
}

http::Response render_error(int status, const std::string& title, const std::string& detail) {
  std::string body = "<h1>" + html_escape(title) + "</h1><p>" + html_escape(detail) + "</p>";
  body += "<p class=\"muted\">Go back to the application and start signing in again.</p>";
  return html(status, layout(title, body), "");
}

http::Response stylesheet() {
  http::Response response;
  response.headers.set("Content-Type", "text/css; charset=utf-8");
  response.headers.set("Cache-Control", "public, max-age=3600");
  response.headers.set("X-Content-Type-Options", "nosniff");
  response.body = kStyle;
  return response;
}

}  // namespace bastion::authserver
