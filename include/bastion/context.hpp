// What a handler sees of the request it serves.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "bastion/types.hpp"

namespace bastion {

class RequestContext {
 public:
  virtual ~RequestContext() = default;

  // Null on routes without authentication.
  virtual const Principal* principal() const = 0;
  virtual const std::string& protocol_version() const = 0;
  virtual const json::object& client_capabilities() const = 0;
  // True when the client declared the capability at this dotted path, e.g. "sampling",
  // "elicitation", "elicitation.url", "roots".
  virtual bool client_supports(std::string_view capability_path) const = 0;

  // Progress for the request's progressToken; ignored when the client sent none. `progress`
  // must increase with every call (the server drops values that do not).
  virtual void progress(double progress, std::optional<double> total = std::nullopt,
                        std::string message = {}) = 0;
  // notifications/message on this request's stream, filtered by the level the client chose.
  virtual void log(LogLevel level, json::value data, std::string logger = {}) = 0;

  // The client cancelled the request (or, on the modern wire, closed its stream). Long handlers
  // poll this and return early; nothing they return afterwards is sent.
  virtual bool cancelled() const = 0;

  // Multi-round inputs: the client's answer for an input request key, or nullptr.
  virtual const json::value* input(std::string_view key) const = 0;
  // The requestState echoed by the client, or nullptr (already integrity-checked).
  virtual const std::string* request_state() const = 0;

  // Ends the current SSE connection after the events sent so far, without ending the request
  // (SEP-1699 polling): the client reconnects with Last-Event-ID and receives the rest.
  // A no-op where the transport cannot do it (stdio, JSON responses, modern wire).
  virtual void close_stream_for_polling(std::chrono::milliseconds retry) = 0;

  // The W3C Trace Context of this request's MCP operation as `_meta` fields ("traceparent",
  // and "tracestate"/"baggage" when present), to put into the `_meta` of outbound MCP requests
  // so that an upstream's spans join this trace (OpenTelemetry MCP semantic conventions,
  // context propagation). Empty when the request is not traced.
  virtual json::object trace_meta() const { return {}; }
};

}  // namespace bastion
