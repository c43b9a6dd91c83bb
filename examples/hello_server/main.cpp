// The smallest useful Bastion server: one tool, served over stdin/stdout.
//
// Build:  cmake --build build --target hello_server
// Use it from any MCP client that starts local servers, e.g. in a client's config:
//   { "command": "/path/to/build/examples/hello_server" }
// or by hand, one JSON-RPC message per line on stdin (the first two open the session):
//   {"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"me","version":"1"}}}
//   {"jsonrpc":"2.0","method":"notifications/initialized"}
//   {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"greet","arguments":{"name":"Ada"}}}
#include <iostream>
#include <memory>
#include <string>

#include "bastion/server.hpp"
#include "transport/stdio.hpp"

namespace json = bastion::json;

int main() {
  // A ServerDefinition is what one server offers. It is shared by every session, so it is built
  // once, before serving, and handed over as a shared_ptr.
  auto server = std::make_shared<bastion::ServerDefinition>();
  server->info.name = "hello-server";
  server->info.version = "1.0.0";

  bastion::Tool greet;
  greet.name = "greet";
  greet.title = "Greet";
  greet.description = "Says hello to someone by name.";  // clients show this to the model
  // The framework checks every call's arguments against this JSON Schema before the handler
  // runs, so the handler can rely on "name" being a string.
  greet.input_schema = json::object{
      {"type", "object"},
      {"properties", json::object{{"name", json::object{{"type", "string"}, {"description", "Who to greet."}}}}},
      {"required", json::array{"name"}}};
  greet.annotations = json::object{{"readOnlyHint", true}, {"openWorldHint", false}};
  // Handlers are plain functions. They run on a worker thread, so they may block; a throwing
  // handler becomes an error result for the client, never a crash.
  greet.handler = [](const json::object& arguments, bastion::RequestContext&) -> bastion::ToolOutcome {
    return bastion::ToolResult::text("Hello, " + std::string(arguments.at("name").as_string()) + "!");
  };
  server->add_tool(std::move(greet));

  // stdout carries MCP messages only; anything you want to print goes to std::cerr.
  return bastion::transport::run_stdio(server, {}, std::cin, std::cout);
}
