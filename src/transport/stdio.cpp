#include "transport/stdio.hpp"

#include <istream>
#include <mutex>
#include <ostream>

#include "core/worker_pool.hpp"
#include "jsonrpc/error_codes.hpp"
#include "mcp/dispatcher.hpp"

namespace bastion::transport {

namespace rpc = jsonrpc;
namespace json = boost::json;

namespace {

// stdout carries only MCP messages, one per line (transports.mdx §stdio); writes from handler
// threads are serialised so lines never interleave.
class LineWriter {
 public:
  explicit LineWriter(std::ostream& out) : out_(out) {}
  void write(const json::value& message) {
    std::string line = rpc::serialize(message);
    line += '\n';
    std::lock_guard lock(mutex_);
    out_ << line;
    out_.flush();
  }

 private:
  std::mutex mutex_;
  std::ostream& out_;
};

class StdioOutbound final : public mcp::Outbound {
 public:
  explicit StdioOutbound(LineWriter& writer) : writer_(writer) {}
  void send(json::object message) override { writer_.write(message); }
  void respond(json::object response) override { writer_.write(response); }

 private:
  LineWriter& writer_;
};

// Reads one line of at most `limit` bytes. Returns false at end of input; sets `too_long` (and
// skips the rest of the line) when the limit was exceeded.
bool read_line(std::istream& in, std::string& line, std::size_t limit, bool& too_long) {
  line.clear();
  too_long = false;
  std::streambuf* buf = in.rdbuf();
  for (;;) {
    int c = buf->sbumpc();
    if (c == std::char_traits<char>::eof()) return !line.empty() || too_long;
    if (c == '\n') return true;
    if (line.size() >= limit) {
      too_long = true;
      continue;
    }
    line.push_back(static_cast<char>(c));
  }
}

}  // namespace

int run_stdio(std::shared_ptr<ServerDefinition> server, const StdioOptions& options, std::istream& in,
              std::ostream& out) {
  LineWriter writer(out);
  core::WorkerPool workers(options.worker_threads, 10000);
  core::TimerQueue timers;
  mcp::Dispatcher dispatcher(server, mcp::DispatchOptions{}, workers, timers);
  auto session = std::make_shared<mcp::Session>("stdio");
  auto outbound = std::make_shared<StdioOutbound>(writer);
  session->set_unsolicited_sink([&writer](json::object m) { writer.write(m); });
  server->subscribe(session);

  std::string line;
  bool too_long = false;
  while (read_line(in, line, options.max_line_bytes, too_long)) {
    if (too_long) {
      writer.write(rpc::make_error(std::nullopt, rpc::kInvalidRequest, "Invalid Request: message too large"));
      continue;
    }
    if (line.empty() || line == "\r") continue;
    auto parsed = rpc::parse(line);
    if (!parsed) {
      writer.write(rpc::make_error(std::nullopt, rpc::kParseError, parsed.error().message));
      continue;
    }
    std::optional<rpc::Id> id;
    auto message = rpc::decode(*parsed, &id);
    if (!message) {
      writer.write(rpc::make_error(id, message.error().code, message.error().message));
      continue;
    }
    if (auto* r = std::get_if<rpc::Request>(&*message)) {
      if (r->method == "initialize" && !session->initialize_seen()) {
        auto result = dispatcher.initialize(*session, r->params);
        writer.write(result ? rpc::make_result(r->id, std::move(*result))
                            : rpc::make_error(r->id, result.error().code, result.error().message));
        continue;
      }
      dispatcher.handle_request(session, std::move(*r), outbound);
    } else if (auto* n = std::get_if<rpc::Notification>(&*message)) {
      dispatcher.handle_notification(session, *n);
    } else {
      dispatcher.handle_response(session, std::get<rpc::Response>(*message));
    }
  }
  // End of input: let queued handlers finish and write their answers, then stop.
  workers.stop();
  session->close();
  timers.stop();
  return 0;
}

}  // namespace bastion::transport
