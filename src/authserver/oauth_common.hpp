// Small pieces every endpoint of the embedded authorization server shares: form/query parsing
// that refuses duplicates, OAuth error responses, redirect-URI and PKCE checks, constant-time
// comparison. Nothing here throws on untrusted input.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/url/url_view.hpp>

#include "http/exchange.hpp"

namespace bastion::authserver {

using Clock = std::chrono::system_clock;

// application/x-www-form-urlencoded (HTML forms, token requests) or a URL query, decoded with
// '+' as space. RFC 6749 §3.1 / §3.2: "Request and response parameters MUST NOT be included
// more than once": a repeated name makes the whole form invalid (nullopt), as does bad
// percent-encoding or more than `max_params` parameters.
using Form = std::map<std::string, std::string, std::less<>>;
std::optional<Form> parse_form(std::string_view text, std::size_t max_params = 64);

// The value of `name`, or "" when absent (RFC 6749 §3.1: empty values are treated as omitted).
std::string form_value(const Form& form, std::string_view name);

// RFC 6749 §5.2 error response from the token, revocation and registration endpoints:
// {"error": ..., "error_description": ...} with Cache-Control: no-store.
http::Response oauth_error(int status, std::string_view error, std::string_view description);
// A JSON success answer with the no-store headers of RFC 6749 §5.1.
http::Response no_store_json(int status, std::string body);

// "application/x-www-form-urlencoded" possibly with parameters (charset).
bool is_form_content_type(const http::Request& request);

// Constant-time comparison for secrets (CSRF tokens, client secrets, PKCE): the time taken
// depends only on the lengths.
bool constant_time_equals(std::string_view a, std::string_view b);

// PKCE S256 (RFC 7636 §4.6): BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge.
// The verifier must be 43-128 characters of [A-Za-z0-9-._~] (§4.1); anything else fails.
bool pkce_s256_matches(std::string_view code_verifier, std::string_view code_challenge);
// A code_challenge as S256 produces it: 43 base64url characters (RFC 7636 §4.2).
bool is_valid_s256_challenge(std::string_view code_challenge);

// Redirect URIs a client may register (OAuth 2.1 §2.3.1, MCP authorization "Communication
// Security": redirect URIs MUST be either localhost or HTTPS): an absolute https URI, or http on
// a loopback host (localhost, 127.0.0.0/8, [::1]); no fragment (RFC 6749 §3.1.2), no userinfo.
bool is_allowed_redirect_uri(std::string_view uri);

// RFC 3986 §3.3 shape check Boost.URL 1.81 skips: with an authority, the path is empty or starts
// with "/" (see oauth_common.cpp).
bool authority_well_formed(const boost::urls::url_view& url);

// Lowercased scheme://host[:port] of an absolute URI, "" when it has none (for the CSP
// form-action list and to show the host on the consent page).
std::string uri_origin(std::string_view uri);
std::string uri_host(std::string_view uri);

// An RFC 8707 resource indicator: an absolute URI without a fragment (§2). Returned in a
// canonical form (scheme and host lowercased, default port dropped, no trailing slash on an
// empty path) so that "HTTP://Host:80/mcp" and "http://host/mcp" name the same resource
// (MCP authorization, canonical server URI: SHOULD accept uppercase scheme/host). nullopt when
// it is not acceptable.
std::optional<std::string> canonical_resource(std::string_view uri);

// Space-delimited scope list (RFC 6749 §3.3) -> sorted, de-duplicated tokens; nullopt when a
// token has characters outside %x21 / %x23-5B / %x5D-7E.
std::optional<std::vector<std::string>> parse_scope(std::string_view scope);
std::string join_scope(const std::vector<std::string>& scopes);

// HTML escaping for every interpolated value on the sign-in and consent pages (OWASP XSS
// prevention, rule #1): & < > " ' and `.
std::string html_escape(std::string_view text);

// Appends query parameters to a redirect URI that may already carry a query (RFC 6749 §3.1.2:
// the query component MUST be retained when adding parameters).
std::string add_query_params(std::string_view uri, const std::vector<std::pair<std::string, std::string>>& params);

// Seconds since the epoch.
std::int64_t unix_seconds(Clock::time_point t);

}  // namespace bastion::authserver
