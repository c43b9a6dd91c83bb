// The outbound client (client.hpp). An io_context runs a coroutine that does
// resolve -> policy check -> connect -> (TLS) -> write -> read, hop by hop; the whole call is
// bounded by one deadline: the stream's expiry covers connect, handshake, write and read, and
// run_until() covers the resolver, which has no timeout of its own. fetch() makes a private
// io_context per call and closes its connection; KeepAliveClient keeps both between calls.
#include "http/client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace bastion::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

namespace {

Error client_error(ClientErrorCode code, std::string message) {
  return Error{static_cast<int>(code), std::move(message), 502};
}

bool in_v4(std::uint32_t address, std::uint32_t network, int prefix) {
  const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
  return (address & mask) == (network & mask);
}

constexpr std::uint32_t v4(unsigned a, unsigned b, unsigned c, unsigned d) { return (a << 24) | (b << 16) | (c << 8) | d; }

bool v4_loopback(std::uint32_t a) { return in_v4(a, v4(127, 0, 0, 0), 8); }

// Special-purpose IPv4 ranges (RFC 6890 registry) that an untrusted URL must never reach:
// "this network", private (RFC 1918), shared CGNAT (RFC 6598), link-local (RFC 3927, home of
// cloud metadata services), IETF protocol assignments, documentation, benchmarking, multicast,
// reserved and broadcast. Loopback is reported separately.
bool v4_special(std::uint32_t a) {
  static constexpr struct {
    std::uint32_t network;
    int prefix;
  } ranges[] = {
      {v4(0, 0, 0, 0), 8},      {v4(10, 0, 0, 0), 8},     {v4(100, 64, 0, 0), 10}, {v4(169, 254, 0, 0), 16},
      {v4(172, 16, 0, 0), 12},  {v4(192, 0, 0, 0), 24},   {v4(192, 0, 2, 0), 24},  {v4(192, 88, 99, 0), 24},
      {v4(192, 168, 0, 0), 16}, {v4(198, 18, 0, 0), 15},  {v4(198, 51, 100, 0), 24}, {v4(203, 0, 113, 0), 24},
      {v4(224, 0, 0, 0), 4},    {v4(240, 0, 0, 0), 4},
  };
  for (const auto& range : ranges) {
    if (in_v4(a, range.network, range.prefix)) return true;
  }
  return false;
}

bool v4_allowed(std::uint32_t a, AddressPolicy policy) {
  if (policy == AddressPolicy::any) return true;
  if (v4_loopback(a)) return policy == AddressPolicy::public_or_loopback;
  return !v4_special(a);
}

std::uint32_t embedded_v4(const asio::ip::address_v6::bytes_type& b, std::size_t offset) {
  return (std::uint32_t{b[offset]} << 24) | (std::uint32_t{b[offset + 1]} << 16) | (std::uint32_t{b[offset + 2]} << 8) |
         std::uint32_t{b[offset + 3]};
}

bool v6_allowed(const asio::ip::address_v6& address, AddressPolicy policy) {
  if (policy == AddressPolicy::any) return true;
  const auto b = address.to_bytes();
  // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::/96, RFC 6052) carry an IPv4 destination:
  // judge that one, or ::ffff:127.0.0.1 would walk around every IPv4 rule.
  if (address.is_v4_mapped()) return v4_allowed(embedded_v4(b, 12), policy);
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b &&
      std::all_of(b.begin() + 4, b.begin() + 12, [](unsigned char x) { return x == 0; })) {
    return v4_allowed(embedded_v4(b, 12), policy);
  }
  // 6to4 (2002::/16, RFC 3056) embeds an IPv4 address in bits 16-47.
  if (b[0] == 0x20 && b[1] == 0x02) return v4_allowed(embedded_v4(b, 2), policy);
  if (address.is_loopback()) return policy == AddressPolicy::public_or_loopback;
  if (address.is_unspecified() || address.is_multicast() || address.is_link_local() || address.is_site_local()) {
    return false;
  }
  if ((b[0] & 0xfe) == 0xfc) return false;                                    // unique local fc00::/7
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return false;  // documentation
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00) return false;  // Teredo
  // The rest of ::/8 (IPv4-compatible and other reserved forms) is not a public destination.
  if (b[0] == 0x00) return false;
  return true;
}

bool allowed(const asio::ip::address& address, AddressPolicy policy) {
  if (address.is_v4()) return v4_allowed(address.to_v4().to_uint(), policy);
  return v6_allowed(address.to_v6(), policy);
}

bool is_loopback(const asio::ip::address& address) {
  if (address.is_v4()) return v4_loopback(address.to_v4().to_uint());
  const auto v6 = address.to_v6();
  return v6.is_loopback() || (v6.is_v4_mapped() && v4_loopback(embedded_v4(v6.to_bytes(), 12)));
}

// One TLS client context per CA file: loading the system trust store takes milliseconds, and a
// context is safe to share once configured.
std::shared_ptr<ssl::context> tls_context(const std::string& ca_file) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<ssl::context>> contexts;
  std::lock_guard lock(mutex);
  auto& slot = contexts[ca_file];
  if (!slot) {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    context->set_verify_mode(ssl::verify_peer);
    boost::system::error_code ec;
    context->set_default_verify_paths(ec);  // a missing system store leaves only ca_file
    if (!ca_file.empty()) {
      context->load_verify_file(ca_file, ec);
      if (ec) return nullptr;
    }
    slot = std::move(context);
  }
  return slot;
}

struct Target {
  bool https = false;
  std::string host;       // without brackets
  std::string host_header;
  std::string port;
  std::string path;       // origin-form: path and query
  std::string url;
};

Result<Target> parse_target(const std::string& text) {
  auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed) return std::unexpected(client_error(ClientErrorCode::bad_url, "not an absolute URL"));
  const auto& url = *parsed;
  Target target;
  const std::string scheme = std::string(url.scheme());
  if (scheme == "https") {
    target.https = true;
  } else if (scheme != "http") {
    return std::unexpected(client_error(ClientErrorCode::scheme_refused, "only http and https URLs are fetched"));
  }
  if (!url.has_authority() || url.host().empty()) {
    return std::unexpected(client_error(ClientErrorCode::bad_url, "URL has no host"));
  }
  // Credentials in the URL would be sent nowhere and only leak into logs: refuse them.
  if (url.has_userinfo()) return std::unexpected(client_error(ClientErrorCode::bad_url, "URL carries credentials"));
  target.host = url.host_type() == boost::urls::host_type::ipv6 ? url.host_address() : url.host();
  target.port = url.has_port() ? std::string(url.port()) : (target.https ? "443" : "80");
  target.host_header = std::string(url.encoded_host_and_port());
  target.path = url.encoded_path().empty() ? "/" : std::string(url.encoded_path());
  if (url.has_query()) target.path += "?" + std::string(url.encoded_query());
  target.url = text;
  return target;
}

Result<std::string> resolve_location(const std::string& base, const std::string& location) {
  auto base_url = boost::urls::parse_absolute_uri(base);
  auto reference = boost::urls::parse_uri_reference(location);
  if (!base_url || !reference) return std::unexpected(client_error(ClientErrorCode::protocol_error, "bad redirect Location"));
  boost::urls::url resolved;
  auto result = boost::urls::resolve(*base_url, *reference, resolved);
  if (!result) return std::unexpected(client_error(ClientErrorCode::protocol_error, "bad redirect Location"));
  resolved.remove_fragment();
  return std::string(resolved.buffer());
}

Error from_system_error(const boost::system::error_code& ec, ClientErrorCode fallback, std::string_view what) {
  if (ec == beast::error::timeout || ec == asio::error::operation_aborted) {
    return client_error(ClientErrorCode::timeout, "timed out");
  }
  if (ec == bhttp::error::body_limit) return client_error(ClientErrorCode::too_large, "response body too large");
  if (ec == bhttp::error::header_limit) return client_error(ClientErrorCode::too_large, "response header too large");
  if (ec.category() == asio::error::get_ssl_category() || ec.category() == ssl::error::get_stream_category()) {
    return client_error(ClientErrorCode::tls_failed, std::string(what) + ": TLS failed (" + ec.message() + ")");
  }
  return client_error(fallback, std::string(what) + ": " + ec.message());
}

// The peer closed or reset the connection.
bool peer_closed(const boost::system::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe;
}

// The request body as a view of the caller's bytes (see Call::run).
using OutgoingBody = bhttp::span_body<const char>;

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// What a kept connection must match to carry another request: the same origin, reached under
// the same address rules and trust store (a connection checked under a looser policy must not
// serve a stricter call).
std::string connection_key(const Target& target, const ClientOptions& options) {
  return std::string(target.https ? "https://" : "http://") + target.host_header + "\n" + target.port + "\n" +
         std::to_string(static_cast<int>(options.address_policy)) + (options.allow_http ? "h" : "") +
         (options.allow_http_loopback_only ? "l" : "") + "\n" + options.ca_file;
}

// A connection kept open after a response that allowed it (RFC 9112 §9.3): one at a time,
// plain or TLS.
struct KeptConnection {
  std::string key;  // connection_key() of the origin it is open to
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<TlsStream> tls;
  std::chrono::steady_clock::time_point idle_since;

  bool open() const { return plain || tls; }
  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
  void close() {
    if (!open()) return;
    boost::system::error_code ignored;
    lowest().socket().close(ignored);
    tls.reset();
    plain.reset();
    key.clear();
  }
  // Whether it may carry a request to `wanted` now: the same origin, not idle too long, and the
  // peer has neither closed it nor sent anything unasked (a server that drops an idle
  // connection sends its FIN, or a 408, first: a peek sees either without blocking).
  bool usable_for(const std::string& wanted, std::chrono::steady_clock::time_point now) {
    if (!open() || key != wanted || now - idle_since > KeepAliveClient::kMaxIdle) return false;
    char byte;
    const ssize_t n = ::recv(lowest().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
};

class Call {
 public:
  // `kept`: where a connection may be taken from and left for the next call (null: every
  // connection closes after its response).
  Call(asio::io_context& io, const ClientRequest& request, const ClientOptions& options,
       std::chrono::steady_clock::time_point deadline, KeptConnection* kept = nullptr)
      : io_(io), request_(request), options_(options), deadline_(deadline), kept_(kept) {}

  asio::awaitable<Result<ClientResponse>> run() {
    std::string url = request_.url;
    std::string method = request_.method;
    // A view: request_ outlives the call, and bodies can be large (OTLP batches are hundreds
    // of kilobytes), so they are sent from where they are instead of being copied per hop.
    std::string_view body = request_.body;
    for (int hop = 0;; ++hop) {
      auto target = parse_target(url);
      if (!target) co_return std::unexpected(target.error());
      auto response = co_await exchange(*target, method, body);
      if (!response) co_return response;
      const bool redirect = response->status == 301 || response->status == 302 || response->status == 303 ||
                            response->status == 307 || response->status == 308;
      const std::string* location = response->headers.find("Location");
      if (!redirect || location == nullptr || options_.max_redirects == 0) co_return response;
      if (hop >= options_.max_redirects) {
        co_return std::unexpected(client_error(ClientErrorCode::too_many_redirects, "too many redirects"));
      }
      auto next = resolve_location(url, *location);
      if (!next) co_return std::unexpected(next.error());
      // RFC 9110 §15.4: 301/302/303 may turn into GET without a body; 307/308 keep both.
      if (response->status == 303 || ((response->status == 301 || response->status == 302) && method == "POST")) {
        method = "GET";
        body = {};
      }
      url = std::move(*next);
    }
  }

 private:
  asio::awaitable<Result<ClientResponse>> exchange(const Target& target, const std::string& method,
                                                   std::string_view body) {
    if (!target.https && !options_.allow_http && !options_.allow_http_loopback_only) {
      co_return std::unexpected(client_error(ClientErrorCode::scheme_refused, "plain http is not allowed"));
    }
    bhttp::request<OutgoingBody> request{bhttp::string_to_verb(method), target.path, 11};
    if (request.method() == bhttp::verb::unknown) request.method_string(method);
    for (const auto& [name, value] : request_.headers.fields()) request.insert(name, value);
    request.set(bhttp::field::host, target.host_header);
    request.set(bhttp::field::user_agent, options_.user_agent);
    if (!kept_) request.set(bhttp::field::connection, "close");
    request.body() = OutgoingBody::value_type(body.data(), body.size());
    request.prepare_payload();

    if (!kept_) co_return co_await connect_and_send(target, request, nullptr);
    const std::string key = connection_key(target, options_);
    if (kept_->usable_for(key, std::chrono::steady_clock::now())) {
      bool peer_gone = false;
      auto response = co_await send_on_kept(request, target, peer_gone);
      // The peer closed the kept connection as this request went out (before any byte of an
      // answer): once more on a new connection, when the caller said a repeat is harmless.
      if (response || !peer_gone || !options_.retry_on_closed_connection) co_return response;
    }
    kept_->close();
    co_return co_await connect_and_send(target, request, &key);
  }

  // The request on the kept connection; it stays kept only if the answer allows it.
  asio::awaitable<Result<ClientResponse>> send_on_kept(bhttp::request<OutgoingBody>& request, const Target& target,
                                                       bool& peer_gone) {
    kept_->lowest().expires_at(deadline_);
    bool reusable = false;
    // An if, not a conditional expression: GCC 12 destroys a co_await's result twice inside ?:.
    Result<ClientResponse> response;
    if (kept_->tls) {
      response = co_await round_trip(*kept_->tls, request, target, &reusable, &peer_gone);
    } else {
      response = co_await round_trip(*kept_->plain, request, target, &reusable, &peer_gone);
    }
    if (reusable) {
      kept_->lowest().expires_never();
      kept_->idle_since = std::chrono::steady_clock::now();
    } else {
      kept_->close();
    }
    co_return response;
  }

  // Resolves, checks and connects (TLS included), sends `request` and reads the answer. With a
  // `key`, a connection the answer lets live is kept in kept_ under it; otherwise it closes.
  asio::awaitable<Result<ClientResponse>> connect_and_send(const Target& target, bhttp::request<OutgoingBody>& request,
                                                           const std::string* key) {
    tcp::resolver resolver(io_);
    boost::system::error_code ec;
    auto results = co_await resolver.async_resolve(target.host, target.port, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return std::unexpected(from_system_error(ec, ClientErrorCode::resolve_failed, "resolve"));

    // Judge every resolved address and connect only to the ones that pass (the check and the
    // connection use the same address, so a second DNS answer cannot slip in).
    std::vector<tcp::endpoint> endpoints;
    for (const auto& entry : results) {
      const auto address = entry.endpoint().address();
      if (!allowed(address, options_.address_policy)) continue;
      if (!target.https && !options_.allow_http && !is_loopback(address)) continue;
      endpoints.push_back(entry.endpoint());
    }
    if (endpoints.empty()) {
      if (!target.https && !options_.allow_http) {
        co_return std::unexpected(client_error(ClientErrorCode::scheme_refused, "plain http is allowed only to loopback"));
      }
      co_return std::unexpected(client_error(ClientErrorCode::address_refused, "destination address not allowed"));
    }

    auto stream = std::make_unique<beast::tcp_stream>(io_);
    stream->expires_at(deadline_);
    co_await stream->async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return std::unexpected(from_system_error(ec, ClientErrorCode::connect_failed, "connect"));

    bool reusable = false;
    if (!target.https) {
      auto response = co_await round_trip(*stream, request, target, &reusable, nullptr);
      if (key && reusable) keep(*key, std::move(stream), nullptr);
      co_return response;
    }

    auto context = tls_context(options_.ca_file);
    if (!context) co_return std::unexpected(client_error(ClientErrorCode::tls_failed, "cannot load the CA file"));
    auto tls = std::make_unique<TlsStream>(std::move(*stream), *context);
    boost::system::error_code parse_ec;
    asio::ip::make_address(target.host, parse_ec);
    // SNI only for names (RFC 6066 §3); the peer's certificate must match the host we asked for.
    if (parse_ec && !SSL_set_tlsext_host_name(tls->native_handle(), target.host.c_str())) {
      co_return std::unexpected(client_error(ClientErrorCode::tls_failed, "cannot set SNI"));
    }
    tls->set_verify_callback(ssl::host_name_verification(target.host));
    co_await tls->async_handshake(ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return std::unexpected(from_system_error(ec, ClientErrorCode::tls_failed, "handshake"));
    auto response = co_await round_trip(*tls, request, target, &reusable, nullptr);
    if (key && reusable) {
      keep(*key, nullptr, std::move(tls));
    } else {
      // The answer is complete; a peer that skips close_notify costs nothing here.
      beast::get_lowest_layer(*tls).close();
    }
    co_return response;
  }

  void keep(const std::string& key, std::unique_ptr<beast::tcp_stream> plain, std::unique_ptr<TlsStream> tls) {
    kept_->close();
    kept_->key = key;
    kept_->plain = std::move(plain);
    kept_->tls = std::move(tls);
    kept_->lowest().expires_never();
    kept_->idle_since = std::chrono::steady_clock::now();
  }

  // One request and its answer. `reusable`: the connection may carry another request (the
  // answer was read to its delimited end, nothing more arrived, and neither side asked to close:
  // RFC 9112 §9.3). `peer_gone`: the peer closed or reset the connection before any byte of an
  // answer arrived.
  template <class Stream>
  asio::awaitable<Result<ClientResponse>> round_trip(Stream& stream, bhttp::request<OutgoingBody>& request,
                                                     const Target& target, bool* reusable, bool* peer_gone) {
    boost::system::error_code ec;
    co_await bhttp::async_write(stream, request, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (peer_gone) *peer_gone = peer_closed(ec);
      co_return std::unexpected(from_system_error(ec, ClientErrorCode::connect_failed, "write"));
    }
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(options_.max_response_bytes);
    parser.header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (peer_gone) *peer_gone = peer_closed(ec) && !parser.got_some();
      co_return std::unexpected(from_system_error(ec, ClientErrorCode::protocol_error, "read"));
    }
    *reusable = parser.is_done() && !parser.get().need_eof() && buffer.size() == 0;
    auto message = parser.release();
    ClientResponse response;
    response.status = static_cast<int>(message.result_int());
    for (const auto& field : message) response.headers.add(std::string(field.name_string()), std::string(field.value()));
    response.body = std::move(message.body());
    response.url = target.url;
    co_return response;
  }

  asio::io_context& io_;
  const ClientRequest& request_;
  const ClientOptions& options_;
  std::chrono::steady_clock::time_point deadline_;
  KeptConnection* kept_;
};

// Runs one call on `io` until it ends or the deadline passes.
Result<ClientResponse> run_call(asio::io_context& io, const ClientRequest& request, const ClientOptions& options,
                                KeptConnection* kept) {
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  Call call(io, request, options, deadline, kept);
  std::optional<Result<ClientResponse>> outcome;
  asio::co_spawn(io, call.run(), [&](std::exception_ptr error, Result<ClientResponse> result) {
    if (error) {
      outcome = std::unexpected(client_error(ClientErrorCode::protocol_error, "request failed"));
    } else {
      outcome = std::move(result);
    }
  });
  io.run_until(deadline);
  if (!outcome) {
    // Only the resolver can still be running (the stream's expiry ends everything else); the
    // io_context's destructor destroys the suspended coroutine with it.
    io.stop();
    return std::unexpected(client_error(ClientErrorCode::timeout, "timed out"));
  }
  return std::move(*outcome);
}

}  // namespace

bool address_allowed(const std::string& address, AddressPolicy policy) {
  boost::system::error_code ec;
  const auto parsed = asio::ip::make_address(address, ec);
  if (ec) return false;
  return allowed(parsed, policy);
}

Result<ClientResponse> fetch(const ClientRequest& request, const ClientOptions& options) {
  asio::io_context io(1);
  return run_call(io, request, options, nullptr);
}

struct KeepAliveClient::Impl {
  std::mutex mutex;  // one call at a time
  // Declared before `kept`: the connection's sockets go first, then their io_context.
  std::unique_ptr<asio::io_context> io = std::make_unique<asio::io_context>(1);
  KeptConnection kept;
};

KeepAliveClient::KeepAliveClient() : impl_(std::make_unique<Impl>()) {}

KeepAliveClient::~KeepAliveClient() { impl_->kept.close(); }

Result<ClientResponse> KeepAliveClient::fetch(const ClientRequest& request, const ClientOptions& options) {
  std::lock_guard lock(impl_->mutex);
  impl_->io->restart();
  auto response = run_call(*impl_->io, request, options, &impl_->kept);
  if (!response && response.error().code == static_cast<int>(ClientErrorCode::timeout)) {
    // A call cut off at its deadline may have left a suspended resolve in the io_context: start
    // clean (its destructor destroys what is left).
    impl_->kept.close();
    impl_->io = std::make_unique<asio::io_context>(1);
  }
  return response;
}

bool KeepAliveClient::holds_connection() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->kept.open();
}

Fetcher default_fetcher() { return [](const ClientRequest& request, const ClientOptions& options) { return fetch(request, options); }; }

Fetcher keep_alive_fetcher() {
  return [client = std::make_shared<KeepAliveClient>()](const ClientRequest& request, const ClientOptions& options) {
    return client->fetch(request, options);
  };
}

}  // namespace bastion::http
