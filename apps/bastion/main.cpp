// bastion: command-line parsing and start-up only; the wiring lives in app.cpp.
//
// Exit codes: 0 success (and after a graceful shutdown), 1 run-time failure (e.g. the port is
// taken), 2 bad configuration or bad command line (DESIGN.md §5).
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "app.hpp"
#include "core/base64.hpp"
#include "core/sha256.hpp"
#include "jsonrpc/message.hpp"
#include "json_log.hpp"

namespace {

using namespace bastion;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitBadConfig = 2;

// The config file, or the embedded default without one.
std::optional<config::Config> load(const std::string& file) {
  auto result = file.empty() ? config::LoadResult(config::default_config())
                             : config::load_config_file(file, app::load_options());
  if (!result) {
    std::cerr << config::format_errors(result.error());
    return std::nullopt;
  }
  return std::move(*result);
}

// Written once every listener is bound: what test harnesses poll instead of parsing stdout.
// Written to a temporary name first, so a reader never sees a partial number.
bool write_port_file(const std::string& path, std::uint16_t port) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << port << '\n';
    if (!out.flush()) return false;
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  return !ec;
}

struct ServeArgs {
  std::string config_file;
  std::optional<std::uint16_t> port;
  std::optional<std::string> listen;
  bool allow_insecure = false;
  std::string port_file;
  std::string admin_port_file;
  bool print_config = false;
};

int serve(const ServeArgs& args) {
  auto loaded = load(args.config_file);
  if (!loaded) return kExitBadConfig;
  config::Config cfg = std::move(*loaded);
  const auto errors = config::apply_overrides(
      cfg, config::ListenerOverrides{args.listen, args.port, args.allow_insecure}, app::builtin_module_names());
  if (!errors.empty()) {
    std::cerr << config::format_errors(errors);
    return kExitBadConfig;
  }
  if (args.print_config) {
    std::cout << config::dump_redacted(cfg);
    return kExitOk;
  }
  app::setup_logging(cfg.logging);

  // SIGINT/SIGTERM are taken with sigtimedwait() below, so they are blocked before any thread
  // exists (threads inherit the mask) and never interrupt an I/O thread.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // A peer that went away must cost an EPIPE, not the process.
  std::signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<app::HttpApp> server;
  try {
    server = std::make_unique<app::HttpApp>(cfg);
  } catch (const app::ConfigurationError& e) {
    std::cerr << e.what() << '\n';
    return kExitBadConfig;
  }
  std::vector<std::uint16_t> ports;
  try {
    ports = server->listen();
  } catch (const std::exception& e) {
    std::cerr << "bastion: cannot listen: " << e.what() << '\n';
    return kExitFailure;
  }
  if (!args.port_file.empty() && !write_port_file(args.port_file, ports.front())) {
    std::cerr << "bastion: cannot write port file " << args.port_file << '\n';
    return kExitFailure;
  }
  if (!args.admin_port_file.empty()) {
    if (!server->admin_port()) {
      std::cerr << "bastion: --admin-port-file given but the admin listener is not enabled (admin.enabled)\n";
      return kExitBadConfig;
    }
    if (!write_port_file(args.admin_port_file, *server->admin_port())) {
      std::cerr << "bastion: cannot write port file " << args.admin_port_file << '\n';
      return kExitFailure;
    }
  }

  const auto urls = server->route_urls();
  for (const auto& url : urls) std::cout << "Bastion " << BASTION_VERSION << " serving MCP at " << url << '\n';
  if (auto* as = server->authorization_server()) {
    std::cout << "Authorization server (OAuth 2.1): " << as->issuer() << " (metadata: " << as->issuer()
              << "/.well-known/oauth-authorization-server)\n";
    if (auto admin = server->take_admin_credentials()) {
      // Printed once, on the console only (never in the log): the store keeps only its hash.
      std::cout << "First start: created the user '" << admin->username << "' with the password '" << admin->password
                << "'.\n  It is shown only this once; sign in with it on the page an MCP client opens.\n";
    }
  }
  const bool protected_route = !cfg.routes.empty() && cfg.routes.front().auth.has_value();
  if (protected_route) {
    std::cout << "Connect a client: point an MCP client at " << urls.front()
              << "; it registers itself, opens the sign-in page in your browser, then asks you to allow it.\n"
              << "From a terminal (in the Bastion source tree): TOKEN=\"$(scripts/login.sh " << urls.front() << ")\"\n"
              << "  then: scripts/inspector.sh " << urls.front()
              << " --transport http --method tools/list --header \"Authorization: Bearer $TOKEN\"" << std::endl;
  } else {
    std::cout << "Try it (in the Bastion source tree): scripts/inspector.sh " << urls.front()
              << " --transport http --method tools/list" << std::endl;
  }

  server->start();
  spdlog::info("bastion {} started: {} route(s), {} listener(s)", BASTION_VERSION, cfg.routes.size(), cfg.listeners.size());

  std::atomic<bool> stopped{false};
  std::thread waiter([&] {
    server->wait();
    stopped = true;
  });
  std::thread shutdown;
  int signals = 0;
  while (!stopped) {
    const timespec tick{0, 100'000'000};
    const int signal = sigtimedwait(&stop_signals, nullptr, &tick);
    if (signal <= 0) continue;
    if (++signals == 1) {
      spdlog::info("signal {}: shutting down gracefully (again to exit at once)", signal);
      // On its own thread: endpoints wait for in-flight handlers, and a second signal must still
      // be heard meanwhile.
      shutdown = std::thread([&] { server->shutdown_gracefully(); });
    } else {
      spdlog::warn("signal {} again: exiting now", signal);
      spdlog::default_logger()->flush();
      std::_Exit(kExitFailure);
    }
  }
  waiter.join();
  if (shutdown.joinable()) shutdown.join();
  server.reset();
  spdlog::info("bastion stopped");
  return kExitOk;
}

int stdio(const std::string& config_file, const std::string& route_path) {
  auto loaded = load(config_file);
  if (!loaded) return kExitBadConfig;
  const config::Config& cfg = *loaded;
  std::size_t index = 0;
  if (!route_path.empty()) {
    while (index < cfg.routes.size() && cfg.routes[index].path != route_path) ++index;
    if (index == cfg.routes.size()) {
      std::cerr << "bastion: no route " << route_path << " in " << cfg.source << " (routes:";
      for (const auto& r : cfg.routes) std::cerr << ' ' << r.path;
      std::cerr << ")\n";
      return kExitBadConfig;
    }
  }
  // stdout carries MCP messages only; logs go to stderr (MCP transports §stdio).
  app::setup_logging(cfg.logging);
  std::shared_ptr<ServerDefinition> definition;
  try {
    definition = app::build_definition(cfg, index);
  } catch (const app::ConfigurationError& e) {
    std::cerr << e.what() << '\n';
    return kExitBadConfig;
  }
  spdlog::info("bastion {} serving {} over stdio", BASTION_VERSION, cfg.routes[index].path);
  return transport::run_stdio(definition, app::stdio_options(cfg), std::cin, std::cout);
}

// Reads one password line from standard input and prints its argon2id hash, for the
// authorization_server.users list. The password never appears on the command line (where `ps`
// and shell history would see it).
int hash_password() {
  std::string password;
  std::getline(std::cin, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.size() < 8) {
    std::cerr << "bastion: the password must have at least 8 characters\n";
    return kExitBadConfig;
  }
  auto hash = authserver::PasswordHasher().hash(password);
  if (!hash) {
    std::cerr << "bastion: hashing failed\n";
    return kExitFailure;
  }
  std::cout << *hash << '\n';
  return kExitOk;
}

// Reads tool arguments (one JSON object) from standard input and prints their digest under the
// config's security.argument_digest_key, as request lines and audit records show it: an
// investigator can then tell whether a logged call had these arguments. Only a configured key
// can do that; a process's random one is gone with it.
int digest_arguments(const std::string& file) {
  auto loaded = load(file);
  if (!loaded) return kExitBadConfig;
  if (loaded->security.argument_digest_key.empty()) {
    std::cerr << "bastion: " << loaded->source
              << " sets no security.argument_digest_key: each server process then digests under a random key of its "
                 "own, which no other process can reproduce\n";
    return kExitBadConfig;
  }
  // No request can carry more than limits.max_body_bytes, so no logged call has arguments longer.
  const std::size_t max_bytes = loaded->limits.max_body_bytes;
  std::string input(max_bytes + 1, '\0');
  std::cin.read(input.data(), static_cast<std::streamsize>(input.size()));
  input.resize(static_cast<std::size_t>(std::cin.gcount()));
  if (input.size() > max_bytes) {
    std::cerr << "bastion: standard input is longer than limits.max_body_bytes (" << max_bytes
              << " bytes), more than any request could carry\n";
    return kExitBadConfig;
  }
  // Parsed as the server parses a message, so the digest is of the same compact text.
  const auto arguments = jsonrpc::parse(input);
  if (!arguments || !arguments->is_object()) {
    std::cerr << "bastion: standard input must be one JSON object (a tools/call's arguments)"
              << (arguments ? std::string() : ": " + arguments.error().message) << '\n';
    return kExitBadConfig;
  }
  const std::string key = core::base64_decode(loaded->security.argument_digest_key).value_or(std::string());
  // The digest alone on standard output, for scripts that grep the logs for it.
  std::cout << telemetry::argument_digest(core::HmacSha256(key), arguments->get_object()) << '\n';
  std::cerr << "bastion: under the key with id " << telemetry::argument_digest_key_id(key)
            << " (a server's configuration_loaded audit record names its key's id)\n";
  return kExitOk;
}

int check_config(const std::string& file) {
  auto loaded = load(file);
  if (!loaded) return kExitBadConfig;
  try {
    app::check_startup(*loaded);
  } catch (const app::ConfigurationError& e) {
    std::cerr << e.what() << '\n';
    return kExitBadConfig;
  }
  // A fixed shape, for scripts: "ok: N routes, M listeners".
  std::cout << "ok: " << loaded->routes.size() << " routes, " << loaded->listeners.size() << " listeners\n";
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Bastion: a secure remote MCP server.\n"
               "Without --config, serves the built-in demo tools at http://127.0.0.1:8080/mcp, protected by\n"
               "the embedded OAuth 2.1 authorization server at http://127.0.0.1:8080.",
               "bastion"};
  cli.set_version_flag("--version", std::string("bastion ") + BASTION_VERSION, "Print the version and exit");
  cli.require_subcommand(1);
  cli.footer("Run 'bastion SUBCOMMAND --help' for a subcommand's options; the config file is described in "
             "docs/configuration.md.");

  ServeArgs serve_args;
  int port = 0;
  std::string listen;
  auto* serve_cmd = cli.add_subcommand("serve", "Serve MCP over HTTP (Streamable HTTP and HTTP+SSE)");
  serve_cmd->add_option("-c,--config", serve_args.config_file, "YAML config file (default: the built-in config)");
  auto* port_opt = serve_cmd->add_option("-p,--port", port, "Port of the first listener (0: any free port)")
                       ->check(CLI::Range(0, 65535));
  auto* listen_opt = serve_cmd->add_option("-l,--listen", listen, "IP address of the first listener, e.g. 0.0.0.0");
  serve_cmd->add_flag("--allow-insecure", serve_args.allow_insecure,
                      "Allow plain HTTP on a non-loopback --listen address (behind a TLS proxy)");
  serve_cmd->add_option("--port-file", serve_args.port_file, "Write the first listener's bound port to this file");
  serve_cmd->add_option("--admin-port-file", serve_args.admin_port_file,
                        "Write the admin listener's bound port (/metrics, /healthz, /readyz) to this file");
  serve_cmd->add_flag("--print-config", serve_args.print_config,
                      "Print the effective configuration (secrets redacted) and exit");

  std::string stdio_config, stdio_route;
  auto* stdio_cmd = cli.add_subcommand("stdio", "Serve one route over stdin/stdout (for local MCP clients)");
  stdio_cmd->add_option("-c,--config", stdio_config, "YAML config file (default: the built-in config)");
  stdio_cmd->add_option("-r,--route", stdio_route, "Path of the route to serve (default: the first)");

  std::string check_file;
  auto* check_cmd = cli.add_subcommand("check-config", "Validate a config file; exit 0 when it is valid, 2 when not");
  check_cmd->add_option("file", check_file, "YAML config file")->required();

  auto* hash_cmd = cli.add_subcommand("hash-password",
                                      "Read a password from standard input and print its argon2id hash "
                                      "(for authorization_server.users[].password_hash)");

  std::string digest_config;
  auto* digest_cmd = cli.add_subcommand(
      "digest-arguments",
      "Read tool arguments (a JSON object) from standard input and print their digest as request lines and audit "
      "records show it, under the config's security.argument_digest_key");
  digest_cmd->add_option("-c,--config", digest_config, "YAML config file that sets security.argument_digest_key")
      ->required();

  try {
    cli.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return cli.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    cli.exit(e);
    return kExitBadConfig;
  }

  try {
    if (*serve_cmd) {
      if (*port_opt) serve_args.port = static_cast<std::uint16_t>(port);
      if (*listen_opt) serve_args.listen = listen;
      return serve(serve_args);
    }
    if (*stdio_cmd) return stdio(stdio_config, stdio_route);
    if (*check_cmd) return check_config(check_file);
    if (*hash_cmd) return hash_password();
    if (*digest_cmd) return digest_arguments(digest_config);
  } catch (const std::exception& e) {
    std::cerr << "bastion: " << e.what() << '\n';
    return kExitFailure;
  }
  return kExitBadConfig;
}
