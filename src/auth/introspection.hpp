// RFC 7662 token introspection for opaque access tokens: a POST of the token with client
// authentication (client_secret_basic, RFC 6749 §2.3.1), answered with {"active": ...}.
#pragma once

#include <boost/json.hpp>

#include <string>
#include <string_view>

#include "auth/auth_types.hpp"
#include "core/result.hpp"
#include "http/client.hpp"

namespace bastion::auth {

// The request body and Authorization header for `token` (exposed for tests). The token goes in
// the form body only, never in a URL that a proxy might log.
http::ClientRequest introspection_request(std::string_view endpoint, std::string_view token,
                                          const IntrospectionSettings& settings);

// The introspection response as a JSON object (active or not), or an error when the endpoint
// could not be asked or answered something that is not an RFC 7662 response.
Result<json::object> introspect(std::string_view endpoint, std::string_view token, const IntrospectionSettings& settings,
                                const http::Fetcher& fetcher, const http::ClientOptions& options);

}  // namespace bastion::auth
