#include "modules/demo/text_search.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace bastion::modules::demo {
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kBinaryProbeBytes = 8192;  // the same heuristic as git and GNU grep
constexpr std::size_t kMaxRelativePath = 4096;

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Closes the descriptor on every path out of scan_file.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

enum class ReadStatus { ok, too_large, unreadable };

ReadStatus read_regular_file(const fs::path& path, std::uint64_t max_bytes, std::string& out) {
  // O_NOFOLLOW: the last component must not have become a symlink since we looked at it.
  // O_NONBLOCK: opening a FIFO swapped in for a file must not hang the worker.
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
  if (fd.get() < 0) return ReadStatus::unreadable;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return ReadStatus::unreadable;
  if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) > max_bytes) return ReadStatus::too_large;
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t filled = 0;
  while (filled < out.size()) {
    const ssize_t n = ::read(fd.get(), out.data() + filled, out.size() - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ReadStatus::unreadable;
    if (n == 0) break;  // the file shrank while we read it: search what we have
    filled += static_cast<std::size_t>(n);
  }
  out.resize(filled);
  return ReadStatus::ok;
}

// The matching line around `hit`, cut to at most `max_chars` bytes on UTF-8 boundaries.
std::string snippet(std::string_view line, std::size_t hit, std::size_t needle_size, std::size_t max_chars) {
  std::size_t begin = 0, end = line.size();
  if (line.size() > max_chars) {
    const std::size_t lead = max_chars > needle_size ? (max_chars - needle_size) / 3 : 0;
    begin = hit > lead ? hit - lead : 0;
    end = std::min(line.size(), begin + max_chars);
    while (begin > 0 && begin < line.size() && is_continuation(static_cast<unsigned char>(line[begin]))) ++begin;
    while (end < line.size() && end > begin && is_continuation(static_cast<unsigned char>(line[end]))) --end;
  }
  std::string_view cut = line.substr(begin, end - begin);
  while (!cut.empty() && (cut.front() == ' ' || cut.front() == '\t')) cut.remove_prefix(1);
  while (!cut.empty() && (cut.back() == ' ' || cut.back() == '\t' || cut.back() == '\r')) cut.remove_suffix(1);
  std::string out;
  if (begin > 0) out += "\u2026";
  out += sanitize_text(cut);
  if (end < line.size()) out += "\u2026";
  return out;
}

enum class Token { literal, any_char, star, globstar, globstar_dir };

struct GlobToken {
  Token kind;
  char c = 0;
};

std::vector<GlobToken> tokenize(std::string_view pattern) {
  std::vector<GlobToken> tokens;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '*') {
      if (i + 1 < pattern.size() && pattern[i + 1] == '*') {
        ++i;
        while (i + 1 < pattern.size() && pattern[i + 1] == '*') ++i;  // "***" is "**"
        if (i + 1 < pattern.size() && pattern[i + 1] == '/') {
          ++i;
          tokens.push_back({Token::globstar_dir});  // "**/": zero or more whole folders
        } else {
          tokens.push_back({Token::globstar});
        }
      } else if (tokens.empty() || tokens.back().kind != Token::star) {
        tokens.push_back({Token::star});
      }
    } else if (c == '?') {
      tokens.push_back({Token::any_char});
    } else {
      tokens.push_back({Token::literal, c});
    }
  }
  return tokens;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view path) {
  if (pattern.find('/') == std::string_view::npos) {
    const auto slash = path.rfind('/');
    if (slash != std::string_view::npos) path.remove_prefix(slash + 1);
  }
  // Dynamic programming over (pattern token, text prefix): O(tokens x length) time, O(length)
  // memory, no backtracking blow-up whatever the pattern.
  const auto tokens = tokenize(pattern);
  const std::size_t n = path.size();
  std::vector<char> row(n + 1, 0), next(n + 1, 0);
  row[0] = 1;
  for (const auto& token : tokens) {
    std::fill(next.begin(), next.end(), 0);
    switch (token.kind) {
      case Token::literal:
        for (std::size_t j = 1; j <= n; ++j) next[j] = row[j - 1] && path[j - 1] == token.c;
        break;
      case Token::any_char:
        for (std::size_t j = 1; j <= n; ++j) next[j] = row[j - 1] && path[j - 1] != '/';
        break;
      case Token::star:
        next[0] = row[0];
        for (std::size_t j = 1; j <= n; ++j) next[j] = row[j] || (next[j - 1] && path[j - 1] != '/');
        break;
      case Token::globstar:
        next[0] = row[0];
        for (std::size_t j = 1; j <= n; ++j) next[j] = row[j] || next[j - 1];
        break;
      case Token::globstar_dir: {
        // Empty, or anything that ends with '/'.
        bool any_before = false;
        for (std::size_t j = 0; j <= n; ++j) {
          next[j] = row[j] || (j > 0 && path[j - 1] == '/' && any_before);
          if (row[j]) any_before = true;
        }
        break;
      }
    }
    row.swap(next);
  }
  return row[n] != 0;
}

std::string sanitize_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  auto cont = [&](std::size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i + k < n && p[i + k] >= lo && p[i + k] <= hi;
  };
  while (i < n) {
    const unsigned char c = p[i];
    std::size_t len = 0;
    if (c < 0x80) {
      out += (c < 0x20 && c != '\t') || c == 0x7f ? ' ' : static_cast<char>(c);
      ++i;
      continue;
    }
    // Well-formed sequences per Unicode Table 3-7 (no overlongs, no surrogates, <= U+10FFFF).
    if (c >= 0xC2 && c <= 0xDF && cont(1)) len = 2;
    else if (c == 0xE0 && cont(1, 0xA0, 0xBF) && cont(2)) len = 3;
    else if (((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) && cont(1) && cont(2)) len = 3;
    else if (c == 0xED && cont(1, 0x80, 0x9F) && cont(2)) len = 3;
    else if (c == 0xF0 && cont(1, 0x90, 0xBF) && cont(2) && cont(3)) len = 4;
    else if (c >= 0xF1 && c <= 0xF3 && cont(1) && cont(2) && cont(3)) len = 4;
    else if (c == 0xF4 && cont(1, 0x80, 0x8F) && cont(2) && cont(3)) len = 4;
    if (len == 0) {
      out += "\uFFFD";
      ++i;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  return out;
}

bool is_within(const fs::path& root, const fs::path& path) {
  auto r = root.begin();
  auto p = path.begin();
  for (; r != root.end(); ++r, ++p) {
    if (r->empty()) continue;  // a trailing separator yields an empty last element
    if (p == path.end() || *r != *p) return false;
  }
  return true;
}

std::expected<TextSearcher, std::string> TextSearcher::open(const fs::path& root, SearchLimits limits) {
  std::error_code ec;
  fs::path canonical = fs::canonical(root, ec);
  if (ec) return std::unexpected<std::string>("the search root '" + root.string() + "' does not exist");
  if (!fs::is_directory(canonical, ec))
    return std::unexpected<std::string>("the search root '" + root.string() + "' is not a folder");
  return TextSearcher(std::move(canonical), limits);
}

std::expected<fs::path, std::string> TextSearcher::resolve(std::string_view relative) const {
  if (relative.empty() || relative == ".") return root_;
  if (relative.size() > kMaxRelativePath) return std::unexpected<std::string>("the path is too long");
  if (relative.find('\0') != std::string_view::npos)
    return std::unexpected<std::string>("the path contains a NUL character");
  const fs::path rel{std::string(relative)};
  if (rel.is_absolute() || rel.has_root_name() || relative.front() == '/')
    return std::unexpected<std::string>("the path must be relative to the search folder");
  for (const auto& part : rel) {
    // Lexical check first: '..' is refused even where it would resolve back inside the root,
    // so the rule is simple to state and does not depend on what the folder contains.
    if (part == "..") return std::unexpected<std::string>("'..' is not allowed in the path");
    const std::string name = part.string();
    if (!name.empty() && name.front() == '.' && name != ".")
      return std::unexpected<std::string>("hidden files and folders are not searched");
  }
  std::error_code ec;
  // weakly_canonical resolves every symlink in the part that exists, so a link that points
  // outside the root is caught by the prefix check below.
  const fs::path resolved = fs::weakly_canonical(root_ / rel, ec);
  if (ec) return std::unexpected<std::string>("the path does not exist in the search folder");
  if (!is_within(root_, resolved)) return std::unexpected<std::string>("the path leads outside the search folder");
  if (!fs::exists(resolved, ec)) return std::unexpected<std::string>("the path does not exist in the search folder");
  return resolved;
}

std::expected<SearchReport, std::string> TextSearcher::search(const SearchRequest& request,
                                                              const std::function<bool()>& cancelled) const {
  if (request.query.empty()) return std::unexpected<std::string>("the query is empty");
  if (request.query.find_first_of("\r\n") != std::string::npos)
    return std::unexpected<std::string>("the query must be a single line");
  auto start = resolve(request.path);
  if (!start) return std::unexpected(start.error());

  SearchReport report;
  const std::string needle = request.case_sensitive ? request.query : lowered(request.query);
  std::string content;
  std::string folded;
  std::size_t entries_seen = 0;

  auto stop = [&](const char* reason) {
    report.truncated = true;
    report.truncation_reason = reason;
  };

  // Searches one file; returns false when the whole search must stop.
  auto scan = [&](const fs::path& open_path, const std::string& relative) -> bool {
    if (!request.glob.empty() && !glob_match(request.glob, relative)) return true;
    if (report.files_scanned >= limits_.max_files) {
      stop("file limit reached");
      return false;
    }
    if (cancelled && cancelled()) {
      stop("cancelled");
      return false;
    }
    ++report.files_scanned;
    switch (read_regular_file(open_path, limits_.max_file_bytes, content)) {
      case ReadStatus::too_large:
        ++report.skipped_too_large;
        return true;
      case ReadStatus::unreadable:
        return true;
      case ReadStatus::ok:
        break;
    }
    if (std::memchr(content.data(), '\0', std::min(content.size(), kBinaryProbeBytes)) != nullptr) {
      ++report.skipped_binary;
      return true;
    }
    std::string_view haystack = content;
    if (!request.case_sensitive) {
      folded = lowered(content);
      haystack = folded;
    }
    std::size_t line = 1, counted = 0, from = 0;
    for (;;) {
      const std::size_t hit = haystack.find(needle, from);
      if (hit == std::string_view::npos) break;
      line += static_cast<std::size_t>(std::count(haystack.begin() + counted, haystack.begin() + hit, '\n'));
      const std::size_t line_begin = hit == 0 ? 0 : (haystack.rfind('\n', hit - 1) + 1);  // npos + 1 == 0
      std::size_t line_end = haystack.find('\n', hit);
      if (line_end == std::string_view::npos) line_end = haystack.size();
      if (report.matches.size() >= limits_.max_matches) {
        stop("match limit reached");
        return false;
      }
      const std::string_view original = std::string_view(content).substr(line_begin, line_end - line_begin);
      report.matches.push_back({relative, line, snippet(original, hit - line_begin, needle.size(), limits_.max_line_chars)});
      if (line_end == haystack.size()) break;
      from = line_end + 1;  // one result per line
      counted = from;
      ++line;
    }
    return true;
  };

  std::error_code ec;
  if (fs::is_regular_file(*start, ec)) {
    scan(*start, start->lexically_relative(root_).generic_string());
    return report;
  }

  struct Pending {
    fs::path folder;
    int depth;
  };
  std::vector<Pending> stack{{*start, 0}};
  while (!stack.empty() && !report.truncated) {
    const Pending current = std::move(stack.back());
    stack.pop_back();

    std::vector<fs::directory_entry> entries;
    fs::directory_iterator it(current.folder, fs::directory_options::skip_permission_denied, ec);
    if (ec) continue;  // unreadable folder: skip it, as find(1) would
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      if (ec) break;
      if (++entries_seen > limits_.max_entries) {
        stop("folder entry limit reached");
        break;
      }
      entries.push_back(*it);
    }
    // Sorted so that results (and which files a limit cuts off) do not depend on the file
    // system's directory order.
    std::sort(entries.begin(), entries.end(),
              [](const auto& a, const auto& b) { return a.path().filename() < b.path().filename(); });

    std::vector<Pending> subfolders;
    for (const auto& entry : entries) {
      if (report.truncated) break;
      const std::string name = entry.path().filename().string();
      if (name.empty() || name.front() == '.') continue;  // dot-files: see the header
      const auto status = entry.symlink_status(ec);
      if (ec) continue;
      const std::string relative = entry.path().lexically_relative(root_).generic_string();
      if (fs::is_symlink(status)) {
        const fs::path target = fs::canonical(entry.path(), ec);
        if (ec) continue;  // dangling link
        if (!is_within(root_, target)) {
          ++report.refused_links;
          continue;
        }
        if (fs::is_regular_file(target, ec) && !scan(target, relative)) break;
        continue;  // linked folders are not followed: they are searched where they really are
      }
      if (fs::is_directory(status)) {
        if (current.depth < limits_.max_depth) subfolders.push_back({entry.path(), current.depth + 1});
      } else if (fs::is_regular_file(status)) {
        if (!scan(entry.path(), relative)) break;
      }
      // Sockets, FIFOs and devices are never opened.
    }
    for (auto it2 = subfolders.rbegin(); it2 != subfolders.rend(); ++it2) stack.push_back(std::move(*it2));
  }
  return report;
}

}  // namespace bastion::modules::demo
