#include "modules/demo/text_search.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

namespace bastion::modules::demo {
namespace {

namespace fs = std::filesystem;

SearchRequest q(std::string query, bool case_sensitive = false, std::string glob = {}, std::string path = {}) {
  SearchRequest r;
  r.query = std::move(query);
  r.case_sensitive = case_sensitive;
  r.glob = std::move(glob);
  r.path = std::move(path);
  return r;
}

// base/
//   root/                       <- the shared folder
//     a.txt, docs/guide.md, docs/deep/x.md, notes/readme.txt
//     .env, .git/config        (hidden: never searched)
//     bin.dat                  (binary)
//     big.txt                  (over the size limit used by the tests)
//     link_inside.txt  -> a.txt
//     link_outside.txt -> ../outside/secret.txt
//     link_dir_outside -> ../outside
//     fifo                     (a named pipe: must never be opened)
//   root-sibling/leak.txt     (shares a string prefix with root/)
//   outside/secret.txt
class TextSearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("bastion-search-test-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    root_ = base_ / "root";
    fs::create_directories(root_ / "docs" / "deep");
    fs::create_directories(root_ / "notes");
    fs::create_directories(root_ / ".git");
    fs::create_directories(base_ / "outside");
    fs::create_directories(base_ / "root-sibling");
    write(root_ / "a.txt", "hello world\nHELLO again\nnothing here\n");
    write(root_ / "docs" / "guide.md", "# Guide\nSay hello\n");
    write(root_ / "docs" / "deep" / "x.md", "hello deep");
    write(root_ / "notes" / "readme.txt", "no match\r\nstill none\r\n");
    write(root_ / ".env", "hello=secret");
    write(root_ / ".git" / "config", "hello git");
    write(root_ / "bin.dat", std::string("hello\0binary", 12));
    write(root_ / "big.txt", std::string(200, 'x') + " hello");
    write(base_ / "outside" / "secret.txt", "hello from outside");
    write(base_ / "root-sibling" / "leak.txt", "hello sibling");
    fs::create_symlink("a.txt", root_ / "link_inside.txt");
    fs::create_symlink(base_ / "outside" / "secret.txt", root_ / "link_outside.txt");
    fs::create_symlink(base_ / "outside", root_ / "link_dir_outside");
    ASSERT_EQ(::mkfifo((root_ / "fifo").c_str(), 0600), 0);
  }
  void TearDown() override { fs::remove_all(base_); }

  static void write(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

  TextSearcher searcher(SearchLimits limits = small_limits()) {
    auto s = TextSearcher::open(root_, limits);
    EXPECT_TRUE(s.has_value());
    return std::move(*s);
  }
  static SearchLimits small_limits() {
    SearchLimits limits;
    limits.max_file_bytes = 100;
    return limits;
  }
  static std::vector<std::string> locations(const SearchReport& report) {
    std::vector<std::string> out;
    for (const auto& m : report.matches) out.push_back(m.path + ":" + std::to_string(m.line));
    return out;
  }

  fs::path base_, root_;
};

TEST_F(TextSearchTest, FindsMatchesCaseInsensitivelyAndSkipsWhatItMust) {
  auto report = searcher().search(q("hello"));
  ASSERT_TRUE(report.has_value()) << report.error();
  // Deterministic order: a folder's files by name, then its subfolders by name.
  EXPECT_EQ(locations(*report), (std::vector<std::string>{"a.txt:1", "a.txt:2", "link_inside.txt:1",
                                                          "link_inside.txt:2", "docs/guide.md:2", "docs/deep/x.md:1"}));
  EXPECT_EQ(report->matches[0].text, "hello world");
  EXPECT_EQ(report->skipped_binary, 1u);
  EXPECT_EQ(report->skipped_too_large, 1u);
  EXPECT_EQ(report->refused_links, 2u);  // link_outside.txt and link_dir_outside
  EXPECT_FALSE(report->truncated);
}

TEST_F(TextSearchTest, CaseSensitive) {
  auto report = searcher().search(q("HELLO", true));
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(locations(*report), (std::vector<std::string>{"a.txt:2", "link_inside.txt:2"}));
}

TEST_F(TextSearchTest, LineNumbersAcrossCrLfAndOneResultPerLine) {
  write(root_ / "notes" / "readme.txt", "x\r\nneedle needle\r\ny\r\nneedle\r\n");
  auto report = searcher().search(q("needle"));
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(locations(*report), (std::vector<std::string>{"notes/readme.txt:2", "notes/readme.txt:4"}));
  EXPECT_EQ(report->matches[1].text, "needle");  // the '\r' is not part of the text
}

TEST_F(TextSearchTest, GlobFilters) {
  auto md = searcher().search(q("hello", false, "*.md"));
  EXPECT_EQ(locations(*md), (std::vector<std::string>{"docs/guide.md:2", "docs/deep/x.md:1"}));
  auto top = searcher().search(q("hello", false, "docs/*.md"));
  EXPECT_EQ(locations(*top), (std::vector<std::string>{"docs/guide.md:2"}));
  auto any_depth = searcher().search(q("hello", false, "docs/**/*.md"));
  EXPECT_EQ(locations(*any_depth), (std::vector<std::string>{"docs/guide.md:2", "docs/deep/x.md:1"}));
}

TEST_F(TextSearchTest, SubPathInsideTheRoot) {
  auto report = searcher().search(q("hello", false, "", "docs"));
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(locations(*report), (std::vector<std::string>{"docs/guide.md:2", "docs/deep/x.md:1"}));
  auto one_file = searcher().search(q("hello", false, "", "docs/guide.md"));
  ASSERT_TRUE(one_file.has_value());
  EXPECT_EQ(locations(*one_file), (std::vector<std::string>{"docs/guide.md:2"}));
  auto dotted = searcher().search(q("hello", false, "", "./docs/deep"));
  ASSERT_TRUE(dotted.has_value());
  EXPECT_EQ(locations(*dotted), (std::vector<std::string>{"docs/deep/x.md:1"}));
}

TEST_F(TextSearchTest, PathTraversalIsRefused) {
  auto s = searcher();
  for (const char* hostile : {"..", "../outside", "docs/../../outside", "docs/../..", "/etc", "/", "//etc",
                              "link_dir_outside", "link_dir_outside/secret.txt", "link_outside.txt", "../root-sibling",
                              ".git", ".env", "docs/.hidden", "missing", "docs/missing"}) {
    auto report = s.search(q("hello", false, "", hostile));
    EXPECT_FALSE(report.has_value()) << hostile;
  }
  EXPECT_NE(s.resolve("../outside").error().find("'..'"), std::string::npos);
  EXPECT_NE(s.resolve("link_dir_outside").error().find("outside the search folder"), std::string::npos);
  EXPECT_NE(s.resolve("/etc").error().find("relative"), std::string::npos);
  EXPECT_FALSE(s.resolve(std::string("docs\0/../..", 11)).has_value());
  EXPECT_FALSE(s.resolve(std::string(5000, 'a')).has_value());
  EXPECT_EQ(*s.resolve(""), s.root());
  EXPECT_EQ(*s.resolve("link_inside.txt"), s.root() / "a.txt");  // resolved, and inside
}

TEST_F(TextSearchTest, RootGivenThroughASymlinkIsCanonicalised) {
  fs::create_symlink(root_, base_ / "root-link");
  auto s = TextSearcher::open(base_ / "root-link", small_limits());
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->root(), fs::canonical(root_));
  auto report = s->search(q("hello", false, "", "docs"));
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->matches.size(), 2u);
  EXPECT_FALSE(s->resolve("../root-sibling").has_value());
}

TEST_F(TextSearchTest, FileReplacedByALinkToTheOutsideIsRefused) {
  auto s = searcher();
  fs::remove(root_ / "docs" / "guide.md");
  fs::create_symlink(base_ / "outside" / "secret.txt", root_ / "docs" / "guide.md");
  auto report = s.search(q("outside", false, "", "docs"));
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->matches.empty());
}

TEST_F(TextSearchTest, Limits) {
  SearchLimits limits = small_limits();
  limits.max_matches = 2;
  auto report = searcher(limits).search(q("hello"));
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->matches.size(), 2u);
  EXPECT_TRUE(report->truncated);
  EXPECT_EQ(report->truncation_reason, "match limit reached");

  limits = small_limits();
  limits.max_files = 1;
  report = searcher(limits).search(q("hello"));
  EXPECT_TRUE(report->truncated);
  EXPECT_EQ(report->files_scanned, 1u);
  EXPECT_EQ(report->truncation_reason, "file limit reached");

  limits = small_limits();
  limits.max_entries = 3;
  report = searcher(limits).search(q("hello"));
  EXPECT_TRUE(report->truncated);
  EXPECT_EQ(report->truncation_reason, "folder entry limit reached");

  limits = small_limits();
  limits.max_depth = 1;  // docs/ is searched, docs/deep/ is not
  report = searcher(limits).search(q("hello", false, "*.md"));
  EXPECT_EQ(locations(*report), (std::vector<std::string>{"docs/guide.md:2"}));
}

TEST_F(TextSearchTest, LongLinesAreCutAroundTheMatchOnUtf8Boundaries) {
  std::string line;
  for (int i = 0; i < 300; ++i) line += "\xc3\xa9";  // 'é', two bytes each
  line += "needle";
  for (int i = 0; i < 300; ++i) line += "\xc3\xa9";
  write(root_ / "notes" / "long.txt", line);
  SearchLimits limits;
  limits.max_line_chars = 60;
  auto report = searcher(limits).search(q("needle"));
  ASSERT_EQ(report->matches.size(), 1u);
  const std::string& text = report->matches[0].text;
  EXPECT_NE(text.find("needle"), std::string::npos);
  EXPECT_LE(text.size(), 60u + 6u);  // plus the two ellipses
  EXPECT_EQ(text.rfind("\u2026", 0), 0u);
  EXPECT_EQ(sanitize_text(text), text);  // still valid UTF-8
  EXPECT_EQ(text.find("\uFFFD"), std::string::npos);
}

TEST_F(TextSearchTest, RejectsBadQueriesAndCancels) {
  EXPECT_FALSE(searcher().search(q("")).has_value());
  EXPECT_FALSE(searcher().search(q("two\nlines")).has_value());
  auto report = searcher().search(q("hello"), [] { return true; });
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->truncated);
  EXPECT_EQ(report->truncation_reason, "cancelled");
  EXPECT_TRUE(report->matches.empty());
}

TEST_F(TextSearchTest, OpenRejectsMissingOrNonFolderRoots) {
  EXPECT_FALSE(TextSearcher::open(base_ / "nope").has_value());
  EXPECT_FALSE(TextSearcher::open(root_ / "a.txt").has_value());
}

TEST(TextSearchHelpers, IsWithinComparesWholeComponents) {
  EXPECT_TRUE(is_within("/srv/docs", "/srv/docs"));
  EXPECT_TRUE(is_within("/srv/docs", "/srv/docs/a/b"));
  EXPECT_TRUE(is_within("/srv/docs/", "/srv/docs/a"));
  EXPECT_FALSE(is_within("/srv/docs", "/srv/docs2"));
  EXPECT_FALSE(is_within("/srv/docs", "/srv"));
  EXPECT_FALSE(is_within("/srv/docs", "/etc/passwd"));
}

TEST(TextSearchHelpers, GlobMatch) {
  EXPECT_TRUE(glob_match("*.md", "docs/guide.md"));  // no '/': the name alone
  EXPECT_FALSE(glob_match("*.md", "docs/guide.mdx"));
  EXPECT_TRUE(glob_match("guide.??", "guide.md"));
  EXPECT_TRUE(glob_match("*", "a/b/c"));
  EXPECT_TRUE(glob_match("docs/*", "docs/a"));
  EXPECT_FALSE(glob_match("docs/*", "docs/a/b"));
  EXPECT_TRUE(glob_match("docs/**", "docs/a/b"));
  EXPECT_TRUE(glob_match("**/*.md", "x.md"));
  EXPECT_TRUE(glob_match("**/*.md", "a/b/x.md"));
  EXPECT_TRUE(glob_match("docs/**/x.md", "docs/x.md"));
  EXPECT_TRUE(glob_match("docs/**/x.md", "docs/a/b/x.md"));
  EXPECT_FALSE(glob_match("docs/**/x.md", "docsx.md"));
  EXPECT_FALSE(glob_match("a?c", "a/c"));
  EXPECT_TRUE(glob_match("", ""));
  EXPECT_FALSE(glob_match("", "a"));
  // A pattern built to make backtracking matchers explode is linear here.
  EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", std::string(4000, 'a')));
  EXPECT_TRUE(glob_match("**a**a**a**a**a**a**a**a", std::string(4000, 'a')));
}

TEST(TextSearchHelpers, SanitizeText) {
  EXPECT_EQ(sanitize_text("plain\ttext"), "plain\ttext");
  EXPECT_EQ(sanitize_text("bell\x07 esc\x1b del\x7f"), "bell  esc  del ");
  EXPECT_EQ(sanitize_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(sanitize_text("\xff"), "\uFFFD");
  EXPECT_EQ(sanitize_text("\xc0\xaf"), "\uFFFD\uFFFD");          // overlong '/'
  EXPECT_EQ(sanitize_text("\xed\xa0\x80"), "\uFFFD\uFFFD\uFFFD");  // a UTF-16 surrogate
  EXPECT_EQ(sanitize_text("\xf4\x90\x80\x80"), "\uFFFD\uFFFD\uFFFD\uFFFD");  // above U+10FFFF
  EXPECT_EQ(sanitize_text("\xe2\x82"), "\uFFFD\uFFFD");          // truncated sequence
}

}  // namespace
}  // namespace bastion::modules::demo
