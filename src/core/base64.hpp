#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace bastion::core {

std::string base64_encode(std::string_view bytes);
// Standard alphabet with padding; returns nullopt on any invalid character or length.
std::optional<std::string> base64_decode(std::string_view text);

// base64url without padding, as JOSE (RFC 7515 §2) and PKCE (RFC 7636 §4.2) use it. Decoding
// refuses padding, the standard alphabet's '+' and '/', and impossible lengths.
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace bastion::core
