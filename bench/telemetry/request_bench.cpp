// What telemetry costs one request, on one thread, without the network: the calls the pipeline
// makes for a sessionful tools/call (observe, era/version/session/principal, the MCP operation,
// the response) against an exchange that answers nowhere. The figures isolate what
// bench/run.sh's bastion-observed target adds to every request. Prints figures; asserts nothing.
//
// bench/telemetry/run.sh runs it with standard error going to a file (the request lines go
// there, as they do in production). BENCH_SAMPLE_RATIO sets the trace sample ratio (0.1, the
// bench/run.sh setting, by default; 1 shows what one sampled request costs).
//
// BENCH_EVICT_KIB=N writes N KiB of other memory before each request, as the network stack and
// the rest of the server do between two requests in a loaded server: it shows what telemetry
// costs with cold caches (its code and data fetched again each time): two to three times the
// warm figure at 512 KiB. parts:0 then measures the eviction itself; subtract it.
#include <benchmark/benchmark.h>

#include <boost/json.hpp>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "http/exchange.hpp"
#include "telemetry/log.hpp"
#include "telemetry/telemetry.hpp"

// Heap allocations, counted: each one is a malloc and a free (often on another thread), the
// largest part of what a request's telemetry costs.
std::atomic<std::uint64_t> g_allocations{0};

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
// The pair of the operator new above (which takes its memory from malloc); GCC cannot see that.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace {

namespace json = boost::json;
using namespace bastion;

class NullExchange final : public http::Exchange {
 public:
  explicit NullExchange(const http::Request& request) : request_(request) {}
  const http::Request& request() const override { return request_; }
  void do_respond(http::Response response) override { benchmark::DoNotOptimize(response.body.data()); }
  void do_start_stream(int, http::Headers, std::chrono::milliseconds) override {}
  void do_write(std::string) override {}
  void do_finish() override {}
  void on_peer_closed(std::function<void()>) override {}
  bool peer_closed() const override { return false; }

 private:
  const http::Request& request_;
};

http::Request tools_call_request() {
  http::Request r;
  r.method = "POST";
  r.target = r.path = "/mcp";
  r.headers.add("Host", "127.0.0.1:8080");
  r.headers.add("Content-Type", "application/json");
  r.headers.add("Accept", "application/json, text/event-stream");
  r.headers.add("Mcp-Session-Id", "80079587fa3042522ea799027e695026");
  r.headers.add("MCP-Protocol-Version", "2025-06-18");
  r.body = R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}})";
  r.remote_address = "127.0.0.1";
  return r;
}

// A collector that accepts every batch at once (the cost of building a batch stays in).
http::Fetcher accepting_collector() {
  return [](const http::ClientRequest&, const http::ClientOptions&) -> Result<http::ClientResponse> {
    http::ClientResponse response;
    response.status = 200;
    return response;
  };
}

enum Parts : int { kLog = 1, kMetrics = 2, kTracing = 4 };

void BM_Request(benchmark::State& state) {
  const int parts = static_cast<int>(state.range(0));
  telemetry::TelemetryOptions options;
  options.request_log = parts & kLog;
  options.metrics = parts & kMetrics;
  options.tracing.enabled = parts & kTracing;
  options.tracing.sample_ratio = std::getenv("BENCH_SAMPLE_RATIO") ? std::atof(std::getenv("BENCH_SAMPLE_RATIO")) : 0.1;
  telemetry::Telemetry telemetry(options, accepting_collector());
  telemetry::RouteTag route;
  route.route = "/mcp";
  const http::Request request = tools_call_request();
  const json::object params = json::parse(R"({"name":"echo","arguments":{"message":"hello"}})").as_object();
  const json::object answer =
      json::parse(R"({"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"hello"}]}})").as_object();
  const std::string body = json::serialize(answer);
  // The transport makes a session's digest once, when the session is created.
  const telemetry::SessionDigest digest = telemetry::session_digest("80079587fa3042522ea799027e695026");
  const char* evict_kib = std::getenv("BENCH_EVICT_KIB");
  std::vector<char> evict(evict_kib ? std::strtoul(evict_kib, nullptr, 10) * 1024 : 0);
  const std::uint64_t allocations_before = g_allocations.load();
  for (auto _ : state) {
    for (std::size_t i = 0; i < evict.size(); i += 64) evict[i] = static_cast<char>(evict[i] + 1);
    benchmark::ClobberMemory();
    std::shared_ptr<http::Exchange> exchange = std::make_shared<NullExchange>(request);
    telemetry.observe(*exchange, route);
    if (auto record = telemetry::record_of(*exchange)) record->set_session("session", "2025-06-18", digest, nullptr);
    auto op = telemetry::begin_operation(*exchange, "tools/call", params);
    if (op) op->tool_found();  // what the dispatcher reports when it finds the tool
    if (op) op->end(answer);
    http::Response response;
    response.headers.set("Content-Type", "application/json");
    response.body = body;
    exchange->respond(std::move(response));
  }
  state.SetItemsProcessed(state.iterations());
  // Includes the exporter thread's (batches of the sampled spans) and the exchange's one.
  state.counters["allocs_per_request"] =
      static_cast<double>(g_allocations.load() - allocations_before) / static_cast<double>(state.iterations());
}

}  // namespace

// Process CPU time: the OTLP export thread's work is part of what telemetry costs.
BENCHMARK(BM_Request)
    ->MeasureProcessCPUTime()
    ->ArgName("parts")
    ->Arg(0)
    ->Arg(kLog)
    ->Arg(kMetrics)
    ->Arg(kTracing)
    ->Arg(kLog | kMetrics | kTracing);

int main(int argc, char** argv) {
  bastion::telemetry::LoggingOptions logging;
  logging.format = bastion::telemetry::LogFormat::json;
  bastion::telemetry::setup_logging(logging);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
