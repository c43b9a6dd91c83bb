// HTTP/1.1 server on Asio + Beast's parser.
//
// Shape of a connection (one strand each, so none of its state needs a lock):
//
//   [handshaking] -> reading_request -> awaiting_response -> writing_response -> reading_request ...
//                                              \-> streaming ----------------/
//   any state -> closing (lingering close / TLS close_notify) -> closed
//
// Requests are answered strictly in order (HTTP/1.1 has no multiplexing; RFC 9112 §9.3.2):
// pipelined bytes that arrive early are kept, unparsed, until the current response is done.
// While we owe an answer (or stream) a read stays outstanding, so that the client closing its
// end is seen at once and reported through Exchange::on_peer_closed. That read goes into a
// small private chunk, never into the parse buffer, so parsing and reading never overlap.
//
// Every wait has a bound: the TLS handshake and each request (read_timeout, from its first
// byte), keep-alive idleness (idle_timeout), each write's progress (write_timeout), the write
// queue (max_write_queue_bytes), the lingering close. Only the wait for our own handler has
// none: the application owns that time (a tool call may legitimately take minutes).
#include "http/server.hpp"
#include "core/thread_name.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <span>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <openssl/ssl.h>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/url/authority_view.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace bastion::http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
namespace urls = boost::urls;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using error_code = boost::system::error_code;

constexpr Clock::time_point kNever = Clock::time_point::max();
// One socket read. Small enough that 10k idle connections stay cheap, large enough that a
// typical request arrives in one read.
constexpr std::size_t kReadChunkBytes = 8 * 1024;
// Queued pieces gathered into one write (each is up to three buffers).
constexpr std::size_t kMaxGatherPieces = 16;
// TLS writes are staged into one contiguous buffer so that a small response is one record.
constexpr std::size_t kTlsStagingBytes = 16 * 1024;
// Lingering close when nothing more is expected from the client (after a complete exchange, an
// idle keep-alive timeout, a graceful stop): a short wait, only so that a request racing our
// close is not met with a reset. Refused requests linger for Limits::lingering_close_timeout.
constexpr auto kQuietLinger = std::chrono::milliseconds(2000);
// A body is never pre-allocated beyond this from a claimed Content-Length: the claim costs the
// client nothing, the memory would cost us (10k connections x 4 MiB).
constexpr std::size_t kMaxBodyReserve = 64 * 1024;
// An accept failure such as EMFILE leaves the connection in the backlog; retrying at once would
// spin. Wait this long instead.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);
// After the grace period (or stop()) connections are cut; the I/O threads are stopped outright
// if anything still holds them this much later.
constexpr auto kStopBackstop = std::chrono::seconds(1);

constexpr std::string_view kContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";
constexpr std::string_view kChunkEnd = "\r\n";
constexpr std::string_view kKeepAliveComment = ": keep-alive\n\n";
// The same comment framed as one chunk (0xe == 14 bytes).
constexpr std::string_view kKeepAliveChunk = "e\r\n: keep-alive\n\n\r\n";
static_assert(kKeepAliveComment.size() == 0xe);

// ---------------------------------------------------------------------------------------------
// Small helpers

// RFC 9110 §5.6.2 tchar, as a table: every field name of every response is checked.
constexpr std::array<bool, 256> kTchar = [] {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = true;
  return table;
}();

bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return kTchar[static_cast<unsigned char>(c)]; });
}

// RFC 9110 §5.5: CR, LF and NUL are never valid in a field value. A handler that lets one
// through (say, from user data) would let the peer split our response; such fields are dropped.
// Every field value of every request and response passes here: one memchr per byte sought
// (string_view::find_first_of called memchr once per byte of the value).
bool is_safe_field_value(std::string_view s) noexcept {
  if (s.empty()) return true;
  return std::memchr(s.data(), '\r', s.size()) == nullptr && std::memchr(s.data(), '\n', s.size()) == nullptr &&
         std::memchr(s.data(), '\0', s.size()) == nullptr;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool contains_ignoring_case(std::string_view haystack, std::string_view needle) noexcept {
  if (needle.size() > haystack.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (iequals(haystack.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

// Fields whose value the HTTP layer owns: framing and connection management (RFC 9112 §6,
// §9.6; RFC 9110 §7.6.1). A handler's copy could contradict the real framing and so desync the
// client (response smuggling), hence they are always ours.
bool is_connection_managed_field(std::string_view name) noexcept {
  static constexpr std::string_view kManaged[] = {"Content-Length",
                                                  "Transfer-Encoding",
                                                  "Connection",
                                                  "Keep-Alive",
                                                  "Upgrade",
                                                  "Trailer",
                                                  "TE",
                                                  "Proxy-Connection",
                                                  "Date"};
  return std::any_of(std::begin(kManaged), std::end(kManaged), [&](std::string_view m) { return iequals(m, name); });
}

// IMF-fixdate (RFC 9110 §5.6.7), cached per thread per second. Formatted by hand because
// strftime's %a/%b follow the C locale, which the application may change.
std::string_view http_date_now() {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local std::time_t cached_second = -1;
  thread_local char text[40];
  thread_local int length = 0;
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    length = std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7], tm.tm_mday,
                           kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_second = now;
  }
  return {text, static_cast<std::size_t>(length)};
}

void append_number(std::string& out, std::uint64_t value, int base = 10) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value, base);
  out.append(digits, end);
}

std::string error_body(int status) {
  switch (status) {
    case 400: return R"({"error":"bad_request"})";
    case 408: return R"({"error":"request_timeout"})";
    case 413: return R"({"error":"payload_too_large"})";
    case 431: return R"({"error":"request_header_fields_too_large"})";
    case 501: return R"({"error":"not_implemented"})";
    default: return R"({"error":"internal_error"})";
  }
}

// ---------------------------------------------------------------------------------------------
// Request parsing: Beast's incremental parser writes straight into our Request, with no
// intermediate beast::http::fields copy.

class RequestParser final : public beast::http::basic_parser<true> {
 public:
  explicit RequestParser(Request& out) : out_(out) {}

  // The status to answer with when parsing failed because of one of our own checks (0: map
  // Beast's error code instead).
  int rejection_status() const noexcept { return rejection_status_; }
  int version() const noexcept { return version_; }
  bool expects_continue() const noexcept { return expects_continue_; }

 private:
  void reject(int status, error_code& ec) {
    rejection_status_ = status;
    ec = beast::http::error::bad_value;
  }

  void on_request_impl(beast::http::verb, beast::string_view method, beast::string_view target, int version,
                       error_code& ec) override {
    // Beast itself refuses versions other than 1.0 and 1.1 (bad_version -> 400: HTTP/1.x syntax
    // carrying another version is malformed, e.g. the HTTP/2 preface "PRI * HTTP/2.0").
    version_ = version;
    out_.method.assign(method.data(), method.size());
    out_.target.assign(target.data(), target.size());
    if (!parse_target()) return reject(400, ec);
  }

  void on_response_impl(int, beast::string_view, int, error_code& ec) override { ec = beast::http::error::bad_method; }

  void on_field_impl(beast::http::field name, beast::string_view name_string, beast::string_view value,
                     error_code& ec) override {
    // Trailer fields (after a chunked body) are discarded (RFC 9110 §6.5.1): merging them into
    // the header would let a body smuggle in fields such as a second Host.
    if (header_done_) return;
    std::string_view field_value(value.data(), value.size());
    if (!is_safe_field_value(field_value)) return reject(400, ec);
    switch (name) {
      case beast::http::field::host: ++host_count_; break;
      case beast::http::field::transfer_encoding: {
        // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request means faulty framing.
        if (version_ == 10) return reject(400, ec);
        // Only "chunked" is decoded. If chunked is not the final coding the body length cannot
        // be determined (RFC 9112 §6.3 item 4: 400); another coding alone is one we do not
        // implement (RFC 9112 §6.1: 501). Both close the connection.
        std::string_view coding = trim(field_value);
        if (!iequals(coding, "chunked")) return reject(contains_ignoring_case(coding, "chunked") ? 400 : 501, ec);
        break;
      }
      case beast::http::field::expect:
        if (iequals(trim(field_value), "100-continue")) expects_continue_ = true;
        break;
      default: break;
    }
    out_.headers.add(std::string(name_string.data(), name_string.size()), std::string(field_value));
  }

  void on_header_impl(error_code& ec) override {
    header_done_ = true;
    // RFC 9112 §3.2: an HTTP/1.1 request without Host, or any request with more than one Host
    // or an invalid one, gets 400.
    if (host_count_ > 1 || (version_ == 11 && host_count_ == 0)) return reject(400, ec);
    if (const std::string* host = out_.headers.find("Host")) {
      auto authority = urls::parse_authority(*host);
      if (!authority || authority->has_userinfo() || authority->encoded_host().empty()) return reject(400, ec);
    }
    // RFC 9112 §3.2.2: with an absolute-form target the target's authority is the host; the
    // Host field is replaced so that later checks (Guard) see what we actually serve.
    if (!absolute_form_authority_.empty()) out_.headers.set("Host", std::move(absolute_form_authority_));
    // RFC 9110 §10.1.1: an HTTP/1.0 client never expects 100 Continue.
    if (version_ == 10) expects_continue_ = false;
  }

  void on_body_init_impl(boost::optional<std::uint64_t> const& content_length, error_code&) override {
    if (content_length)
      out_.body.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(*content_length, kMaxBodyReserve)));
  }

  std::size_t on_body_impl(beast::string_view body, error_code&) override {
    out_.body.append(body.data(), body.size());
    return body.size();
  }

  void on_chunk_header_impl(std::uint64_t, beast::string_view, error_code&) override {}

  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, error_code&) override {
    out_.body.append(body.data(), body.size());
    return body.size();
  }

  void on_finish_impl(error_code&) override {}

  // Fills path and query from the request-target (RFC 9112 §3.2), with Boost.URL.
  bool parse_target() {
    std::string_view target = out_.target;
    if (target.empty()) return false;
    if (target == "*") {  // asterisk-form, OPTIONS only (RFC 9112 §3.2.4)
      if (out_.method != "OPTIONS") return false;
      out_.path = "*";
      return true;
    }
    if (target.front() == '/') {
      auto origin_form = urls::parse_origin_form(target);
      return origin_form && take_path_and_query(*origin_form);
    }
    // absolute-form (RFC 9112 §3.2.2: servers MUST accept it). authority-form (CONNECT) is not
    // served: it does not parse as an http(s) URI and is refused here.
    auto absolute = urls::parse_absolute_uri(target);
    if (!absolute) return false;
    std::string_view scheme = absolute->scheme();
    if (!iequals(scheme, "http") && !iequals(scheme, "https")) return false;
    if (!absolute->has_authority() || absolute->has_userinfo() || absolute->encoded_host().empty()) return false;
    absolute_form_authority_ = std::string(absolute->encoded_authority());
    if (absolute->encoded_path().empty()) {
      out_.path = "/";
      out_.query = std::string(absolute->encoded_query());
      return true;
    }
    return take_path_and_query(*absolute);
  }

  bool take_path_and_query(const urls::url_view& url) {
    std::string_view encoded_path = url.encoded_path();
    // An encoded '/' makes one path mean two things (a segment to us, a separator to whoever
    // decodes again), and an encoded NUL truncates strings in C APIs: both are refused.
    if (contains_ignoring_case(encoded_path, "%2f") || contains_ignoring_case(encoded_path, "%00")) return false;
    out_.path = url.path();
    if (out_.path.empty() || out_.path.front() != '/') return false;
    // Dot-segments (also percent-encoded ones, hence after decoding) are refused rather than
    // resolved: clients remove them before sending (RFC 3986 §5.2.4), so one arriving here is
    // a path-traversal probe aimed at prefix routes.
    std::string_view path = out_.path;
    std::size_t start = 1;
    while (start <= path.size()) {
      std::size_t end = path.find('/', start);
      if (end == std::string_view::npos) end = path.size();
      std::string_view segment = path.substr(start, end - start);
      if (segment == "." || segment == "..") return false;
      start = end + 1;
    }
    out_.query = std::string(url.encoded_query());
    return true;
  }

  Request& out_;
  std::string absolute_form_authority_;
  int rejection_status_ = 0;
  int version_ = 11;
  int host_count_ = 0;
  bool header_done_ = false;
  bool expects_continue_ = false;
};

int status_for_parse_error(const error_code& ec, const RequestParser& parser) {
  if (parser.rejection_status() != 0) return parser.rejection_status();
  if (ec == beast::http::error::header_limit) return 431;  // RFC 6585 §5
  if (ec == beast::http::error::body_limit) return 413;    // RFC 9110 §15.5.14
  return 400;                                              // RFC 9112 §2.2 / §6.3
}

// ---------------------------------------------------------------------------------------------
// TLS

int select_http11(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
                  unsigned int in_length, void*) {
  static constexpr unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_length, kHttp11, sizeof kHttp11, in, in_length) == OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  // The client offered only protocols we do not speak (h2): no ALPN answer, it decides.
  return SSL_TLSEXT_ERR_NOACK;
}

std::shared_ptr<ssl::context> make_tls_context(const TlsFiles& files) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression |
                       ssl::context::single_dh_use);
  SSL_CTX* native = context->native_handle();
  // TLS 1.2 is the floor (RFC 9325 §3.1.1; MCP authorization requires HTTPS). Client-initiated
  // renegotiation is a CPU-exhaustion vector and buys nothing here.
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    throw std::runtime_error("cannot restrict TLS to version 1.2 or later");
  }
  SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  // TLS 1.2 suites: forward-secret AEAD only (RFC 9325 §4.2). TLS 1.3 suites are all AEAD.
  if (SSL_CTX_set_cipher_list(native,
                              "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                              "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                              "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305") != 1) {
    throw std::runtime_error("cannot configure TLS 1.2 cipher suites");
  }
  error_code ec;
  context->use_certificate_chain_file(files.certificate_file, ec);
  if (ec) {
    throw std::runtime_error("cannot load TLS certificate chain from \"" + files.certificate_file +
                             "\": " + ec.message());
  }
  context->use_private_key_file(files.private_key_file, ssl::context::pem, ec);
  if (ec)
    throw std::runtime_error("cannot load TLS private key from \"" + files.private_key_file + "\": " + ec.message());
  if (SSL_CTX_check_private_key(native) != 1) {
    throw std::runtime_error("TLS private key \"" + files.private_key_file + "\" does not match certificate \"" +
                             files.certificate_file + "\"");
  }
  SSL_CTX_set_alpn_select_cb(native, select_http11, nullptr);
  return context;
}

// ---------------------------------------------------------------------------------------------
// Connections and exchanges

class ExchangeImpl;

// What an Exchange (and the server) may ask of a connection. Every member may be called from
// any thread: each hops onto the connection's strand.
class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  virtual void post_respond(std::uint64_t sequence, Response response) = 0;
  virtual void post_start_stream(std::uint64_t sequence, int status, Headers headers,
                                 std::chrono::milliseconds keepalive) = 0;
  virtual void post_stream_write(std::uint64_t sequence, std::string data) = 0;
  virtual void post_stream_finish(std::uint64_t sequence) = 0;
  virtual void post_peer_closed_callback(std::uint64_t sequence, std::shared_ptr<const ExchangeImpl> exchange,
                                         std::function<void()> callback) = 0;
  virtual void post_abandoned(std::uint64_t sequence) = 0;
  virtual void post_drain() = 0;
  virtual void post_force_close() = 0;
};

// One request's answer channel. Holds its connection alive until answered (the connection may
// otherwise have nothing outstanding while a worker thread computes the response). The
// sequence number makes calls for an old request harmless once the connection moved on.
class ExchangeImpl final : public Exchange, public std::enable_shared_from_this<ExchangeImpl> {
 public:
  ExchangeImpl(std::shared_ptr<ConnectionBase> connection, std::uint64_t sequence, Request&& request)
      : connection_(std::move(connection)), sequence_(sequence), request_(std::move(request)) {}

  ~ExchangeImpl() override {
    // A handler that drops the exchange unanswered must not leave the client waiting forever
    // (it gets a 500); a dropped stream is ended properly.
    if (!answered_.load(std::memory_order_acquire)) {
      connection_->post_abandoned(sequence_);
    } else if (streaming_.load(std::memory_order_acquire) && !finished_.load(std::memory_order_acquire)) {
      connection_->post_stream_finish(sequence_);
    }
  }

  const Request& request() const override { return request_; }

  void do_respond(Response response) override {
    if (answered_.exchange(true, std::memory_order_acq_rel)) return;  // exactly once
    connection_->post_respond(sequence_, std::move(response));
  }

  void do_start_stream(int status, Headers headers, std::chrono::milliseconds keepalive) override {
    if (answered_.exchange(true, std::memory_order_acq_rel)) return;
    streaming_.store(true, std::memory_order_release);
    connection_->post_start_stream(sequence_, status, std::move(headers), keepalive);
  }

  void do_write(std::string data) override {
    if (!streaming_.load(std::memory_order_acquire) || finished_.load(std::memory_order_acquire)) return;
    connection_->post_stream_write(sequence_, std::move(data));
  }

  void do_finish() override {
    if (!streaming_.load(std::memory_order_acquire) || finished_.exchange(true, std::memory_order_acq_rel)) return;
    connection_->post_stream_finish(sequence_);
  }

  void on_peer_closed(std::function<void()> callback) override {
    if (!callback) return;
    connection_->post_peer_closed_callback(sequence_, shared_from_this(), std::move(callback));
  }

  bool peer_closed() const override { return peer_closed_.load(std::memory_order_acquire); }

  void mark_peer_closed() { peer_closed_.store(true, std::memory_order_release); }

 private:
  std::shared_ptr<ConnectionBase> connection_;
  const std::uint64_t sequence_;
  Request request_;
  std::atomic<bool> answered_{false};
  std::atomic<bool> streaming_{false};
  std::atomic<bool> finished_{false};
  std::atomic<bool> peer_closed_{false};
};

struct Listener {
  Listener(const asio::strand<asio::io_context::executor_type>& control, std::shared_ptr<ssl::context> tls_context)
      : acceptor(control), retry_timer(control), tls(std::move(tls_context)) {}
  tcp::acceptor acceptor;
  asio::steady_timer retry_timer;
  std::shared_ptr<ssl::context> tls;  // null: plain HTTP
  bool closed = false;                // on the control strand
};

// State shared by the server and its connections. Connections keep it (and so the
// io_context) alive: an Exchange held by a worker thread may outlive the Server object.
class ServerCore : public std::enable_shared_from_this<ServerCore> {
 public:
  ServerCore(Limits limits_in, Handler handler_in, std::size_t threads)
      : limits(limits_in),
        handler(std::move(handler_in)),
        thread_count(std::max<std::size_t>(threads, 1)),
        io(static_cast<int>(thread_count)),
        control(asio::make_strand(io)),
        work_guard(asio::make_work_guard(io)),
        grace_timer(control),
        backstop_timer(control) {}

  void start_accept(const std::shared_ptr<Listener>& listener);
  void on_accept(const std::shared_ptr<Listener>& listener, const error_code& ec, tcp::socket socket);
  void on_connection_closed(std::uint64_t id);
  void close_listeners();
  std::vector<std::shared_ptr<ConnectionBase>> connections_snapshot();
  void begin_graceful_stop();   // control strand
  void begin_immediate_stop();  // control strand
  void on_grace_expired();      // control strand
  void on_drained();            // control strand
  void finish_stopping();       // control strand
  void wait_for_signal();       // control strand
  void run_io();
  void count_rejection(int status) {
    auto& counter = status == 400   ? rejected_400
                    : status == 408 ? rejected_408
                    : status == 413 ? rejected_413
                    : status == 431 ? rejected_431
                                    : rejected_other;
    counter.fetch_add(1, std::memory_order_relaxed);
  }

  const Limits limits;
  const Handler handler;
  const std::size_t thread_count;
  asio::io_context io;
  asio::strand<asio::io_context::executor_type> control;

  // control strand only
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_guard;
  asio::steady_timer grace_timer;
  asio::steady_timer backstop_timer;
  std::optional<asio::signal_set> signals;
  int signals_received = 0;
  bool stop_finished = false;

  std::mutex listeners_mutex;
  std::vector<std::shared_ptr<Listener>> listeners;

  // Touched on connect and disconnect only, never per request.
  std::mutex registry_mutex;
  std::unordered_map<std::uint64_t, std::weak_ptr<ConnectionBase>> connections;
  std::uint64_t next_connection_id = 0;  // control strand

  std::atomic<std::size_t> active_connections{0};
  std::atomic<std::uint64_t> refused_connections{0};
  // Requests the HTTP layer refused itself (size limits, deadlines, malformed), by status, for
  // /metrics (a relaxed increment per refusal, never per accepted request).
  std::atomic<std::uint64_t> rejected_400{0}, rejected_408{0}, rejected_413{0}, rejected_431{0}, rejected_other{0};
  std::atomic<bool> draining{false};
  // Set once the I/O threads are gone: late calls from exchanges are dropped instead of being
  // queued on an io_context nobody runs.
  std::atomic<bool> io_finished{false};

  std::mutex threads_mutex;
  std::vector<std::thread> threads;
};

template <class Stream>
class Connection final : public ConnectionBase, public std::enable_shared_from_this<Connection<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, tcp::socket>;

 public:
  Connection(std::shared_ptr<ServerCore> core, std::uint64_t id, tcp::socket socket) requires(!kTls)
      : core_(std::move(core)),
        id_(id),
        stream_(std::move(socket)),
        deadline_timer_(stream_.get_executor()),
        keepalive_timer_(stream_.get_executor()) {
    init();
  }

  Connection(std::shared_ptr<ServerCore> core, std::uint64_t id, tcp::socket socket,
             std::shared_ptr<ssl::context> tls_context) requires(kTls)
      : core_(std::move(core)),
        id_(id),
        tls_context_(std::move(tls_context)),
        stream_(std::move(socket), *tls_context_),
        deadline_timer_(stream_.get_executor()),
        keepalive_timer_(stream_.get_executor()) {
    init();
  }

  void start() {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->on_start(); });
  }

  // ---- ConnectionBase: entry points from exchanges and the server (any thread)

  void post_respond(std::uint64_t sequence, Response response) override {
    run_on_strand([sequence, response = std::move(response)](Connection& self) mutable {
      self.on_respond(sequence, std::move(response));
    });
  }
  void post_start_stream(std::uint64_t sequence, int status, Headers headers,
                         std::chrono::milliseconds keepalive) override {
    run_on_strand([sequence, status, headers = std::move(headers), keepalive](Connection& self) mutable {
      self.on_start_stream(sequence, status, std::move(headers), keepalive);
    });
  }
  void post_stream_write(std::uint64_t sequence, std::string data) override {
    run_on_strand([sequence, data = std::move(data)](Connection& self) mutable {
      self.on_stream_write(sequence, std::move(data));
    });
  }
  void post_stream_finish(std::uint64_t sequence) override {
    run_on_strand([sequence](Connection& self) { self.on_stream_finish(sequence); }, /*always_post=*/true);
  }
  void post_peer_closed_callback(std::uint64_t sequence, std::shared_ptr<const ExchangeImpl> exchange,
                                 std::function<void()> callback) override {
    run_on_strand([sequence, exchange = std::move(exchange), callback = std::move(callback)](Connection& self) mutable {
      self.on_add_peer_closed_callback(sequence, *exchange, std::move(callback));
    });
  }
  void post_abandoned(std::uint64_t sequence) override {
    // Posted, never run inline: this comes from a destructor, possibly deep inside our own code.
    run_on_strand([sequence](Connection& self) { self.on_abandoned(sequence); }, /*always_post=*/true);
  }
  void post_drain() override {
    run_on_strand([](Connection& self) { self.on_drain(); }, /*always_post=*/true);
  }
  void post_force_close() override {
    run_on_strand([](Connection& self) { self.hard_close(); }, /*always_post=*/true);
  }

 private:
  enum class State { handshaking, reading_request, awaiting_response, writing_response, streaming, closing, closed };
  enum class Framing { content_length, chunked, until_close, none };

  // Bytes to send: a head (status line and fields, or a chunk-size line), an owned body (moved
  // in, never copied) and a static tail (chunk CRLF, last-chunk, 100 Continue).
  struct OutgoingPiece {
    std::string head;
    std::string body;
    std::string_view tail;
    std::size_t size() const noexcept { return head.size() + body.size() + tail.size(); }
  };

  void init() {
    // Room for a maximal request head plus pipelined bytes behind it, plus one read.
    unparsed_limit_ = core_->limits.max_header_bytes + kReadChunkBytes;
    unparsed_ = beast::flat_buffer(unparsed_limit_ + kReadChunkBytes);
    read_chunk_ = std::make_unique<char[]>(kReadChunkBytes);
  }

  tcp::socket& socket() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }

  template <class Function>
  void run_on_strand(Function&& function, bool always_post = false) {
    if (core_->io_finished.load(std::memory_order_acquire)) return;
    auto task = [self = this->shared_from_this(), function = std::forward<Function>(function)]() mutable {
      function(*self);
    };
    if (always_post) {
      asio::post(stream_.get_executor(), std::move(task));
    } else {
      // Inline when already on this strand (a handler answering at once): no queue hop.
      asio::dispatch(stream_.get_executor(), std::move(task));
    }
  }

  // ---- start

  void on_start() {
    error_code ec;
    auto endpoint = socket().remote_endpoint(ec);
    if (ec) {
      hard_close();
      return;
    }
    auto address = endpoint.address();
    // A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d; report them as IPv4 so that
    // logs and trusted-proxy lists see one spelling.
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
      address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
    }
    remote_address_ = address.to_string();
    socket().set_option(tcp::no_delay(true), ec);  // best effort: only latency depends on it

    if constexpr (kTls) {
      state_ = State::handshaking;
      set_deadline(Clock::now() + core_->limits.read_timeout);
      stream_.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](const error_code& error) {
        if (self->state_ != State::handshaking) return;
        if (error) {
          self->hard_close();
          return;
        }
        self->begin_read_request();
      });
    } else {
      begin_read_request();
    }
  }

  // ---- reading requests

  void begin_read_request() {
    state_ = State::reading_request;
    incoming_ = Request{};
    incoming_.remote_address = remote_address_;
    incoming_.secure = kTls;
    parser_.emplace(incoming_);
    parser_->eager(true);
    parser_->header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(core_->limits.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(static_cast<std::uint64_t>(core_->limits.max_body_bytes));
    continue_sent_ = false;
    request_started_ = unparsed_.size() > 0;
    // The first request of a connection (and one whose bytes already arrived) is on the clock
    // at once; otherwise the connection is idle keep-alive until a byte arrives.
    bool on_request_clock = request_started_ || requests_dispatched_ == 0;
    set_deadline(Clock::now() + (on_request_clock ? core_->limits.read_timeout : core_->limits.idle_timeout));
    parse_unparsed();
  }

  void parse_unparsed() {
    for (;;) {
      if (unparsed_.size() == 0) {
        maybe_send_continue();
        ensure_reading();
        return;
      }
      error_code ec;
      std::size_t used = parser_->put(unparsed_.data(), ec);
      unparsed_.consume(used);
      if (ec == beast::http::error::need_more || (!ec && used == 0 && !parser_->is_done())) {
        if (unparsed_.size() >= unparsed_limit_) {
          // Only an unterminated head (Beast's header_limit normally answers first) or an absurd
          // chunk-size line can fill the buffer.
          reject_request(parser_->is_header_done() ? 400 : 431);
          return;
        }
        maybe_send_continue();
        ensure_reading();
        return;
      }
      if (ec) {
        reject_request(status_for_parse_error(ec, *parser_));
        return;
      }
      if (parser_->is_done()) {
        dispatch_request();
        return;
      }
    }
  }

  // RFC 9110 §10.1.1: a client that sent Expect: 100-continue waits for our go-ahead before the
  // body. Sent only once the head has passed every check (an oversized Content-Length already
  // got its 413 instead).
  void maybe_send_continue() {
    if (continue_sent_ || !parser_->is_header_done() || !parser_->expects_continue() || parser_->is_done()) return;
    continue_sent_ = true;
    enqueue(OutgoingPiece{{}, {}, kContinueResponse});
    start_write();
  }

  void ensure_reading() {
    if (read_in_progress_ || input_ended_ || state_ == State::closed || state_ == State::handshaking) return;
    // While answering, a client that keeps sending (pipelining) can fill the buffer; then we stop
    // reading, and so stop noticing a close, until the buffer drains. Memory stays bounded.
    if (state_ != State::closing && !discarding_input_ && unparsed_.size() + kReadChunkBytes > unparsed_.max_size())
      return;
    read_in_progress_ = true;
    stream_.async_read_some(
        asio::buffer(read_chunk_.get(), kReadChunkBytes),
        [self = this->shared_from_this()](const error_code& ec, std::size_t bytes) { self->on_read(ec, bytes); });
  }

  void on_read(const error_code& ec, std::size_t bytes) {
    read_in_progress_ = false;
    if (state_ == State::closed) return;
    if (state_ == State::closing) {
      continue_closing_after_read(ec, bytes);
      return;
    }
    if (discarding_input_) {
      discard_while_answering(ec, bytes);
      return;
    }
    if (ec) {
      // EOF or reset. Between requests that is the normal end of a keep-alive connection; while
      // we owe an answer it means the client went away (hard_close tells the handler).
      hard_close();
      return;
    }
    auto space = unparsed_.prepare(bytes);
    std::memcpy(space.data(), read_chunk_.get(), bytes);
    unparsed_.commit(bytes);
    if (state_ == State::reading_request) {
      if (!request_started_) {
        request_started_ = true;
        set_deadline(Clock::now() + core_->limits.read_timeout);
      }
      parse_unparsed();
    } else {
      ensure_reading();  // awaiting/writing/streaming: bytes are kept for the next request
    }
  }

  // A request was refused and its answer is still being written; the client keeps sending.
  void discard_while_answering(const error_code& ec, std::size_t bytes) {
    if (ec == asio::error::eof) {
      // The client finished sending (FIN, or close_notify over TLS) and waits for the answer:
      // it still gets it, then the connection closes. No more reads: they would only repeat EOF.
      input_ended_ = true;
      return;
    }
    if (ec || !count_discarded(bytes)) {
      hard_close();
      return;
    }
    ensure_reading();
  }

  // Adds to the bytes thrown away since the request was refused; false once over the budget.
  bool count_discarded(std::size_t bytes) {
    lingering_discarded_ += bytes;
    return lingering_discarded_ <= core_->limits.lingering_close_bytes;
  }

  // What was received but not parsed is of no use once the connection is closing; the memory
  // goes back while it lingers.
  void release_read_buffer() {
    unparsed_.clear();
    unparsed_.shrink_to_fit();
  }

  void dispatch_request() {
    state_ = State::awaiting_response;
    set_deadline(kNever);  // our handler's time is not the client's fault
    keep_alive_ = parser_->keep_alive() && !draining_;
    request_version_ = parser_->version();
    head_request_ = incoming_.method == "HEAD";
    parser_.reset();
    ++requests_dispatched_;
    const std::uint64_t sequence = ++current_sequence_;
    auto exchange = std::make_shared<ExchangeImpl>(this->shared_from_this(), sequence, std::move(incoming_));
    current_exchange_ = exchange;
    ensure_reading();  // to notice the peer leaving while the handler works
    try {
      core_->handler(exchange);
    } catch (...) {
      // The exception barrier around application code (DESIGN.md §5): the client gets a 500,
      // the connection and the server live on. respond() is a no-op if the handler answered.
      exchange->respond(json_response(500, error_body(500)));
    }
  }

  // Answers a request that failed at the HTTP level, then closes: after a framing error the
  // position of the next request in the byte stream is unknown (RFC 9112 §9.6 on errors).
  // The client may still be sending (the body of a 413, say): from here on whatever arrives is
  // read and thrown away, counted against lingering_close_bytes, so that the client is not
  // stuck writing into a full window and receives the answer (see begin_graceful_close).
  void reject_request(int status) {
    core_->count_rejection(status);
    parser_.reset();
    keep_alive_ = false;
    head_request_ = false;
    state_ = State::writing_response;
    discarding_input_ = true;
    release_read_buffer();
    Headers headers;
    headers.add("Content-Type", "application/json");
    send_response(status, headers, error_body(status));
    ensure_reading();
  }

  // ---- responses

  void on_respond(std::uint64_t sequence, Response response) {
    if (state_ != State::awaiting_response || sequence != current_sequence_) return;
    state_ = State::writing_response;
    if (response.status < 200 || response.status > 599) {
      // 1xx are not final responses; anything else is not HTTP. A handler bug, not the client's.
      Headers headers;
      headers.add("Content-Type", "application/json");
      send_response(500, headers, error_body(500));
      return;
    }
    send_response(response.status, response.headers, std::move(response.body), response.request_id.view());
  }

  void on_abandoned(std::uint64_t sequence) {
    if (state_ != State::awaiting_response || sequence != current_sequence_) return;
    state_ = State::writing_response;
    Headers headers;
    headers.add("Content-Type", "application/json");
    send_response(500, headers, error_body(500));
  }

  void send_response(int status, const Headers& headers, std::string body, std::string_view request_id = {}) {
    // RFC 9110 §6.4.1: 204 and 304 have no content; RFC 9110 §8.6: no Content-Length on 204.
    const bool has_content = status != 204 && status != 304;
    OutgoingPiece piece;
    piece.head = build_head(status, headers, has_content ? Framing::content_length : Framing::none, body.size(), false,
                            request_id);
    // RFC 9110 §9.3.2: HEAD gets the GET's fields, Content-Length included, and no content.
    if (has_content && !head_request_) piece.body = std::move(body);
    enqueue(std::move(piece));
    write_after_ready_handlers();
  }

  // Starts the write once the handlers that became ready with this one have run, so that the
  // answers of one pass over the ready connections leave back to back. A client waiting for
  // several of them (a load generator, a proxy on the same host) is then woken by the first and
  // finds the others when it runs, instead of being woken once per answer: a wake-up on another
  // CPU costs the sender microseconds, more under a hypervisor. Under bench/run.sh's load this
  // raised throughput by about a fifth (docs/telemetry-cost.md). asio::defer from
  // an I/O thread queues the job on that thread, behind the handlers already queued, and wakes
  // no other thread; the write itself still runs on the connection's strand. The cost is one
  // queue hop per answer: an answer waits for the handlers that were ready before its write.
  void write_after_ready_handlers() {
    asio::defer(core_->io.get_executor(), [self = this->shared_from_this()] {
      asio::dispatch(self->stream_.get_executor(), [self] { self->start_write(); });
    });
  }

  // `request_id`, when not empty, is sent as X-Request-Id in place of any in `headers`.
  std::string build_head(int status, const Headers& headers, Framing framing, std::size_t content_length,
                         bool is_stream, std::string_view request_id = {}) {
    // The server-wide flag is set before each connection hears of the shutdown: a response
    // written in between already tells the client not to reuse the connection.
    if (core_->draining.load(std::memory_order_acquire)) keep_alive_ = false;
    std::string head;
    std::size_t estimate = 160;
    for (const auto& [name, value] : headers.fields()) estimate += name.size() + value.size() + 4;
    estimate += request_id.size();
    head.reserve(estimate);
    head.append("HTTP/1.1 ");
    append_number(head, static_cast<std::uint64_t>(status));
    head.push_back(' ');
    // The reason phrase is optional (RFC 9112 §4); unknown codes get none.
    auto reason = beast::http::obsolete_reason(beast::http::int_to_status(static_cast<unsigned>(status)));
    if (!reason.empty() && reason.front() != '<') head.append(reason.data(), reason.size());
    head.append("\r\n");

    bool has_cache_control = false;
    bool has_content_type_options = false;
    bool has_accel_buffering = false;
    for (const auto& [name, value] : headers.fields()) {
      if (!is_token(name) || !is_safe_field_value(value) || is_connection_managed_field(name)) continue;
      if (!request_id.empty() && iequals(name, "X-Request-Id")) continue;
      if (iequals(name, "Cache-Control")) has_cache_control = true;
      if (iequals(name, "X-Content-Type-Options")) has_content_type_options = true;
      if (iequals(name, "X-Accel-Buffering")) has_accel_buffering = true;
      head.append(name).append(": ").append(value).append("\r\n");
    }
    if (!request_id.empty() && is_safe_field_value(request_id))
      head.append("X-Request-Id: ").append(request_id).append("\r\n");
    // Responses here are per-client and often carry tokens or private data: no cache may keep
    // them unless a handler says otherwise (RFC 9111 §5.2.2.5).
    if (!has_cache_control) head.append("Cache-Control: no-store\r\n");
    // Stop browsers from sniffing a JSON error into HTML/script (Fetch standard, nosniff).
    if (!has_content_type_options) head.append("X-Content-Type-Options: nosniff\r\n");
    // Event streams must not be buffered by reverse proxies (nginx honours this; PEERS.md pain 6).
    if (is_stream && !has_accel_buffering) head.append("X-Accel-Buffering: no\r\n");
    head.append("Date: ").append(http_date_now()).append("\r\n");
    switch (framing) {
      case Framing::content_length:
        head.append("Content-Length: ");
        append_number(head, content_length);
        head.append("\r\n");
        break;
      case Framing::chunked: head.append("Transfer-Encoding: chunked\r\n"); break;
      case Framing::until_close:
      case Framing::none: break;
    }
    if (!keep_alive_) {
      head.append("Connection: close\r\n");
    } else if (request_version_ == 10) {
      head.append("Connection: keep-alive\r\n");  // HTTP/1.0 closes unless told (RFC 9112 §9.3)
    }
    head.append("\r\n");
    return head;
  }

  // ---- streams

  void on_start_stream(std::uint64_t sequence, int status, Headers headers, std::chrono::milliseconds keepalive) {
    if (state_ != State::awaiting_response || sequence != current_sequence_) return;
    if (status < 200 || status > 599 || status == 204 || status == 304) {
      state_ = State::writing_response;
      Headers error_headers;
      error_headers.add("Content-Type", "application/json");
      send_response(500, error_headers, error_body(500));
      return;
    }
    state_ = State::streaming;
    stream_finishing_ = false;
    // HTTP/1.1: chunked, so the connection survives the stream. HTTP/1.0 has no chunked
    // coding: the stream is delimited by closing the connection (RFC 9112 §6.3 item 8).
    stream_chunked_ = request_version_ >= 11;
    if (!stream_chunked_) keep_alive_ = false;
    OutgoingPiece piece;
    piece.head = build_head(status, headers, stream_chunked_ ? Framing::chunked : Framing::until_close, 0, true);
    enqueue(std::move(piece));
    start_write();
    if (draining_) {
      // Shutting down: the head goes out, the stream ends at once and its owner is told.
      notify_peer_closed();
      end_stream();
      return;
    }
    if (head_request_) {
      end_stream();
      return;
    }
    keepalive_interval_ = keepalive;
    if (keepalive_interval_.count() > 0) {
      last_stream_activity_ = Clock::now();
      arm_keepalive();
    }
    ensure_reading();
  }

  void on_stream_write(std::uint64_t sequence, std::string data) {
    if (state_ != State::streaming || sequence != current_sequence_ || stream_finishing_ || head_request_) return;
    if (data.empty()) return;  // an empty chunk would end the chunked stream
    OutgoingPiece piece;
    if (stream_chunked_) {
      append_number(piece.head, data.size(), 16);
      piece.head.append("\r\n");
      piece.tail = kChunkEnd;
    }
    piece.body = std::move(data);
    enqueue(std::move(piece));
    if (queued_bytes_ > core_->limits.max_write_queue_bytes) {
      // The client is not reading: cut it off rather than buffer without bound.
      hard_close();
      return;
    }
    last_stream_activity_ = Clock::now();
    start_write();
  }

  void on_stream_finish(std::uint64_t sequence) {
    if (state_ != State::streaming || sequence != current_sequence_) return;
    end_stream();
  }

  void end_stream() {
    if (stream_finishing_) return;
    stream_finishing_ = true;
    ++keepalive_generation_;
    keepalive_timer_.cancel();
    if (stream_chunked_ && !head_request_) enqueue(OutgoingPiece{{}, {}, kLastChunk});
    if (write_in_progress_ || !write_queue_.empty()) {
      start_write();
    } else {
      finish_exchange();
    }
  }

  void arm_keepalive() {
    keepalive_timer_.expires_at(last_stream_activity_ + keepalive_interval_);
    keepalive_timer_.async_wait([self = this->shared_from_this(), generation = ++keepalive_generation_](
                                    const error_code&) { self->on_keepalive_timer(generation); });
  }

  void on_keepalive_timer(std::uint64_t generation) {
    if (generation != keepalive_generation_ || state_ != State::streaming || stream_finishing_) return;
    auto now = Clock::now();
    if (now - last_stream_activity_ >= keepalive_interval_) {
      // Only when nothing is queued: a stalled queue needs no keep-alive, it needs the client.
      if (write_queue_.empty()) {
        enqueue(OutgoingPiece{{}, {}, stream_chunked_ ? kKeepAliveChunk : kKeepAliveComment});
        start_write();
      }
      last_stream_activity_ = now;
    }
    arm_keepalive();
  }

  void on_add_peer_closed_callback(std::uint64_t sequence, const ExchangeImpl& exchange,
                                   std::function<void()> callback) {
    bool pending =
        state_ == State::awaiting_response || state_ == State::writing_response || state_ == State::streaming;
    if (sequence == current_sequence_ && pending && !exchange.peer_closed()) {
      peer_closed_callbacks_.push_back(std::move(callback));
      return;
    }
    // Registered too late: it already happened (run it), or the exchange completed (it never will).
    if (exchange.peer_closed()) asio::post(stream_.get_executor(), std::move(callback));
  }

  void notify_peer_closed() {
    if (auto exchange = current_exchange_.lock()) exchange->mark_peer_closed();
    auto callbacks = std::move(peer_closed_callbacks_);
    peer_closed_callbacks_.clear();
    // Posted, not called: a callback may call back into this connection.
    for (auto& callback : callbacks) asio::post(stream_.get_executor(), std::move(callback));
  }

  // The response or stream is fully written.
  void finish_exchange() {
    peer_closed_callbacks_.clear();
    current_exchange_.reset();
    stream_finishing_ = false;
    ++keepalive_generation_;
    if (keep_alive_ && !draining_) {
      begin_read_request();
    } else {
      begin_graceful_close();
    }
  }

  // ---- writing

  void enqueue(OutgoingPiece piece) {
    queued_bytes_ += piece.size();
    write_queue_.push_back(std::move(piece));
  }

  void start_write() {
    if (write_in_progress_ || write_queue_.empty() || state_ == State::closed) return;
    std::size_t count = 0;
    std::size_t skip = front_written_;
    std::size_t pieces = std::min(write_queue_.size(), kMaxGatherPieces);
    for (std::size_t i = 0; i < pieces; ++i) {
      const OutgoingPiece& piece = write_queue_[i];
      for (std::string_view part : {std::string_view(piece.head), std::string_view(piece.body), piece.tail}) {
        if (part.size() <= skip) {
          skip -= part.size();
          continue;
        }
        gather_[count++] = asio::const_buffer(part.data() + skip, part.size() - skip);
        skip = 0;
      }
    }
    write_in_progress_ = true;
    // Progress deadline; in reading_request (a 100 Continue) the request's own deadline stays.
    if (state_ != State::reading_request) set_deadline(Clock::now() + core_->limits.write_timeout);
    auto on_written = [self = this->shared_from_this()](const error_code& ec, std::size_t bytes) {
      self->on_write(ec, bytes);
    };
    if constexpr (kTls) {
      // One contiguous buffer: Asio's SSL stream writes only the first buffer of a sequence.
      tls_staging_.clear();
      for (std::size_t i = 0; i < count && tls_staging_.size() < kTlsStagingBytes; ++i) {
        std::size_t take = std::min(gather_[i].size(), kTlsStagingBytes - tls_staging_.size());
        tls_staging_.append(static_cast<const char*>(gather_[i].data()), take);
      }
      stream_.async_write_some(asio::buffer(tls_staging_), std::move(on_written));
    } else {
      stream_.async_write_some(std::span<const asio::const_buffer>(gather_.data(), count), std::move(on_written));
    }
  }

  void on_write(const error_code& ec, std::size_t bytes) {
    write_in_progress_ = false;
    if (state_ == State::closed) {
      write_queue_.clear();
      return;
    }
    if (ec) {
      hard_close();
      return;
    }
    front_written_ += bytes;
    queued_bytes_ -= bytes;
    while (!write_queue_.empty() && front_written_ >= write_queue_.front().size()) {
      front_written_ -= write_queue_.front().size();
      write_queue_.pop_front();
    }
    if (!write_queue_.empty()) {
      start_write();
      return;
    }
    switch (state_) {
      case State::writing_response: finish_exchange(); break;
      case State::streaming:
        if (stream_finishing_) {
          finish_exchange();
        } else {
          set_deadline(kNever);
        }
        break;
      default: break;  // reading_request: the 100 Continue went out
    }
  }

  // ---- deadlines
  //
  // One timer per connection, re-armed lazily: moving a deadline later only stores it, and the
  // timer re-arms itself when it fires early. Keeps the per-request cost at a clock read.

  void set_deadline(Clock::time_point deadline) {
    deadline_ = deadline;
    if (deadline == kNever) return;
    if (timer_armed_ && timer_expiry_ <= deadline) return;
    arm_timer(deadline);
  }

  void arm_timer(Clock::time_point at) {
    timer_armed_ = true;
    timer_expiry_ = at;
    deadline_timer_.expires_at(at);
    deadline_timer_.async_wait([self = this->shared_from_this(), generation = ++timer_generation_](const error_code&) {
      self->on_timer(generation);
    });
  }

  void on_timer(std::uint64_t generation) {
    if (generation != timer_generation_ || state_ == State::closed) return;  // superseded
    timer_armed_ = false;
    if (deadline_ == kNever) return;
    if (Clock::now() < deadline_) {
      arm_timer(deadline_);
      return;
    }
    deadline_ = kNever;
    on_deadline();
  }

  void on_deadline() {
    switch (state_) {
      case State::reading_request:
        if (request_started_ || requests_dispatched_ == 0) {
          // RFC 9110 §15.5.9: a request (or the first one) too slow to arrive.
          reject_request(408);
        } else {
          begin_graceful_close();  // idle keep-alive: close quietly (RFC 9112 §9.3)
        }
        break;
      case State::awaiting_response: break;  // no deadline while our handler works
      case State::handshaking:
      case State::writing_response:
      case State::streaming:
      case State::closing:
      case State::closed:
        hard_close();  // handshake too slow, or a write made no progress, or the close lingered
        break;
    }
  }

  // ---- shutdown

  void on_drain() {
    if (draining_) return;
    draining_ = true;
    switch (state_) {
      case State::handshaking: hard_close(); break;
      case State::reading_request:
        // Mid-request: it is answered, with Connection: close. Idle: close now.
        if (!request_started_ && !write_in_progress_ && write_queue_.empty()) begin_graceful_close();
        break;
      case State::awaiting_response:
      case State::writing_response: keep_alive_ = false; break;
      case State::streaming:
        keep_alive_ = false;
        notify_peer_closed();
        end_stream();
        break;
      case State::closing:
      case State::closed: break;
    }
  }

  // Lingering close after a complete response (RFC 9112 §9.6): closing a socket that still has
  // unread input makes the kernel send a reset, which can destroy our response before the client
  // reads it (typically a 413 while the client is still uploading the body). So:
  //
  //   plain TCP: our FIN first (shutdown send), then read and discard until the client closes,
  //     or lingering_close_bytes (counted since a refusal) or the time budget (from now) runs
  //     out; then close. The time budget is lingering_close_timeout after a refused request
  //     (the client may still be uploading), at most kQuietLinger otherwise.
  //   TLS, after a refused request: there is no half-close below TLS, and once our close_notify
  //     is out the client's further data is consumed inside OpenSSL's shutdown, where we could
  //     neither count it nor rule out a reset. So the same bounded read-and-discard comes first
  //     (the answer said Connection: close, so the client closes once it has sent its body and
  //     read the answer); when its close_notify arrives we answer with ours (RFC 9112 §9.8)
  //     and close. A client that just drops TCP, or overruns a budget, is closed outright.
  //   TLS otherwise (nothing expected from the client): close_notify at once, then wait for the
  //     client's, within the same (short) time budget.
  //
  // Either way the connection stays counted against max_connections, is bounded in time and
  // bytes, and is cut by post_force_close when a graceful stop's grace period ends.
  void begin_graceful_close() {
    if (state_ == State::closing || state_ == State::closed) return;
    state_ = State::closing;
    parser_.reset();
    release_read_buffer();
    Clock::duration linger = core_->limits.lingering_close_timeout;
    if (!discarding_input_) linger = std::min<Clock::duration>(linger, kQuietLinger);
    set_deadline(Clock::now() + linger);
    if constexpr (kTls) {
      if (discarding_input_ && !input_ended_) {
        ensure_reading();  // on_read continues the close
        return;
      }
      if (read_in_progress_) {
        // The SSL shutdown reads too; one reader at a time. on_read continues the close.
        error_code ignored;
        socket().cancel(ignored);
        return;
      }
      start_tls_shutdown();
    } else {
      error_code ignored;  // the peer may already be gone; the close below is what matters
      socket().shutdown(tcp::socket::shutdown_send, ignored);
      if (input_ended_) {
        hard_close();  // the client already finished sending: nothing left to drain
        return;
      }
      ensure_reading();
    }
  }

  void continue_closing_after_read(const error_code& ec, std::size_t bytes) {
    if constexpr (kTls) {
      if (tls_shutdown_started_) return;
      if (!discarding_input_ || ec == asio::error::eof) {
        // The read cancelled for the shutdown, or the client's close_notify (asio reports it as
        // EOF): send ours.
        start_tls_shutdown();
        return;
      }
    }
    if (ec || !count_discarded(bytes)) {
      hard_close();  // the client closed (or reset), or sent more than we are willing to read
      return;
    }
    ensure_reading();
  }

  void start_tls_shutdown() {
    if constexpr (kTls) {
      tls_shutdown_started_ = true;
      stream_.async_shutdown([self = this->shared_from_this()](const error_code&) { self->hard_close(); });
    }
  }

  void hard_close() {
    if (state_ == State::closed) return;
    const bool exchange_pending =
        state_ == State::awaiting_response || state_ == State::writing_response || state_ == State::streaming;
    state_ = State::closed;
    deadline_ = kNever;
    ++timer_generation_;
    ++keepalive_generation_;
    deadline_timer_.cancel();
    keepalive_timer_.cancel();
    error_code ignored;  // closing a socket the peer already reset can fail; it is closed anyway
    socket().close(ignored);
    parser_.reset();
    if (!write_in_progress_) write_queue_.clear();  // an in-flight write still references its pieces
    queued_bytes_ = 0;
    unparsed_.clear();
    unparsed_.shrink_to_fit();
    core_->on_connection_closed(id_);
    if (exchange_pending) notify_peer_closed();
    current_exchange_.reset();
  }

  // ---- members

  std::shared_ptr<ServerCore> core_;
  const std::uint64_t id_;
  std::shared_ptr<ssl::context> tls_context_;  // kept alive for the stream (TLS only)
  Stream stream_;
  asio::steady_timer deadline_timer_;
  asio::steady_timer keepalive_timer_;
  std::string remote_address_;

  State state_ = State::reading_request;
  bool read_in_progress_ = false;
  bool write_in_progress_ = false;
  bool draining_ = false;
  bool tls_shutdown_started_ = false;
  // After a refused request: input is read and discarded, never parsed (see reject_request).
  bool discarding_input_ = false;
  // The client finished sending (EOF) while we were still answering a refused request.
  bool input_ended_ = false;
  std::size_t lingering_discarded_ = 0;  // bytes discarded since the refusal, or while lingering

  // reading
  beast::flat_buffer unparsed_;  // received, not yet parsed (the current and pipelined requests)
  std::size_t unparsed_limit_ = 0;
  std::unique_ptr<char[]> read_chunk_;
  Request incoming_;
  std::optional<RequestParser> parser_;
  bool request_started_ = false;
  bool continue_sent_ = false;
  std::uint64_t requests_dispatched_ = 0;

  // the current exchange
  std::uint64_t current_sequence_ = 0;
  std::weak_ptr<ExchangeImpl> current_exchange_;
  std::vector<std::function<void()>> peer_closed_callbacks_;
  bool keep_alive_ = true;
  bool head_request_ = false;
  int request_version_ = 11;

  // streaming
  bool stream_chunked_ = true;
  bool stream_finishing_ = false;
  std::chrono::milliseconds keepalive_interval_{0};
  Clock::time_point last_stream_activity_{};
  std::uint64_t keepalive_generation_ = 0;

  // writing
  std::deque<OutgoingPiece> write_queue_;  // deque: pushing never moves pieces being written
  std::size_t queued_bytes_ = 0;
  std::size_t front_written_ = 0;
  std::array<asio::const_buffer, kMaxGatherPieces * 3> gather_{};
  std::string tls_staging_;

  // deadline timer
  Clock::time_point deadline_ = kNever;
  Clock::time_point timer_expiry_ = kNever;
  bool timer_armed_ = false;
  std::uint64_t timer_generation_ = 0;
};

// ---------------------------------------------------------------------------------------------
// ServerCore

void ServerCore::start_accept(const std::shared_ptr<Listener>& listener) {
  listener->acceptor.async_accept(asio::make_strand(io),
                                  [self = shared_from_this(), listener](const error_code& ec, tcp::socket socket) {
                                    self->on_accept(listener, ec, std::move(socket));
                                  });
}

void ServerCore::on_accept(const std::shared_ptr<Listener>& listener, const error_code& ec, tcp::socket socket) {
  if (listener->closed || ec == asio::error::operation_aborted) return;
  if (ec) {
    // EMFILE/ENFILE/ENOBUFS and friends: transient; the connection stays queued in the backlog.
    listener->retry_timer.expires_after(kAcceptRetryDelay);
    listener->retry_timer.async_wait([self = shared_from_this(), listener](const error_code& wait_error) {
      if (!wait_error && !listener->closed) self->start_accept(listener);
    });
    return;
  }
  // Only this strand increments, so check-then-increment cannot overshoot the cap.
  if (active_connections.load(std::memory_order_acquire) >= limits.max_connections) {
    refused_connections.fetch_add(1, std::memory_order_relaxed);
    error_code ignored;  // refusing: nothing to report to a peer we will not serve
    socket.close(ignored);
  } else {
    active_connections.fetch_add(1, std::memory_order_acq_rel);
    const std::uint64_t id = ++next_connection_id;
    std::shared_ptr<ConnectionBase> base;
    if (listener->tls) {
      auto connection = std::make_shared<Connection<ssl::stream<tcp::socket>>>(shared_from_this(), id,
                                                                               std::move(socket), listener->tls);
      base = connection;
      {
        std::lock_guard lock(registry_mutex);
        connections.emplace(id, base);
      }
      connection->start();
    } else {
      auto connection = std::make_shared<Connection<tcp::socket>>(shared_from_this(), id, std::move(socket));
      base = connection;
      {
        std::lock_guard lock(registry_mutex);
        connections.emplace(id, base);
      }
      connection->start();
    }
  }
  start_accept(listener);
}

void ServerCore::on_connection_closed(std::uint64_t id) {
  {
    std::lock_guard lock(registry_mutex);
    connections.erase(id);
  }
  if (active_connections.fetch_sub(1, std::memory_order_acq_rel) == 1 && draining.load(std::memory_order_acquire)) {
    asio::post(control, [self = shared_from_this()] { self->on_drained(); });
  }
}

void ServerCore::close_listeners() {
  std::lock_guard lock(listeners_mutex);
  for (auto& listener : listeners) {
    listener->closed = true;
    error_code ignored;  // closing an acceptor only fails if it is already closed
    listener->acceptor.close(ignored);
    listener->retry_timer.cancel();
  }
}

std::vector<std::shared_ptr<ConnectionBase>> ServerCore::connections_snapshot() {
  std::vector<std::shared_ptr<ConnectionBase>> snapshot;
  std::lock_guard lock(registry_mutex);
  snapshot.reserve(connections.size());
  for (auto& [id, weak] : connections) {
    if (auto connection = weak.lock()) snapshot.push_back(std::move(connection));
  }
  return snapshot;
}

void ServerCore::begin_graceful_stop() {
  if (draining.exchange(true, std::memory_order_acq_rel)) return;
  close_listeners();
  for (auto& connection : connections_snapshot()) connection->post_drain();
  if (active_connections.load(std::memory_order_acquire) == 0) {
    on_drained();
    return;
  }
  grace_timer.expires_after(limits.shutdown_grace);
  grace_timer.async_wait([self = shared_from_this()](const error_code& ec) {
    if (!ec) self->on_grace_expired();
  });
}

void ServerCore::begin_immediate_stop() {
  draining.store(true, std::memory_order_release);
  close_listeners();
  on_grace_expired();
}

void ServerCore::on_grace_expired() {
  if (stop_finished) return;
  for (auto& connection : connections_snapshot()) connection->post_force_close();
  finish_stopping();
  if (active_connections.load(std::memory_order_acquire) == 0) return;
  // Forced closes complete promptly; this only guards against something still holding a
  // thread (the process is being told to exit).
  backstop_timer.expires_after(kStopBackstop);
  backstop_timer.async_wait([self = shared_from_this()](const error_code& ec) {
    if (!ec) self->io.stop();
  });
}

void ServerCore::on_drained() {
  finish_stopping();
  backstop_timer.cancel();
}

// Releases what keeps run() going once connections are done.
void ServerCore::finish_stopping() {
  if (stop_finished) return;
  stop_finished = true;
  grace_timer.cancel();
  if (signals) {
    error_code ignored;  // cancelling a signal_set cannot meaningfully fail
    signals->cancel(ignored);
  }
  work_guard.reset();
}

void ServerCore::wait_for_signal() {
  signals->async_wait([self = shared_from_this()](const error_code& ec, int) {
    if (ec || self->stop_finished) return;
    if (++self->signals_received == 1) {
      self->begin_graceful_stop();
    } else {
      self->begin_immediate_stop();
    }
    if (!self->stop_finished) self->wait_for_signal();
  });
}

void ServerCore::run_io() {
  for (;;) {
    try {
      io.run();
      return;
    } catch (const std::exception& error) {
      // Completion handlers do not throw by design; if one does, keep serving the others.
      std::fprintf(stderr, "bastion http: unexpected exception on an I/O thread: %s\n", error.what());
    } catch (...) {
      std::fprintf(stderr, "bastion http: unexpected exception on an I/O thread\n");
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Server

struct Server::Impl : ServerCore {
  using ServerCore::ServerCore;
};

namespace {

// Limits come from validated configuration; this catches wiring mistakes (a zero that would
// refuse everything or time out at once) at start-up instead of as odd runtime behaviour.
const Limits& checked(const Limits& limits) {
  auto require = [](bool ok, const char* what) {
    if (!ok) throw std::invalid_argument(std::string("http::Limits: ") + what);
  };
  require(limits.max_header_bytes >= 256 && limits.max_header_bytes <= 1024 * 1024,
          "max_header_bytes must be between 256 bytes and 1 MiB");
  require(limits.read_timeout.count() > 0, "read_timeout must be positive");
  require(limits.idle_timeout.count() > 0, "idle_timeout must be positive");
  require(limits.write_timeout.count() > 0, "write_timeout must be positive");
  require(limits.shutdown_grace.count() >= 0, "shutdown_grace must not be negative");
  require(limits.max_connections > 0, "max_connections must be positive");
  require(limits.max_write_queue_bytes > 0, "max_write_queue_bytes must be positive");
  require(limits.lingering_close_timeout.count() >= 0, "lingering_close_timeout must not be negative");
  return limits;
}

}  // namespace

Server::Server(Limits limits, Handler handler, std::size_t threads)
    : impl_(std::make_shared<Impl>(checked(limits), std::move(handler), threads)) {
  if (!impl_->handler) throw std::invalid_argument("http::Server needs a handler");
}

Server::~Server() {
  stop();
  wait();
  // Run what stopping left queued (sockets closing, on_peer_closed callbacks) here, now that no
  // I/O thread runs; bounded in case something keeps re-posting.
  impl_->io.restart();
  for (int round = 0; round < 1000 && impl_->io.poll() > 0; ++round) {
  }
  impl_->io_finished.store(true, std::memory_order_release);
}

std::uint16_t Server::listen(const ListenerSpec& spec) {
  error_code ec;
  asio::ip::address address;
  if (iequals(spec.address, "localhost")) {
    address = asio::ip::address_v4::loopback();
  } else {
    address = asio::ip::make_address(spec.address, ec);
    if (ec)
      throw std::runtime_error("invalid listen address \"" + spec.address + "\": expected an IP address or localhost");
  }
  const std::string where = spec.address + ":" + std::to_string(spec.port);
  if (!spec.tls && !address.is_loopback() && !spec.allow_plain_http_on_non_loopback) {
    throw std::runtime_error(
        "refusing plain HTTP on non-loopback address " + where +
        ": configure TLS, or allow plain HTTP explicitly when a TLS-terminating proxy is in front");
  }
  std::shared_ptr<ssl::context> tls_context;
  if (spec.tls) tls_context = make_tls_context(*spec.tls);

  auto listener = std::make_shared<Listener>(impl_->control, std::move(tls_context));
  tcp::endpoint endpoint(address, spec.port);
  auto fail = [&](const char* step) {
    throw std::runtime_error("cannot listen on " + where + " (" + step + "): " + ec.message());
  };
  listener->acceptor.open(endpoint.protocol(), ec);
  if (ec) fail("open");
  // Lets a restarted server bind while old connections sit in TIME_WAIT; on Linux it does not
  // allow two live listeners on one port.
  listener->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (ec) fail("SO_REUSEADDR");
  listener->acceptor.bind(endpoint, ec);
  if (ec) fail("bind");
  listener->acceptor.listen(tcp::socket::max_listen_connections, ec);
  if (ec) fail("listen");
  const std::uint16_t port = listener->acceptor.local_endpoint(ec).port();
  if (ec) fail("local_endpoint");
  {
    std::lock_guard lock(impl_->listeners_mutex);
    impl_->listeners.push_back(listener);
  }
  asio::post(impl_->control, [core = std::static_pointer_cast<ServerCore>(impl_), listener] {
    if (core->draining.load(std::memory_order_acquire)) {
      listener->closed = true;
      error_code ignored;
      listener->acceptor.close(ignored);
      return;
    }
    core->start_accept(listener);
  });
  return port;
}

void Server::run() {
  {
    std::lock_guard lock(impl_->threads_mutex);
    for (std::size_t i = 1; i < impl_->thread_count; ++i) {
      impl_->threads.emplace_back([core = impl_] {
        core::name_this_thread("bastion-io");
        core->run_io();
      });
    }
  }
  impl_->run_io();
  wait();
}

void Server::start() {
  std::lock_guard lock(impl_->threads_mutex);
  for (std::size_t i = 0; i < impl_->thread_count; ++i) {
    impl_->threads.emplace_back([core = impl_] {
      core::name_this_thread("bastion-io");
      core->run_io();
    });
  }
}

void Server::wait() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(impl_->threads_mutex);
    threads.swap(impl_->threads);
  }
  for (auto& thread : threads) {
    if (thread.joinable()) thread.join();
  }
}

void Server::stop_gracefully() {
  asio::post(impl_->control, [core = std::static_pointer_cast<ServerCore>(impl_)] { core->begin_graceful_stop(); });
}

void Server::stop() {
  asio::post(impl_->control, [core = std::static_pointer_cast<ServerCore>(impl_)] { core->begin_immediate_stop(); });
}

void Server::stop_on_signals(std::initializer_list<int> signal_numbers) {
  std::vector<int> numbers(signal_numbers);
  asio::post(impl_->control, [core = std::static_pointer_cast<ServerCore>(impl_), numbers] {
    if (core->stop_finished) return;
    if (!core->signals) core->signals.emplace(core->control);
    for (int number : numbers) {
      error_code ec;
      core->signals->add(number, ec);
      if (ec) std::fprintf(stderr, "bastion http: cannot watch signal %d: %s\n", number, ec.message().c_str());
    }
    core->wait_for_signal();
  });
}

std::size_t Server::connection_count() const { return impl_->active_connections.load(std::memory_order_acquire); }

RejectionCounts Server::rejection_counts() const {
  RejectionCounts c;
  c.bad_request = impl_->rejected_400.load(std::memory_order_relaxed);
  c.request_timeout = impl_->rejected_408.load(std::memory_order_relaxed);
  c.payload_too_large = impl_->rejected_413.load(std::memory_order_relaxed);
  c.header_fields_too_large = impl_->rejected_431.load(std::memory_order_relaxed);
  c.other = impl_->rejected_other.load(std::memory_order_relaxed);
  return c;
}

std::uint64_t Server::refused_connection_count() const {
  return impl_->refused_connections.load(std::memory_order_relaxed);
}

const Limits& Server::limits() const { return impl_->limits; }

}  // namespace bastion::http
