// Bounded, read-only text search inside ONE folder chosen by the operator, for the demo
// `search_text` tool.
//
// Everything a client sends (the query, the file filter, the sub-folder) is untrusted; the
// folder itself is trusted configuration. Servers MUST validate every tool input and sanitize
// outputs (S/2025-11-25/server/tools.mdx §Security Considerations; MCP-REQUIREMENTS 41) and
// prevent path traversal (S/2026-07-28/server/resources.mdx §Security Considerations;
// MCP-REQUIREMENTS 46, 100). The rules that keep a client inside the folder:
//  - a client path is relative, has no ".." component, and after std::filesystem::weakly_canonical
//    (which resolves symlinks) must still lie inside the canonical root, compared component by
//    component (a string prefix test would let /srv/docs-private pass for /srv/docs);
//  - while walking, a symlink whose target resolves outside the root is refused; one that stays
//    inside is followed for files only (directories are searched where they really are, which
//    also rules out symlink cycles);
//  - a file is opened with O_NOFOLLOW | O_NONBLOCK and checked with fstat to be a regular file,
//    so a symlink or FIFO swapped in after the check is not followed or waited on (a swap of an
//    intermediate folder is not re-checked: only someone who can write inside the shared folder,
//    whom the operator already trusts, could race it);
//  - dot-files and dot-folders (.git, .env, .ssh, ...) are skipped: they are where secrets
//    usually live, and they are rarely what a text search is for.
// And the rules that bound the work: at most max_files files read, max_entries directory
// entries looked at, max_depth folder levels, max_file_bytes per file, max_matches results;
// binary files (a NUL byte in the first 8 KiB) are skipped. Output text is valid UTF-8 (broken
// sequences become U+FFFD) and each matching line is cut to max_line_chars around the match.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace bastion::modules::demo {

struct SearchLimits {
  std::size_t max_files = 5000;                 // files read per search
  std::size_t max_entries = 50000;              // directory entries examined per search
  std::uint64_t max_file_bytes = 1024 * 1024;   // larger files are skipped
  std::size_t max_matches = 100;                // matching lines returned
  int max_depth = 32;                           // folder levels below the starting folder
  std::size_t max_line_chars = 240;             // bytes of context per matching line
};

struct SearchRequest {
  std::string query;            // literal text, not a regular expression
  bool case_sensitive = false;  // false: ASCII letters compare case-insensitively
  std::string glob;             // optional file filter, see glob_match
  std::string path;             // optional folder (or file) inside the root, relative to it
};

struct SearchMatch {
  std::string path;  // relative to the root, '/' separators
  std::size_t line = 0;  // 1-based
  std::string text;
};

struct SearchReport {
  std::vector<SearchMatch> matches;
  std::size_t files_scanned = 0;
  std::size_t skipped_binary = 0;
  std::size_t skipped_too_large = 0;
  std::size_t refused_links = 0;  // symlinks pointing outside the root
  bool truncated = false;         // a limit stopped the search early
  std::string truncation_reason;  // which limit, when truncated
};

// Glob-ish file filter: '*' matches any run of characters except '/', '?' one character except
// '/', '**' any run including '/'. A pattern without '/' is matched against the file name alone
// ("*.md"); one with '/' against the whole relative path ("docs/**/*.md"). Case-sensitive.
bool glob_match(std::string_view pattern, std::string_view path);

// Replaces every invalid UTF-8 sequence with U+FFFD and control characters (except tab) with a
// space, so that the text can go into JSON and onto a terminal as it is.
std::string sanitize_text(std::string_view bytes);

// True when `path` is `root` or below it; both must be canonical (or weakly canonical).
bool is_within(const std::filesystem::path& root, const std::filesystem::path& path);

class TextSearcher {
 public:
  // Fails when `root` does not exist or is not a folder (a configuration error).
  static std::expected<TextSearcher, std::string> open(const std::filesystem::path& root, SearchLimits limits = {});

  const std::filesystem::path& root() const { return root_; }
  const SearchLimits& limits() const { return limits_; }

  // Resolves a client-supplied relative path to a canonical path inside the root.
  std::expected<std::filesystem::path, std::string> resolve(std::string_view relative) const;

  // `cancelled` is polled between files; when it returns true the search stops early.
  std::expected<SearchReport, std::string> search(const SearchRequest& request,
                                                  const std::function<bool()>& cancelled = {}) const;

 private:
  TextSearcher(std::filesystem::path root, SearchLimits limits) : root_(std::move(root)), limits_(limits) {}

  std::filesystem::path root_;  // canonical
  SearchLimits limits_;
};

}  // namespace bastion::modules::demo
