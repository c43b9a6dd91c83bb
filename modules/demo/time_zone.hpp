// IANA time zones for the demo `current_time` tool, read from the system's compiled tz database.
//
// Why not the standard library: libstdc++ 12 (g++ 12) does not ship C++20's
// std::chrono::locate_zone / tzdb (they arrived in GCC 13). Why not localtime_r with TZ=...:
// setenv/tzset mutate process-global state, which races with every other thread of the server.
// So this file reads TZif files (RFC 8536) directly: it is a bounded parser of a file of at most
// 256 KiB, keeps no global state except an immutable-entry cache, and is safe to call from any
// number of worker threads at once.
//
// The zone name comes from the client and becomes a file path, so it is checked before it ever
// touches the file system (tool inputs are validated and paths protected against traversal,
// S/2025-11-25/server/tools.mdx §Security Considerations; MCP-REQUIREMENTS 41, 100): ASCII IANA-style components only, no "." or ".." components, no
// absolute paths, and after resolution the file must still lie inside the database directory
// (the Debian database contains a `localtime -> /etc/localtime` symlink, for example).
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bastion::modules::demo {

// One local time type: offset east of UTC, daylight saving flag, abbreviation ("CEST").
struct LocalTimeType {
  std::int32_t utc_offset = 0;  // seconds east of UTC
  bool is_dst = false;
  std::string abbreviation;
};

// A POSIX TZ rule string as found in the footer of TZif version 2+ files (RFC 8536 §3.3),
// e.g. "CET-1CEST,M3.5.0,M10.5.0/3". It extends the transition table into the future.
struct PosixTimeZoneRule {
  struct Date {
    enum class Kind { julian_no_leap, zero_based_day, month_week_day } kind = Kind::month_week_day;
    int day = 0;    // Jn: 1..365; n: 0..365; Mm.w.d: weekday 0 (Sunday)..6
    int week = 0;   // Mm.w.d only: 1..5 (5 = last)
    int month = 0;  // Mm.w.d only: 1..12
    std::int32_t time = 2 * 3600;  // seconds after local midnight, -167h..167h (RFC 8536 §3.3.1)
  };
  LocalTimeType standard;
  std::optional<LocalTimeType> daylight;  // absent: no DST
  Date dst_start;                          // in local standard time
  Date dst_end;                            // in local daylight time

  LocalTimeType at(std::chrono::sys_seconds t) const;
};
std::optional<PosixTimeZoneRule> parse_posix_tz(std::string_view text);

class TimeZone {
 public:
  // Parses the bytes of a TZif file; `name` is only used for reporting.
  static std::expected<TimeZone, std::string> from_tzif(std::string name, std::string_view bytes);
  // A built-in UTC that needs no tz database (minimal containers often have none).
  static TimeZone utc();

  const std::string& name() const { return name_; }
  LocalTimeType at(std::chrono::sys_seconds t) const;

 private:
  std::string name_;
  std::vector<std::int64_t> transition_times_;   // ascending, seconds since the epoch
  std::vector<std::uint8_t> transition_types_;   // index into types_, one per transition
  std::vector<LocalTimeType> types_;             // at least one
  std::optional<PosixTimeZoneRule> footer_;      // applies after the last transition
};

// Checks the shape of a client-supplied zone name: 1..128 ASCII characters, components separated
// by '/', each starting with a letter and made of letters, digits, '_', '-', '+' and '.'.
bool is_valid_zone_name(std::string_view name);

class TimeZoneDatabase {
 public:
  // `directory` defaults to $TZDIR when set (as glibc does), else /usr/share/zoneinfo.
  explicit TimeZoneDatabase(std::filesystem::path directory = default_directory());

  // "UTC", "Etc/UTC", "GMT", "Z" and "Zulu" always resolve, database or not. A name that is not
  // found as typed is retried case-insensitively ("europe/paris" -> "Europe/Paris").
  std::expected<std::shared_ptr<const TimeZone>, std::string> locate(std::string_view name) const;

  static std::filesystem::path default_directory();

 private:
  std::expected<std::shared_ptr<const TimeZone>, std::string> load(const std::string& name) const;
  std::optional<std::string> find_case_insensitive(std::string_view name) const;

  std::filesystem::path directory_;
  std::filesystem::path canonical_directory_;  // empty when the directory does not exist
  mutable std::mutex mutex_;
  // Only zones that parsed are cached, so the cache is bounded by the size of the database, not
  // by what clients ask for.
  mutable std::map<std::string, std::shared_ptr<const TimeZone>, std::less<>> cache_;
};

// What the tool reports about one instant in one zone.
struct ZonedTime {
  std::string zone;
  std::string local_iso8601;   // 2025-03-30T03:00:00+02:00
  std::string utc_iso8601;     // 2025-03-30T01:00:00Z
  std::string utc_offset;      // +02:00 (+hh:mm:ss when the offset has seconds, as in LMT)
  std::string abbreviation;    // CEST
  bool is_dst = false;
  std::string weekday;         // Sunday
  std::int64_t unix_seconds = 0;
};
ZonedTime describe_time(const TimeZone& zone, std::chrono::sys_seconds t);

}  // namespace bastion::modules::demo
