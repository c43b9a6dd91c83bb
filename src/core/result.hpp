// Result<T>: the one error-carrying return type for code that handles untrusted input.
// Parsers never throw on bad bytes; they return an Error that maps (in exactly one table per
// layer) to an HTTP status and a JSON-RPC code.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace bastion {

struct Error {
  int code = 0;              // JSON-RPC error code (see jsonrpc/error_codes.hpp)
  std::string message;       // safe to show to the peer
  int http_status = 400;     // status when this error ends an HTTP exchange
};

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(int code, std::string message, int http_status = 400) {
  return std::unexpected<Error>(Error{code, std::move(message), http_status});
}

}  // namespace bastion
