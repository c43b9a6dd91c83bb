#include "mcp/dispatcher.hpp"

#include <map>

#include "core/base64.hpp"
#include "jsonrpc/error_codes.hpp"
#include "mcp/call_context.hpp"
#include "mcp/schema.hpp"
#include "mcp/uri_template.hpp"
#include "mcp/versions.hpp"

namespace bastion::mcp {

namespace rpc = jsonrpc;

namespace {

json::object error_response(const rpc::Id& id, int code, std::string_view message,
                            std::optional<json::value> data = std::nullopt) {
  return rpc::make_error(id, code, message, std::move(data));
}

std::optional<std::string> get_string(const json::object& params, std::string_view key) {
  const json::value* v = params.if_contains(key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}

// Opaque list cursors (basic/utilities/pagination.mdx): base64 of "offset:<n>".
std::string encode_cursor(std::size_t offset) { return core::base64_encode("offset:" + std::to_string(offset)); }

std::optional<std::size_t> decode_cursor(std::string_view cursor) {
  auto text = core::base64_decode(cursor);
  if (!text || !text->starts_with("offset:") || text->size() > 27) return std::nullopt;
  std::size_t n = 0;
  for (char c : text->substr(7)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  return n;
}

void put_if(json::object& o, std::string_view key, const std::string& value) {
  if (!value.empty()) o[key] = value;
}

json::object tool_json(const Tool& t) {
  json::object o{{"name", t.name}};
  put_if(o, "title", t.title);
  put_if(o, "description", t.description);
  o["inputSchema"] = t.input_schema;
  if (t.output_schema) o["outputSchema"] = *t.output_schema;
  if (!t.annotations.empty()) o["annotations"] = t.annotations;
  if (!t.icons.empty()) o["icons"] = t.icons;
  if (!t.meta.empty()) o["_meta"] = t.meta;
  return o;
}

json::object resource_json(const Resource& r) {
  json::object o{{"uri", r.uri}, {"name", r.name}};
  put_if(o, "title", r.title);
  put_if(o, "description", r.description);
  put_if(o, "mimeType", r.mime_type);
  if (r.size) o["size"] = *r.size;
  if (!r.annotations.empty()) o["annotations"] = r.annotations;
  if (!r.icons.empty()) o["icons"] = r.icons;
  return o;
}

json::object template_json(const ResourceTemplate& r) {
  json::object o{{"uriTemplate", r.uri_template}, {"name", r.name}};
  put_if(o, "title", r.title);
  put_if(o, "description", r.description);
  put_if(o, "mimeType", r.mime_type);
  if (!r.annotations.empty()) o["annotations"] = r.annotations;
  if (!r.icons.empty()) o["icons"] = r.icons;
  return o;
}

json::object prompt_json(const Prompt& p) {
  json::object o{{"name", p.name}};
  put_if(o, "title", p.title);
  put_if(o, "description", p.description);
  if (!p.arguments.empty()) {
    json::array args;
    for (const auto& a : p.arguments) {
      json::object ao{{"name", a.name}};
      put_if(ao, "title", a.title);
      put_if(ao, "description", a.description);
      ao["required"] = a.required;
      args.push_back(std::move(ao));
    }
    o["arguments"] = std::move(args);
  }
  if (!p.icons.empty()) o["icons"] = p.icons;
  return o;
}

// Which client capability an input request needs (client/elicitation.mdx, sampling.mdx,
// roots.mdx): the server uses a client feature only when the client declared it.
std::string required_capability(const json::object& input_request) {
  auto method = get_string(input_request, "method");
  if (!method) return "";
  if (*method == "sampling/createMessage") return "sampling";
  if (*method == "roots/list") return "roots";
  if (*method == "elicitation/create") {
    const json::value* params = input_request.if_contains("params");
    if (params && params->is_object()) {
      if (auto mode = get_string(params->get_object(), "mode"); mode && *mode == "url") return "elicitation.url";
    }
    return "elicitation";
  }
  return "";
}

// {"elicitation": {"url": {}}} for "elicitation.url": a ClientCapabilities object naming a
// capability path (the shape of -32021's data.requiredCapabilities).
void add_capability_path(json::object& caps, std::string_view path) {
  json::object* node = &caps;
  while (true) {
    auto dot = path.find('.');
    json::value& v = (*node)[path.substr(0, dot)];
    if (!v.is_object()) v = json::object{};
    if (dot == std::string_view::npos) return;
    node = &v.get_object();
    path.remove_prefix(dot + 1);
  }
}

}  // namespace

struct Dispatcher::Impl {
  std::shared_ptr<ServerDefinition> server;
  DispatchOptions options;
  core::WorkerPool& workers;
  core::TimerQueue& timers;

  // Compiled schemas per registered tool, made on first use.
  struct ToolSchemas {
    std::weak_ptr<const Tool> owner;
    std::shared_ptr<const CompiledSchema> input;
    std::shared_ptr<const CompiledSchema> output;
  };
  std::mutex schema_mutex;
  std::map<const Tool*, ToolSchemas> schemas;

  Impl(std::shared_ptr<ServerDefinition> s, DispatchOptions o, core::WorkerPool& w, core::TimerQueue& t)
      : server(std::move(s)), options(o), workers(w), timers(t) {}

  ToolSchemas schemas_for(const std::shared_ptr<const Tool>& tool) {
    std::lock_guard lock(schema_mutex);
    auto it = schemas.find(tool.get());
    if (it != schemas.end() && it->second.owner.lock() == tool) return it->second;
    ToolSchemas s;
    s.owner = tool;
    s.input = CompiledSchema::compile(tool->input_schema, nullptr);
    if (tool->output_schema) s.output = CompiledSchema::compile(*tool->output_schema, nullptr);
    std::erase_if(schemas, [](auto& kv) { return kv.second.owner.expired(); });
    schemas[tool.get()] = s;
    return s;
  }

  // ---- multi-round execution -------------------------------------------------------------

  // One round runs the handler; it either finished the call itself (nullopt) or needs input.
  using Round = std::function<std::optional<InputRequired>()>;
  using Failure = std::function<void(std::string)>;

  void run(std::shared_ptr<CallContext> ctx, Round round, Failure failure, bool inline_ok) {
    auto job = [this, ctx, round, failure] {
      if (ctx->cancelled()) {
        ctx->finish({});
        return;
      }
      std::optional<InputRequired> need = round();
      if (!need) return;
      if (ctx->session()->modern) return_input_required(ctx, std::move(*need), failure);
      else ask_client(ctx, std::move(*need), round, failure);
    };
    if (inline_ok) {
      job();
    } else if (!workers.post(job)) {
      failure("The server is busy; try again shortly.");
    }
  }

  // Modern wire: the server never asks the client itself. The handler's needs go back as an
  // InputRequiredResult with the state sealed, and the client retries with the answers
  // (2026-07-28 basic/patterns/mrtr.mdx).
  void return_input_required(const std::shared_ptr<CallContext>& ctx, InputRequired need, const Failure& failure) {
    // At least one of inputRequests and requestState (MUST).
    if (need.input_requests.empty() && !need.request_state) {
      failure("The handler asked for input without naming any.");
      return;
    }
    auto& session = ctx->session();
    json::object missing;
    for (const auto& [key, value] : need.input_requests) {
      std::string cap = value.is_object() ? required_capability(value.get_object()) : std::string();
      if (cap.empty()) {
        failure("Invalid input request '" + std::string(key) + "'.");
        return;
      }
      if (!session->client_supports(cap)) add_capability_path(missing, cap);
    }
    // Never an input request the client did not declare: -32021 naming what is missing
    // (basic/index.mdx §Per-request protocol fields; MissingRequiredClientCapabilityError).
    if (!missing.empty()) {
      ctx->finish(error_response(ctx->request_id(), rpc::kMissingRequiredClientCapability,
                                 "Missing required client capability",
                                 json::object{{"requiredCapabilities", std::move(missing)}}));
      return;
    }
    json::object result{{"resultType", "input_required"}};
    if (!need.input_requests.empty()) result["inputRequests"] = std::move(need.input_requests);
    if (need.request_state) {
      if (!session->round_trip || !session->round_trip->seal) {
        failure("The server cannot keep request state for this request.");
        return;
      }
      result["requestState"] = session->round_trip->seal(*need.request_state);
    }
    ctx->finish(rpc::make_result(ctx->request_id(), std::move(result)));
  }

  // Modern wire: the client's answers and the verified state of the previous round.
  static void seed_round_trip(CallContext& ctx) {
    const auto& round_trip = ctx.session()->round_trip;
    if (!round_trip) return;
    for (const auto& [key, value] : round_trip->input_responses) ctx.set_input(std::string(key), value);
    ctx.set_request_state(round_trip->request_state);
  }

  // Legacy wire: the server asks the client itself, on the request's own stream (client
  // requests SHOULD relate to the originating request, 2025-11-25 transports.mdx), then runs
  // the handler again with the answers.
  void ask_client(std::shared_ptr<CallContext> ctx, InputRequired need, Round round, Failure failure) {
    if (need.input_requests.empty()) {
      failure("The handler asked for input without naming any.");
      return;
    }
    if (++ctx->rounds > options.max_input_rounds) {
      failure("The handler asked for input too many times.");
      return;
    }
    auto& session = ctx->session();
    session->track(ctx->request_id(), ctx);  // now it can be cancelled while the client answers
    for (const auto& [key, value] : need.input_requests) {
      if (!value.is_object()) {
        failure("Invalid input request '" + std::string(key) + "'.");
        return;
      }
      std::string cap = required_capability(value.get_object());
      if (cap.empty()) {
        failure("Unsupported input request method in '" + std::string(key) + "'.");
        return;
      }
      if (!session->client_supports(cap)) {
        failure("This operation needs the client capability '" + cap + "', which the client did not declare.");
        return;
      }
    }
    ctx->set_request_state(need.request_state);

    struct Pending {
      std::mutex mutex;
      std::size_t remaining;
      std::string error;
    };
    auto pending = std::make_shared<Pending>();
    pending->remaining = need.input_requests.size();

    for (const auto& [key, value] : need.input_requests) {
      const json::object& req = value.get_object();
      json::object params;
      if (const json::value* p = req.if_contains("params"); p && p->is_object()) params = p->get_object();
      std::string method(req.at("method").get_string());
      rpc::Id id = session->next_outbound_id();
      std::string input_key(key);
      auto on_reply = [this, ctx, pending, input_key, round, failure](Result<json::value> reply) {
        bool last;
        {
          std::lock_guard lock(pending->mutex);
          if (reply) ctx->set_input(input_key, std::move(*reply));
          else if (pending->error.empty()) pending->error = reply.error().message;
          last = --pending->remaining == 0;
        }
        if (!last) return;
        if (!pending->error.empty()) {
          failure("The client did not answer the server's request: " + pending->error);
          return;
        }
        run(ctx, round, failure, false);
      };
      std::weak_ptr<Session> weak = session;
      auto timer = timers.schedule(core::TimerQueue::Clock::now() + options.client_request_timeout, [weak, id] {
        if (auto s = weak.lock())
          if (auto r = s->take_reply(id)) r->first(fail(rpc::kInternalError, "timed out"));
      });
      session->await_reply(id, std::move(on_reply), timer);
      ctx->send_related(rpc::make_request(id, method, std::move(params)));
    }
  }

  // ---- tools --------------------------------------------------------------------------

  json::object tool_result_json(const Tool& tool, const ToolSchemas& schemas, ToolResult r, const Session& session) {
    if (!r.is_error && schemas.output) {
      // A tool that declares outputSchema MUST return conforming structuredContent
      // (server/tools.mdx §Output Schema); a violation is the tool's bug, reported as an error
      // result rather than sent on.
      if (!r.structured) {
        r = ToolResult::error("Tool '" + tool.name + "' returned no structured content although it declares an output schema.");
      } else if (auto errors = schemas.output->validate(*r.structured); !errors.empty()) {
        r = ToolResult::error("Tool '" + tool.name + "' returned output that does not match its output schema: " + errors.front());
      }
    }
    // Legacy revisions require structuredContent to be an object (2025-06-18, 2025-11-25).
    if (r.structured && !session.modern && !r.structured->is_object()) {
      if (r.content.empty()) r.content.push_back(content::text(json::serialize(*r.structured)));
      r.structured.reset();
    }
    if (r.content.empty() && r.structured) r.content.push_back(content::text(json::serialize(*r.structured)));
    json::object o{{"content", std::move(r.content)}};
    if (r.structured) o["structuredContent"] = std::move(*r.structured);
    if (r.is_error) o["isError"] = true;
    if (!r.meta.empty()) o["_meta"] = std::move(r.meta);
    return o;
  }

  void tools_call(const std::shared_ptr<Session>& session, rpc::Request& req, std::shared_ptr<Outbound> out,
                  std::optional<json::value> progress_token) {
    auto name = get_string(req.params, "name");
    if (!name) {
      out->respond(error_response(req.id, rpc::kInvalidParams, "Invalid params: 'name' must be a string"));
      return;
    }
    auto tool = server->find_tool(*name);
    if (!tool) {
      out->respond(error_response(req.id, rpc::kInvalidParams, "Unknown tool: " + *name));
      return;
    }
    out->tool_found();
    json::object args;
    if (json::value* a = req.params.if_contains("arguments"); a && !a->is_null()) {
      if (!a->is_object()) {
        out->respond(error_response(req.id, rpc::kInvalidParams, "Invalid params: 'arguments' must be an object"));
        return;
      }
      args = std::move(a->get_object());
    }
    auto ctx = std::make_shared<CallContext>(session, req.id, std::move(out), std::move(progress_token));
    // An inline handler runs to completion right here and cannot be cancelled midway, so it
    // needs no entry in the in-flight table (the hot path of cheap tools); ask_client tracks
    // the call when it turns out to need another round.
    if (!tool->inline_handler) session->track(req.id, ctx);
    seed_round_trip(*ctx);
    ToolSchemas schemas = schemas_for(tool);
    auto finish_tool = [this, ctx, tool, schemas](ToolResult r) {
      ctx->finish(rpc::make_result(ctx->request_id(), tool_result_json(*tool, schemas, std::move(r), *ctx->session())));
    };
    // Argument validation failures are tool errors the model can correct (SEP-1303), not
    // protocol errors.
    if (schemas.input) {
      if (auto errors = schemas.input->validate(args); !errors.empty()) {
        std::string msg = "Invalid arguments for tool '" + tool->name + "':";
        for (const auto& e : errors) msg += "\n- " + e;
        finish_tool(ToolResult::error(std::move(msg)));
        return;
      }
    }
    Round round = [ctx, tool, args, finish_tool]() -> std::optional<InputRequired> {
      ToolOutcome outcome;
      // The barrier around user code: an exception becomes an error result the model sees, never
      // a dropped connection (DESIGN.md §5).
      try {
        outcome = tool->handler(args, *ctx);
      } catch (const std::exception& e) {
        finish_tool(ToolResult::error("Tool '" + tool->name + "' failed: " + e.what()));
        return std::nullopt;
      } catch (...) {
        finish_tool(ToolResult::error("Tool '" + tool->name + "' failed."));
        return std::nullopt;
      }
      if (auto* need = std::get_if<InputRequired>(&outcome)) return std::move(*need);
      finish_tool(std::move(std::get<ToolResult>(outcome)));
      return std::nullopt;
    };
    run(ctx, std::move(round), [finish_tool](std::string msg) { finish_tool(ToolResult::error(std::move(msg))); },
        tool->inline_handler);
  }

  // ---- resources ----------------------------------------------------------------------

  json::object not_found(const rpc::Id& id, const Session& session, const std::string& uri) {
    // -32002 on the legacy wire (server/resources.mdx §Error Handling); 2026-07-28 uses -32602.
    int code = session.modern ? rpc::kInvalidParams : rpc::kResourceNotFound;
    return error_response(id, code, "Resource not found: " + uri, json::object{{"uri", uri}});
  }

  void resources_read(const std::shared_ptr<Session>& session, const rpc::Request& req, std::shared_ptr<Outbound> out,
                      std::optional<json::value> progress_token) {
    auto uri = get_string(req.params, "uri");
    if (!uri) {
      out->respond(error_response(req.id, rpc::kInvalidParams, "Invalid params: 'uri' must be a string"));
      return;
    }
    std::function<ReadOutcome(RequestContext&)> reader;
    if (auto res = server->find_resource(*uri)) {
      reader = [res](RequestContext& c) { return res->read(c); };
    } else {
      for (const auto& t : server->resource_templates()) {
        if (auto vars = match_uri_template(t->uri_template, *uri)) {
          reader = [t, vars = std::move(*vars), u = *uri](RequestContext& c) { return t->read(u, vars, c); };
          break;
        }
      }
    }
    if (!reader) {
      out->respond(not_found(req.id, *session, *uri));
      return;
    }
    auto ctx = std::make_shared<CallContext>(session, req.id, std::move(out), std::move(progress_token));
    session->track(req.id, ctx);
    seed_round_trip(*ctx);
    auto fail_call = [ctx](std::string msg) {
      ctx->finish(error_response(ctx->request_id(), rpc::kInternalError, msg));
    };
    Round round = [this, ctx, reader, u = *uri, fail_call]() -> std::optional<InputRequired> {
      ReadOutcome outcome;
      try {
        outcome = reader(*ctx);
      } catch (const std::exception& e) {
        fail_call(std::string("Reading the resource failed: ") + e.what());
        return std::nullopt;
      }
      if (auto* need = std::get_if<InputRequired>(&outcome)) return std::move(*need);
      if (std::holds_alternative<ResourceNotFound>(outcome)) {
        ctx->finish(not_found(ctx->request_id(), *ctx->session(), u));
        return std::nullopt;
      }
      ctx->finish(rpc::make_result(ctx->request_id(),
                                   json::object{{"contents", std::get<ResourceContents>(outcome).contents}}));
      return std::nullopt;
    };
    run(ctx, std::move(round), fail_call, false);
  }

  // ---- prompts ------------------------------------------------------------------------

  void prompts_get(const std::shared_ptr<Session>& session, const rpc::Request& req, std::shared_ptr<Outbound> out,
                   std::optional<json::value> progress_token) {
    auto name = get_string(req.params, "name");
    if (!name) {
      out->respond(error_response(req.id, rpc::kInvalidParams, "Invalid params: 'name' must be a string"));
      return;
    }
    auto prompt = server->find_prompt(*name);
    if (!prompt) {
      out->respond(error_response(req.id, rpc::kInvalidParams, "Unknown prompt: " + *name));
      return;
    }
    std::map<std::string, std::string> args;
    if (const json::value* a = req.params.if_contains("arguments"); a && !a->is_null()) {
      if (!a->is_object()) {
        out->respond(error_response(req.id, rpc::kInvalidParams, "Invalid params: 'arguments' must be an object"));
        return;
      }
      for (const auto& [k, v] : a->get_object()) {
        if (!v.is_string()) {
          out->respond(error_response(req.id, rpc::kInvalidParams,
                                      "Invalid params: prompt argument '" + std::string(k) + "' must be a string"));
          return;
        }
        args.emplace(std::string(k), std::string(v.get_string()));
      }
    }
    for (const auto& arg : prompt->arguments) {
      if (arg.required && !args.contains(arg.name)) {
        out->respond(error_response(req.id, rpc::kInvalidParams, "Missing required argument: " + arg.name));
        return;
      }
    }
    auto ctx = std::make_shared<CallContext>(session, req.id, std::move(out), std::move(progress_token));
    session->track(req.id, ctx);
    seed_round_trip(*ctx);
    auto fail_call = [ctx](std::string msg) {
      ctx->finish(error_response(ctx->request_id(), rpc::kInternalError, msg));
    };
    Round round = [ctx, prompt, args, fail_call]() -> std::optional<InputRequired> {
      PromptOutcome outcome;
      try {
        outcome = prompt->get(args, *ctx);
      } catch (const std::exception& e) {
        fail_call(std::string("Getting the prompt failed: ") + e.what());
        return std::nullopt;
      }
      if (auto* need = std::get_if<InputRequired>(&outcome)) return std::move(*need);
      auto& r = std::get<PromptResult>(outcome);
      json::object o{{"messages", std::move(r.messages)}};
      if (!r.description.empty()) o["description"] = r.description;
      ctx->finish(rpc::make_result(ctx->request_id(), std::move(o)));
      return std::nullopt;
    };
    run(ctx, std::move(round), fail_call, false);
  }

  // ---- completion ---------------------------------------------------------------------

  json::object complete(const rpc::Request& req) {
    const json::value* ref = req.params.if_contains("ref");
    const json::value* argument = req.params.if_contains("argument");
    if (!ref || !ref->is_object() || !argument || !argument->is_object())
      return error_response(req.id, rpc::kInvalidParams, "Invalid params: 'ref' and 'argument' are required");
    auto arg_name = get_string(argument->get_object(), "name");
    auto arg_value = get_string(argument->get_object(), "value");
    auto type = get_string(ref->get_object(), "type");
    if (!arg_name || !arg_value || !type)
      return error_response(req.id, rpc::kInvalidParams, "Invalid params: malformed 'ref' or 'argument'");
    std::map<std::string, std::string> context_args;
    if (const json::value* c = req.params.if_contains("context"); c && c->is_object())
      if (const json::value* a = c->get_object().if_contains("arguments"); a && a->is_object())
        for (const auto& [k, v] : a->get_object())
          if (v.is_string()) context_args.emplace(std::string(k), std::string(v.get_string()));

    std::vector<std::string> values;
    if (*type == "ref/prompt") {
      auto name = get_string(ref->get_object(), "name");
      auto prompt = name ? server->find_prompt(*name) : nullptr;
      if (!prompt) return error_response(req.id, rpc::kInvalidParams, "Unknown prompt in completion reference");
      if (prompt->complete) values = prompt->complete(*arg_name, *arg_value, context_args);
    } else if (*type == "ref/resource") {
      auto uri = get_string(ref->get_object(), "uri");
      std::shared_ptr<const ResourceTemplate> found;
      if (uri)
        for (const auto& t : server->resource_templates())
          if (t->uri_template == *uri) found = t;
      if (!found) return error_response(req.id, rpc::kInvalidParams, "Unknown resource template in completion reference");
      if (found->complete) values = found->complete(*arg_name, *arg_value);
    } else {
      return error_response(req.id, rpc::kInvalidParams, "Invalid params: unknown reference type");
    }
    // At most 100 values per response (server/utilities/completion.mdx).
    json::array out;
    for (std::size_t i = 0; i < values.size() && i < 100; ++i) out.emplace_back(values[i]);
    json::object completion{{"values", std::move(out)}, {"total", values.size()}, {"hasMore", values.size() > 100}};
    return rpc::make_result(req.id, json::object{{"completion", std::move(completion)}});
  }

  // ---- lists --------------------------------------------------------------------------

  // The entries `session`'s principal may use (DispatchOptions::may_use), before pagination so
  // cursors count what the client sees.
  template <class T, class Name>
  std::vector<std::shared_ptr<const T>> visible(const Principal* who, const std::vector<std::shared_ptr<const T>>& items,
                                                ListedKind kind, Name name) const {
    std::vector<std::shared_ptr<const T>> out;
    out.reserve(items.size());
    for (const auto& item : items)
      if (options.may_use(who, kind, name(*item))) out.push_back(item);
    return out;
  }

  // `who`: the request's own principal when the transport knows it (Outbound::caller), else
  // the session's, so a client that stepped up its token sees what the new token allows.
  template <class T, class ToJson, class Name>
  json::object list(const Principal* who, const rpc::Request& req, const std::vector<std::shared_ptr<const T>>& all,
                    std::string_view key, ToJson to_json, ListedKind kind, Name name) {
    if (!options.may_use) return list(req, all, key, to_json);
    return list(req, visible(who, all, kind, name), key, to_json);
  }

  template <class T, class ToJson>
  json::object list(const rpc::Request& req, const std::vector<std::shared_ptr<const T>>& items, std::string_view key,
                    ToJson to_json) {
    std::size_t offset = 0;
    if (const json::value* c = req.params.if_contains("cursor"); c && !c->is_null()) {
      auto decoded = c->is_string() ? decode_cursor(c->get_string()) : std::nullopt;
      // An invalid cursor SHOULD get -32602 (pagination.mdx).
      if (!decoded || *decoded > items.size()) return error_response(req.id, rpc::kInvalidParams, "Invalid cursor");
      offset = *decoded;
    }
    json::array page;
    std::size_t end = std::min(items.size(), offset + options.page_size);
    for (std::size_t i = offset; i < end; ++i) page.push_back(to_json(*items[i]));
    json::object result{{key, std::move(page)}};
    if (end < items.size()) result["nextCursor"] = encode_cursor(end);
    return rpc::make_result(req.id, std::move(result));
  }
};

json::object server_info_json(const ServerInfo& info) {
  json::object o{{"name", info.name}, {"version", info.version}};
  put_if(o, "title", info.title);
  put_if(o, "description", info.description);
  put_if(o, "websiteUrl", info.website_url);
  if (!info.icons.empty()) o["icons"] = info.icons;
  return o;
}

Dispatcher::Dispatcher(std::shared_ptr<ServerDefinition> server, DispatchOptions options, core::WorkerPool& workers,
                       core::TimerQueue& timers)
    : server_(server), impl_(std::make_unique<Impl>(std::move(server), options, workers, timers)) {}

Dispatcher::~Dispatcher() = default;

json::object Dispatcher::capabilities() const {
  json::object caps;
  // Declare only what the route serves (lifecycle.mdx §Capability Negotiation).
  if (server_->has_tools()) caps["tools"] = json::object{{"listChanged", true}};
  if (server_->has_resources()) caps["resources"] = json::object{{"subscribe", true}, {"listChanged", true}};
  if (server_->has_prompts()) caps["prompts"] = json::object{{"listChanged", true}};
  if (server_->logging) caps["logging"] = json::object{};
  if (server_->has_completions()) caps["completions"] = json::object{};
  return caps;
}

Result<json::object> Dispatcher::initialize(Session& session, const json::object& params) {
  auto requested = get_string(params, "protocolVersion");
  if (!requested) return fail(rpc::kInvalidParams, "Invalid params: 'protocolVersion' must be a string");
  // Answer with the client's version when supported, else the latest we speak (lifecycle.mdx
  // §Version Negotiation); the client decides whether to continue.
  session.protocol_version = is_legacy_version(*requested) ? *requested : std::string(kLatestLegacyVersion);
  if (const json::value* c = params.if_contains("capabilities"); c && c->is_object())
    session.client_capabilities = c->get_object();
  if (const json::value* c = params.if_contains("clientInfo"); c && c->is_object()) session.client_info = c->get_object();
  session.mark_initialize_seen();

  json::object result{{"protocolVersion", session.protocol_version},
                      {"capabilities", capabilities()},
                      {"serverInfo", server_info_json(server_->info)}};
  if (!server_->instructions.empty()) result["instructions"] = server_->instructions;
  return result;
}

void Dispatcher::handle_request(const std::shared_ptr<Session>& session, rpc::Request req,
                                std::shared_ptr<Outbound> out) {
  session->touch();
  const std::string& m = req.method;
  std::optional<json::value> progress_token;
  if (const json::value* meta = req.params.if_contains("_meta"); meta && meta->is_object())
    if (const json::value* t = meta->get_object().if_contains("progressToken"); t && (t->is_string() || t->is_number()))
      progress_token = *t;

  auto reply = [&](json::object response) { out->respond(std::move(response)); };
  auto not_served = [&] { reply(error_response(req.id, rpc::kMethodNotFound, "Method not found: " + m)); };

  if (m == "ping") return reply(rpc::make_result(req.id, json::object{}));
  if (m == "initialize")
    return reply(error_response(req.id, rpc::kInvalidRequest, "Invalid Request: the session is already initialized"));
  if (m == "tools/list") {
    if (!server_->has_tools()) return not_served();
    return reply(impl_->list(out->caller() ? out->caller() : session->principal, req, server_->tools(), "tools", tool_json, ListedKind::tool,
                              [](const Tool& t) -> std::string_view { return t.name; }));
  }
  if (m == "tools/call") {
    if (!server_->has_tools()) return not_served();
    return impl_->tools_call(session, req, std::move(out), std::move(progress_token));
  }
  if (m == "resources/list") {
    if (!server_->has_resources()) return not_served();
    return reply(impl_->list(out->caller() ? out->caller() : session->principal, req, server_->resources(), "resources", resource_json, ListedKind::resource,
                              [](const Resource& r) -> std::string_view { return r.uri; }));
  }
  if (m == "resources/templates/list") {
    if (!server_->has_resources()) return not_served();
    return reply(impl_->list(out->caller() ? out->caller() : session->principal, req, server_->resource_templates(), "resourceTemplates", template_json,
                              ListedKind::resource_template,
                              [](const ResourceTemplate& t) -> std::string_view { return t.uri_template; }));
  }
  if (m == "resources/read") {
    if (!server_->has_resources()) return not_served();
    return impl_->resources_read(session, req, std::move(out), std::move(progress_token));
  }
  if (m == "resources/subscribe" || m == "resources/unsubscribe") {
    if (!server_->has_resources()) return not_served();
    auto uri = get_string(req.params, "uri");
    if (!uri) return reply(error_response(req.id, rpc::kInvalidParams, "Invalid params: 'uri' must be a string"));
    if (m == "resources/subscribe") session->subscribe(*uri);
    else session->unsubscribe(*uri);
    return reply(rpc::make_result(req.id, json::object{}));
  }
  if (m == "prompts/list") {
    if (!server_->has_prompts()) return not_served();
    return reply(impl_->list(out->caller() ? out->caller() : session->principal, req, server_->prompts(), "prompts", prompt_json, ListedKind::prompt,
                              [](const Prompt& p) -> std::string_view { return p.name; }));
  }
  if (m == "prompts/get") {
    if (!server_->has_prompts()) return not_served();
    return impl_->prompts_get(session, req, std::move(out), std::move(progress_token));
  }
  if (m == "completion/complete") {
    if (!server_->has_completions()) return not_served();
    return reply(impl_->complete(req));
  }
  if (m == "logging/setLevel") {
    if (!server_->logging) return not_served();
    auto level_text = get_string(req.params, "level");
    auto level = level_text ? parse_log_level(*level_text) : std::nullopt;
    if (!level) return reply(error_response(req.id, rpc::kInvalidParams, "Invalid params: unknown log level"));
    session->set_log_level(*level);
    return reply(rpc::make_result(req.id, json::object{}));
  }
  not_served();
}

void Dispatcher::handle_notification(const std::shared_ptr<Session>& session, const rpc::Notification& note) {
  session->touch();
  if (note.method == "notifications/initialized") {
    session->mark_initialized();
  } else if (note.method == "notifications/cancelled") {
    // Unknown or finished ids are ignored (cancellation.mdx: MAY ignore; MUST handle the race).
    if (const json::value* id = note.params.if_contains("requestId"))
      if (auto parsed = rpc::Id::from_json(*id))
        if (auto call = session->find_call(*parsed)) {
          call->cancel();
          // A call waiting for the client (or for a worker) has nobody else to notice.
          call->finish({});
        }
  }
  // notifications/roots/list_changed and anything unknown: nothing to do; notifications are
  // never answered, not even with an error (item 4).
}

void Dispatcher::handle_response(const std::shared_ptr<Session>& session, const rpc::Response& response) {
  session->touch();
  auto pending = session->take_reply(response.id);
  if (!pending) return;  // late or unknown answer: its request already timed out or never existed
  impl_->timers.cancel(pending->second);
  if (response.error) {
    std::string message = "error";
    if (const json::value* m = response.error->if_contains("message"); m && m->is_string())
      message = std::string(m->get_string());
    pending->first(fail(rpc::kInternalError, message));
  } else {
    pending->first(response.result);
  }
}

}  // namespace bastion::mcp
