// Plain request/response helpers. No Beast or Asio here: only Boost.URL for query parsing.
#include "http/exchange.hpp"

#include <algorithm>

#include <boost/url/decode_view.hpp>
#include <boost/url/encoding_opts.hpp>
#include <boost/url/parse_query.hpp>

namespace bastion::http {

namespace {

constexpr char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool iequals_same_size(const char* a, const char* b, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

void Headers::set(std::string_view name, std::string value) {
  // Replace the first occurrence and drop the others, so that a singleton field set by one layer
  // cannot end up duplicated by an earlier add() from another.
  auto first =
      std::find_if(fields_.begin(), fields_.end(), [&](const auto& field) { return iequals(field.first, name); });
  if (first == fields_.end()) {
    fields_.emplace_back(std::string(name), std::move(value));
    return;
  }
  first->second = std::move(value);
  auto rest_begin = std::next(first);
  fields_.erase(
      std::remove_if(rest_begin, fields_.end(), [&](const auto& field) { return iequals(field.first, name); }),
      fields_.end());
}

const std::string* Headers::find(std::string_view name) const {
  for (const auto& [field_name, value] : fields_) {
    if (iequals(field_name, name)) return &value;
  }
  return nullptr;
}

std::size_t Headers::count(std::string_view name) const {
  return static_cast<std::size_t>(
      std::count_if(fields_.begin(), fields_.end(), [&](const auto& field) { return iequals(field.first, name); }));
}

std::optional<std::string> query_param(const Request& request, std::string_view name) {
  // The query is untrusted: the non-throwing parser, and a malformed query simply has no
  // parameters (callers treat that like an absent parameter).
  auto params = boost::urls::parse_query(request.query);
  if (!params) return std::nullopt;
  // Query strings of HTML forms and OAuth redirects use application/x-www-form-urlencoded,
  // where '+' means a space (WHATWG URL §5.1; RFC 6749 appendix B).
  boost::urls::encoding_opts form_encoding;
  form_encoding.space_as_plus = true;
  for (const auto& param : *params) {
    if (boost::urls::decode_view(param.key, form_encoding) != name) continue;
    if (!param.has_value) return std::string();
    return param.value.decode(form_encoding);
  }
  return std::nullopt;
}

bool RequestIdField::assign(std::string_view value) {
  if (value.size() > kCapacity) return false;
  std::copy(value.begin(), value.end(), data_.begin());
  size_ = static_cast<std::uint8_t>(value.size());
  return true;
}

Response json_response(int status, std::string body) {
  Response response;
  response.status = status;
  // Room for what later layers add (the session id, a handler's fields) without the field vector
  // growing, a reallocation and a move of every field, once per request.
  response.headers.reserve(4);
  response.headers.set("Content-Type", "application/json");
  response.body = std::move(body);
  return response;
}

}  // namespace bastion::http
