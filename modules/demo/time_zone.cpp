#include "modules/demo/time_zone.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <system_error>

namespace bastion::modules::demo {
namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

// Real TZif files are 0.1-4 KiB; anything far larger is not a zone file we want to parse.
constexpr std::size_t kMaxTzifBytes = 256 * 1024;
constexpr std::size_t kMaxZoneNameLength = 128;
// Upper bound on directory entries examined per path component by the case-insensitive lookup
// (the largest zoneinfo folder, America/, has about 170).
constexpr std::size_t kMaxEntriesPerFolder = 5000;
// RFC 8536 §3.2: utoff SHOULD be in -89999..93599; a little slack, but nothing absurd.
constexpr std::int32_t kMaxAbsOffset = 26 * 3600;

// ---- TZif (RFC 8536) -----------------------------------------------------------------------

class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : bytes_(bytes) {}
  bool has(std::uint64_t n) const { return n <= bytes_.size() - pos_; }
  std::size_t position() const { return pos_; }
  void skip(std::size_t n) { pos_ += n; }
  std::uint8_t u8() { return static_cast<std::uint8_t>(bytes_[pos_++]); }
  std::uint32_t u32() {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | u8();
    return v;
  }
  std::int32_t i32() { return static_cast<std::int32_t>(u32()); }
  std::int64_t i64() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | u8();
    return static_cast<std::int64_t>(v);
  }
  std::string_view take(std::size_t n) {
    auto s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::string_view rest() const { return bytes_.substr(pos_); }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

struct TzifHeader {
  char version = 0;
  std::uint32_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;

  // Size of the data block that follows the header; 64-bit arithmetic, so no overflow.
  std::uint64_t data_size(int time_size) const {
    return std::uint64_t{timecnt} * time_size + timecnt + std::uint64_t{typecnt} * 6 + charcnt +
           std::uint64_t{leapcnt} * (time_size + 4) + isstdcnt + isutcnt;
  }
};

std::expected<TzifHeader, std::string> read_header(ByteReader& in) {
  if (!in.has(44)) return std::unexpected<std::string>("truncated TZif header");
  if (in.take(4) != "TZif") return std::unexpected<std::string>("not a TZif file");
  TzifHeader h;
  h.version = static_cast<char>(in.u8());
  if (h.version != 0 && (h.version < '2' || h.version > '4'))
    return std::unexpected<std::string>("unsupported TZif version");
  in.skip(15);
  h.isutcnt = in.u32();
  h.isstdcnt = in.u32();
  h.leapcnt = in.u32();
  h.timecnt = in.u32();
  h.typecnt = in.u32();
  h.charcnt = in.u32();
  // RFC 8536 §3.1 consistency rules.
  if (h.typecnt == 0 || h.typecnt > 256 || h.charcnt == 0)
    return std::unexpected<std::string>("invalid TZif counts");
  if ((h.isutcnt != 0 && h.isutcnt != h.typecnt) || (h.isstdcnt != 0 && h.isstdcnt != h.typecnt))
    return std::unexpected<std::string>("invalid TZif counts");
  return h;
}

int days_in_month(int y, int m) {
  return static_cast<int>(static_cast<unsigned>((year{y} / month{static_cast<unsigned>(m)} / last).day()));
}

// ---- POSIX TZ strings (RFC 8536 §3.3, POSIX.1-2017 §8.3) -------------------------------------

class TzStringParser {
 public:
  explicit TzStringParser(std::string_view s) : s_(s) {}

  std::optional<PosixTimeZoneRule> parse() {
    PosixTimeZoneRule rule;
    if (!name(rule.standard.abbreviation)) return std::nullopt;
    auto std_offset = hms(24, true);
    if (!std_offset) return std::nullopt;
    rule.standard.utc_offset = -*std_offset;  // POSIX offsets are positive west of Greenwich
    if (done()) return valid(rule) ? std::optional(rule) : std::nullopt;

    LocalTimeType dst{rule.standard.utc_offset + 3600, true, {}};
    if (!name(dst.abbreviation)) return std::nullopt;
    if (!done() && s_[pos_] != ',') {
      auto dst_offset = hms(24, true);
      if (!dst_offset) return std::nullopt;
      dst.utc_offset = -*dst_offset;
    }
    // A DST part without a rule means "implementation-defined rules" in POSIX; TZif footers
    // always spell the rule out, so we refuse to guess.
    if (done() || s_[pos_] != ',') return std::nullopt;
    ++pos_;
    if (!date(rule.dst_start)) return std::nullopt;
    if (done() || s_[pos_] != ',') return std::nullopt;
    ++pos_;
    if (!date(rule.dst_end)) return std::nullopt;
    if (!done()) return std::nullopt;
    rule.daylight = dst;
    return valid(rule) ? std::optional(rule) : std::nullopt;
  }

 private:
  bool done() const { return pos_ == s_.size(); }

  static bool valid(const PosixTimeZoneRule& r) {
    auto ok = [](std::int32_t off) { return off >= -kMaxAbsOffset && off <= kMaxAbsOffset; };
    return ok(r.standard.utc_offset) && (!r.daylight || ok(r.daylight->utc_offset));
  }

  bool name(std::string& out) {
    if (!done() && s_[pos_] == '<') {
      const auto close = s_.find('>', pos_);
      if (close == std::string_view::npos) return false;
      out = std::string(s_.substr(pos_ + 1, close - pos_ - 1));
      pos_ = close + 1;
      return out.size() >= 3 && std::all_of(out.begin(), out.end(), [](char c) {
               return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-';
             });
    }
    const std::size_t start = pos_;
    while (!done() && std::isalpha(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    out = std::string(s_.substr(start, pos_ - start));
    return out.size() >= 3;
  }

  std::optional<int> number(int max) {
    const std::size_t start = pos_;
    int v = 0;
    while (!done() && s_[pos_] >= '0' && s_[pos_] <= '9' && pos_ - start < 3) v = v * 10 + (s_[pos_++] - '0');
    if (pos_ == start || v > max) return std::nullopt;
    return v;
  }

  // [+-]hh[:mm[:ss]] as seconds.
  std::optional<std::int32_t> hms(int max_hours, bool allow_sign) {
    int sign = 1;
    if (allow_sign && !done() && (s_[pos_] == '+' || s_[pos_] == '-')) sign = s_[pos_++] == '-' ? -1 : 1;
    auto h = number(max_hours);
    if (!h) return std::nullopt;
    int m = 0, sec = 0;
    if (!done() && s_[pos_] == ':') {
      ++pos_;
      auto mm = number(59);
      if (!mm) return std::nullopt;
      m = *mm;
      if (!done() && s_[pos_] == ':') {
        ++pos_;
        auto ss = number(59);
        if (!ss) return std::nullopt;
        sec = *ss;
      }
    }
    return sign * (*h * 3600 + m * 60 + sec);
  }

  bool date(PosixTimeZoneRule::Date& d) {
    using Kind = PosixTimeZoneRule::Date::Kind;
    if (done()) return false;
    if (s_[pos_] == 'J') {
      ++pos_;
      auto n = number(365);
      if (!n || *n < 1) return false;
      d.kind = Kind::julian_no_leap;
      d.day = *n;
    } else if (s_[pos_] == 'M') {
      ++pos_;
      auto m = number(12);
      if (!m || *m < 1 || done() || s_[pos_++] != '.') return false;
      auto w = number(5);
      if (!w || *w < 1 || done() || s_[pos_++] != '.') return false;
      auto wd = number(6);
      if (!wd) return false;
      d.kind = Kind::month_week_day;
      d.month = *m;
      d.week = *w;
      d.day = *wd;
    } else {
      auto n = number(365);
      if (!n) return false;
      d.kind = Kind::zero_based_day;
      d.day = *n;
    }
    if (!done() && s_[pos_] == '/') {
      ++pos_;
      auto t = hms(167, true);  // RFC 8536 §3.3.1 extension: -167..167 hours
      if (!t) return false;
      d.time = *t;
    }
    return true;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

// The instant (UTC) at which `d` happens in year `y`, for a wall clock at `offset` east of UTC.
std::int64_t transition_instant(const PosixTimeZoneRule::Date& d, int y, std::int32_t offset) {
  using Kind = PosixTimeZoneRule::Date::Kind;
  const sys_days jan1{year{y} / January / 1};
  sys_days day = jan1;
  switch (d.kind) {
    case Kind::julian_no_leap: {
      // Jn counts 1..365 and never names February 29 (day 60 is always March 1).
      int n = d.day - 1;
      if (year{y}.is_leap() && d.day >= 60) ++n;
      day = jan1 + days{n};
      break;
    }
    case Kind::zero_based_day:
      day = jan1 + days{d.day};
      break;
    case Kind::month_week_day: {
      const sys_days first{year{y} / month{static_cast<unsigned>(d.month)} / 1};
      const int first_weekday = static_cast<int>(weekday{first}.c_encoding());
      int dom = 1 + (d.day - first_weekday + 7) % 7 + 7 * (d.week - 1);
      const int last_dom = days_in_month(y, d.month);
      while (dom > last_dom) dom -= 7;  // week 5 means "the last such weekday"
      day = first + days{dom - 1};
      break;
    }
  }
  return duration_cast<seconds>(day.time_since_epoch()).count() + d.time - offset;
}

std::string two_digits(int v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d", v);
  return buf;
}

std::string format_offset(std::int32_t offset) {
  std::string out = offset < 0 ? "-" : "+";
  const std::int32_t a = offset < 0 ? -offset : offset;
  out += two_digits(a / 3600) + ":" + two_digits(a / 60 % 60);
  if (a % 60 != 0) out += ":" + two_digits(a % 60);
  return out;
}

std::string format_local(std::int64_t local_seconds) {
  const sys_seconds t{seconds{local_seconds}};
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss<seconds> tod{t - day};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(tod.hours().count()), static_cast<int>(tod.minutes().count()),
                static_cast<int>(tod.seconds().count()));
  return buf;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// True when `p` is `root` or lies below it; both must already be canonical. Compares whole path
// components, so /usr/share/zoneinfo-evil is not inside /usr/share/zoneinfo.
bool is_inside(const fs::path& root, const fs::path& p) {
  auto r = root.begin();
  auto q = p.begin();
  for (; r != root.end(); ++r, ++q) {
    if (q == p.end() || *r != *q) return false;
  }
  return true;
}

}  // namespace

LocalTimeType PosixTimeZoneRule::at(sys_seconds t) const {
  if (!daylight) return standard;
  const std::int64_t s = t.time_since_epoch().count();
  const sys_seconds local_standard{seconds{s + standard.utc_offset}};
  const int y = static_cast<int>(year_month_day{floor<days>(local_standard)}.year());
  const std::int64_t start = transition_instant(dst_start, y, standard.utc_offset);
  const std::int64_t end = transition_instant(dst_end, y, daylight->utc_offset);
  // Northern hemisphere: DST between start and end of the same year; southern: around new year.
  const bool in_dst = start < end ? (s >= start && s < end) : !(s >= end && s < start);
  return in_dst ? *daylight : standard;
}

std::optional<PosixTimeZoneRule> parse_posix_tz(std::string_view text) {
  if (text.empty() || text.size() > 256) return std::nullopt;
  return TzStringParser(text).parse();
}

std::expected<TimeZone, std::string> TimeZone::from_tzif(std::string name, std::string_view bytes) {
  auto fail = [](std::string why) { return std::unexpected<std::string>(std::move(why)); };
  if (bytes.size() > kMaxTzifBytes) return fail("TZif file too large");
  ByteReader in(bytes);
  auto v1 = read_header(in);
  if (!v1) return std::unexpected(v1.error());
  TzifHeader h = *v1;
  int time_size = 4;
  if (h.version >= '2') {
    // Version 2+ files repeat the data with 64-bit times after the version 1 block; only the
    // second copy is complete (RFC 8536 §3.1), so skip the first.
    if (!in.has(h.data_size(4))) return fail("truncated TZif data");
    in.skip(static_cast<std::size_t>(h.data_size(4)));
    auto v2 = read_header(in);
    if (!v2) return std::unexpected(v2.error());
    h = *v2;
    time_size = 8;
  }
  if (!in.has(h.data_size(time_size))) return fail("truncated TZif data");
  // Leap-second-aware ("right/") zones count time_t differently from everyone else on the
  // machine; reporting them would be wrong by ~27 s, so they are refused.
  if (h.leapcnt != 0) return fail("time zones with leap-second tables are not supported");

  TimeZone zone;
  zone.name_ = std::move(name);
  zone.transition_times_.reserve(h.timecnt);
  for (std::uint32_t i = 0; i < h.timecnt; ++i) {
    const std::int64_t t = time_size == 8 ? in.i64() : in.i32();
    if (!zone.transition_times_.empty() && t <= zone.transition_times_.back())
      return fail("TZif transition times are not ascending");
    zone.transition_times_.push_back(t);
  }
  zone.transition_types_.reserve(h.timecnt);
  for (std::uint32_t i = 0; i < h.timecnt; ++i) {
    const std::uint8_t type = in.u8();
    if (type >= h.typecnt) return fail("TZif transition names an unknown local time type");
    zone.transition_types_.push_back(type);
  }
  struct RawType {
    std::int32_t utoff;
    std::uint8_t isdst, desigidx;
  };
  std::vector<RawType> raw(h.typecnt);
  for (auto& t : raw) {
    t.utoff = in.i32();
    t.isdst = in.u8();
    t.desigidx = in.u8();
    if (t.utoff < -kMaxAbsOffset || t.utoff > kMaxAbsOffset || t.isdst > 1 || t.desigidx >= h.charcnt)
      return fail("invalid TZif local time type");
  }
  const std::string_view chars = in.take(h.charcnt);
  for (const auto& t : raw) {
    const auto end = chars.find('\0', t.desigidx);
    if (end == std::string_view::npos) return fail("unterminated TZif abbreviation");
    zone.types_.push_back({t.utoff, t.isdst == 1, std::string(chars.substr(t.desigidx, end - t.desigidx))});
  }
  in.skip(static_cast<std::size_t>(std::uint64_t{h.isstdcnt} + h.isutcnt));  // leapcnt is 0 here

  if (time_size == 8) {
    // Footer: "\n<TZ string>\n" (RFC 8536 §3.3). An empty or unparsable string leaves the last
    // transition in force, which is what readers without footer support do.
    const std::string_view rest = in.rest();
    if (rest.size() >= 2 && rest.front() == '\n') {
      const auto end = rest.find('\n', 1);
      if (end != std::string_view::npos && end > 1) zone.footer_ = parse_posix_tz(rest.substr(1, end - 1));
    }
  }
  return zone;
}

TimeZone TimeZone::utc() {
  TimeZone zone;
  zone.name_ = "UTC";
  zone.types_.push_back({0, false, "UTC"});
  return zone;
}

LocalTimeType TimeZone::at(sys_seconds t) const {
  const std::int64_t s = t.time_since_epoch().count();
  if (transition_times_.empty()) return footer_ ? footer_->at(t) : types_.front();
  // RFC 8536 §3.2: before the first transition, local time type 0 applies.
  if (s < transition_times_.front()) return types_.front();
  const auto it = std::upper_bound(transition_times_.begin(), transition_times_.end(), s);
  const auto index = static_cast<std::size_t>(it - transition_times_.begin()) - 1;
  if (index + 1 == transition_times_.size() && footer_) return footer_->at(t);
  return types_[transition_types_[index]];
}

bool is_valid_zone_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxZoneNameLength) return false;
  std::size_t start = 0;
  while (start <= name.size()) {
    const auto slash = name.find('/', start);
    const auto part = name.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    // A leading letter rules out "", ".", "..", hidden files and option-like "-x" components.
    if (part.empty() || !std::isalpha(static_cast<unsigned char>(part.front()))) return false;
    for (char c : part) {
      const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '+' || c == '.';
      if (!ok || static_cast<unsigned char>(c) >= 0x80) return false;
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return true;
}

fs::path TimeZoneDatabase::default_directory() {
  // getenv is read-only here and the environment is not modified after start-up.
  if (const char* tzdir = std::getenv("TZDIR"); tzdir != nullptr && *tzdir == '/') return tzdir;
  return "/usr/share/zoneinfo";
}

TimeZoneDatabase::TimeZoneDatabase(fs::path directory) : directory_(std::move(directory)) {
  std::error_code ec;
  auto canonical = fs::canonical(directory_, ec);
  if (!ec && fs::is_directory(canonical, ec)) canonical_directory_ = std::move(canonical);
}

std::expected<std::shared_ptr<const TimeZone>, std::string> TimeZoneDatabase::locate(std::string_view name) const {
  static const std::shared_ptr<const TimeZone> utc = std::make_shared<const TimeZone>(TimeZone::utc());
  for (std::string_view alias : {"UTC", "Etc/UTC", "Z", "Zulu"})
    if (iequals(name, alias)) return utc;

  if (!is_valid_zone_name(name)) {
    // The name is not echoed: it failed validation, so it may hold control characters.
    return std::unexpected<std::string>(
        "That is not a valid IANA time zone name. Use a name such as 'Europe/Paris', "
        "'America/New_York', 'Asia/Tokyo' or 'UTC'.");
  }
  {
    std::lock_guard lock(mutex_);
    if (auto it = cache_.find(name); it != cache_.end()) return it->second;
  }
  return load(std::string(name));
}

std::expected<std::shared_ptr<const TimeZone>, std::string> TimeZoneDatabase::load(const std::string& name) const {
  const auto unknown = [&] {
    return std::unexpected<std::string>("Unknown time zone '" + name +
                                        "'. Use an IANA name such as 'Europe/Paris', 'America/New_York', "
                                        "'Asia/Tokyo' or 'UTC'.");
  };
  if (canonical_directory_.empty())
    return std::unexpected<std::string>("The time zone database is not installed on this server; only UTC is available.");

  std::string actual = name;
  std::error_code ec;
  if (!fs::exists(directory_ / actual, ec)) {
    auto found = find_case_insensitive(name);
    if (!found) return unknown();
    actual = *found;
    std::lock_guard lock(mutex_);
    if (auto it = cache_.find(actual); it != cache_.end()) return it->second;
  }

  // Resolve symlinks (US/Eastern -> ../America/New_York is normal) and make sure the result is
  // still a regular file inside the database directory.
  const fs::path resolved = fs::canonical(directory_ / actual, ec);
  if (ec || !is_inside(canonical_directory_, resolved)) return unknown();
  if (!fs::is_regular_file(resolved, ec)) {
    if (fs::is_directory(resolved, ec))
      return std::unexpected<std::string>("'" + actual + "' is a region, not a time zone; add a city, e.g. 'Europe/Paris'.");
    return unknown();
  }
  const auto size = fs::file_size(resolved, ec);
  if (ec || size > kMaxTzifBytes) return unknown();

  std::ifstream file(resolved, std::ios::binary);
  std::string bytes(static_cast<std::size_t>(size), '\0');
  if (!file.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) return unknown();

  auto zone = TimeZone::from_tzif(actual, bytes);
  if (!zone) return std::unexpected<std::string>("'" + actual + "' is not a usable time zone: " + zone.error() + ".");
  auto shared = std::make_shared<const TimeZone>(std::move(*zone));
  std::lock_guard lock(mutex_);
  cache_.emplace(actual, shared);
  return shared;
}

std::optional<std::string> TimeZoneDatabase::find_case_insensitive(std::string_view name) const {
  fs::path current = directory_;
  std::string actual;
  std::size_t start = 0;
  while (start <= name.size()) {
    const auto slash = name.find('/', start);
    const auto part = name.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    std::error_code ec;
    fs::directory_iterator it(current, fs::directory_options::skip_permission_denied, ec);
    if (ec) return std::nullopt;
    std::optional<std::string> match;
    std::size_t seen = 0;
    for (; it != fs::directory_iterator() && seen < kMaxEntriesPerFolder; it.increment(ec), ++seen) {
      if (ec) return std::nullopt;
      const std::string entry = it->path().filename().string();
      if (iequals(entry, part)) {
        match = entry;
        break;
      }
    }
    if (!match) return std::nullopt;
    actual += actual.empty() ? *match : "/" + *match;
    current /= *match;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return actual;
}

ZonedTime describe_time(const TimeZone& zone, sys_seconds t) {
  static constexpr std::array<const char*, 7> kWeekdays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                            "Thursday", "Friday", "Saturday"};
  const LocalTimeType type = zone.at(t);
  const std::int64_t s = t.time_since_epoch().count();
  ZonedTime out;
  out.zone = zone.name();
  out.utc_offset = format_offset(type.utc_offset);
  out.local_iso8601 = format_local(s + type.utc_offset) + out.utc_offset;
  out.utc_iso8601 = format_local(s) + "Z";
  out.abbreviation = type.abbreviation;
  out.is_dst = type.is_dst;
  out.weekday = kWeekdays[weekday{floor<days>(sys_seconds{seconds{s + type.utc_offset}})}.c_encoding()];
  out.unix_seconds = s;
  return out;
}

}  // namespace bastion::modules::demo
