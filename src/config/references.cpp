// Secret references in config strings (DESIGN.md §5): the config file names where a secret
// lives, never the secret itself. Error messages name the variable or file, never a value.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/config.hpp"

namespace bastion::config {

namespace {

// A secret file larger than this is almost certainly the wrong file.
constexpr std::uintmax_t kMaxSecretFileBytes = 1024 * 1024;

bool valid_env_name(const std::string& name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

std::expected<std::string, std::string> read_secret_file(const std::string& written,
                                                         const ReferenceContext& context) {
  namespace fs = std::filesystem;
  if (written.empty()) return std::unexpected(std::string("${file:} needs a path"));
  fs::path path(written);
  if (path.is_relative() && !context.base_directory.empty()) path = fs::path(context.base_directory) / path;
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    return std::unexpected("cannot read secret file '" + path.string() + "': no such file");
  }
  if (!fs::is_regular_file(status)) {
    return std::unexpected("cannot read secret file '" + path.string() + "': not a regular file");
  }
  const auto size = fs::file_size(path, ec);
  if (!ec && size > kMaxSecretFileBytes) {
    return std::unexpected("secret file '" + path.string() + "' is larger than 1 MiB");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::unexpected("cannot read secret file '" + path.string() + "': " + std::strerror(errno));
  }
  std::ostringstream content;
  content << in.rdbuf();
  std::string text = std::move(content).str();
  // Files written by `echo secret > file` end with a newline that is not part of the secret.
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace

bool has_reference(const std::string& text) {
  for (std::size_t i = 0; i + 1 < text.size(); ++i) {
    if (text.compare(i, 3, "$${") == 0) {
      i += 2;
      continue;
    }
    if (text[i] == '$' && text[i + 1] == '{') return true;
  }
  return false;
}

std::expected<std::string, std::string> resolve_references(const std::string& text,
                                                           const ReferenceContext& context) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      out += text[i++];
      continue;
    }
    const std::size_t close = text.find('}', i + 2);
    if (close == std::string::npos) {
      return std::unexpected(std::string("unterminated reference: '${' without a closing '}'"));
    }
    const std::string body = text.substr(i + 2, close - i - 2);
    const std::size_t colon = body.find(':');
    if (colon == std::string::npos) {
      return std::unexpected("'${" + body +
                             "}' is not a reference: use ${env:NAME} or ${file:/path} (write $${ for a literal ${)");
    }
    const std::string scheme = body.substr(0, colon);
    const std::string argument = body.substr(colon + 1);
    if (scheme == "env") {
      if (!valid_env_name(argument)) {
        return std::unexpected("'" + argument + "' is not a valid environment variable name in ${env:...}");
      }
      std::optional<std::string> value;
      if (context.getenv) {
        value = context.getenv(argument);
      } else if (const char* raw = std::getenv(argument.c_str())) {
        value = std::string(raw);
      }
      if (!value) return std::unexpected("environment variable " + argument + " is not set");
      out += *value;
    } else if (scheme == "file") {
      auto content = read_secret_file(argument, context);
      if (!content) return std::unexpected(content.error());
      out += *content;
    } else {
      return std::unexpected("unknown secret provider '" + scheme + "' in '${" + body +
                             "}' (supported: env, file; write $${ for a literal ${)");
    }
    i = close + 1;
  }
  return out;
}

}  // namespace bastion::config
