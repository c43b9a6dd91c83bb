#include "modules/demo/time_zone.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace bastion::modules::demo {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono;

sys_seconds at(int y, unsigned m, unsigned d, int hh, int mm = 0, int ss = 0) {
  return sys_days{year{y} / month{m} / day{d}} + hours{hh} + minutes{mm} + seconds{ss};
}

// ---- a TZif writer, so the parser is tested on files whose contents the test controls -------

struct TzifSpec {
  struct Type {
    std::int32_t offset;
    bool dst;
    std::string abbreviation;
  };
  std::vector<std::int64_t> times;
  std::vector<std::uint8_t> type_of;
  std::vector<Type> types;
  std::string footer;
  std::uint32_t leap_count = 0;
};

void put32(std::string& out, std::uint32_t v) {
  for (int i = 3; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put64(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

std::string build_tzif(const TzifSpec& spec) {
  std::string chars;
  std::vector<std::uint8_t> index;
  for (const auto& t : spec.types) {
    index.push_back(static_cast<std::uint8_t>(chars.size()));
    chars += t.abbreviation + '\0';
  }
  auto header = [&](std::string& out, std::uint32_t timecnt, std::uint32_t typecnt, std::uint32_t charcnt) {
    out += "TZif2";
    out += std::string(15, '\0');
    put32(out, 0);  // isutcnt
    put32(out, 0);  // isstdcnt
    put32(out, spec.leap_count);
    put32(out, timecnt);
    put32(out, typecnt);
    put32(out, charcnt);
  };
  std::string out;
  // Version 1 block: no transitions, one type, as zic -b slim writes it.
  header(out, 0, 1, 1);
  for (std::uint32_t i = 0; i < spec.leap_count; ++i) out += std::string(8, '\0');
  out += std::string(6, '\0');
  out += '\0';
  // Version 2 block.
  header(out, static_cast<std::uint32_t>(spec.times.size()), static_cast<std::uint32_t>(spec.types.size()),
         static_cast<std::uint32_t>(chars.size()));
  for (auto t : spec.times) put64(out, static_cast<std::uint64_t>(t));
  for (auto i : spec.type_of) out += static_cast<char>(i);
  for (std::size_t i = 0; i < spec.types.size(); ++i) {
    put32(out, static_cast<std::uint32_t>(spec.types[i].offset));
    out += static_cast<char>(spec.types[i].dst ? 1 : 0);
    out += static_cast<char>(index[i]);
  }
  out += chars;
  for (std::uint32_t i = 0; i < spec.leap_count; ++i) out += std::string(12, '\0');
  out += "\n" + spec.footer + "\n";
  return out;
}

// A made-up zone: LMT until 2000, then "AAA" +1 with DST "AAS" +2 by rule from 2000 on, with
// two explicit transitions in 2001 and the footer rule for everything after.
TzifSpec sample_spec() {
  TzifSpec spec;
  spec.types = {{3000, false, "LMT"}, {3600, false, "AAA"}, {7200, true, "AAS"}};
  spec.times = {at(2000, 1, 1, 0).time_since_epoch().count(), at(2001, 3, 25, 1).time_since_epoch().count(),
                at(2001, 10, 28, 1).time_since_epoch().count()};
  spec.type_of = {1, 2, 1};
  spec.footer = "AAA-1AAS,M3.5.0,M10.5.0/3";
  return spec;
}

TEST(TimeZone, ParsesTransitionsAndFooter) {
  auto zone = TimeZone::from_tzif("Test/Zone", build_tzif(sample_spec()));
  ASSERT_TRUE(zone.has_value()) << zone.error();
  EXPECT_EQ(zone->name(), "Test/Zone");
  // Before the first transition: type 0 (RFC 8536 §3.2).
  EXPECT_EQ(zone->at(at(1999, 6, 1, 0)).abbreviation, "LMT");
  EXPECT_EQ(zone->at(at(1999, 6, 1, 0)).utc_offset, 3000);
  EXPECT_EQ(zone->at(at(2000, 6, 1, 0)).abbreviation, "AAA");
  EXPECT_EQ(zone->at(at(2001, 3, 25, 0, 59, 59)).abbreviation, "AAA");
  EXPECT_EQ(zone->at(at(2001, 3, 25, 1)).abbreviation, "AAS");
  EXPECT_TRUE(zone->at(at(2001, 7, 1, 0)).is_dst);
  // After the last transition the footer rule applies: last Sunday of March 2030 is the 31st.
  EXPECT_EQ(zone->at(at(2030, 3, 31, 0, 59, 59)).utc_offset, 3600);
  EXPECT_EQ(zone->at(at(2030, 3, 31, 1)).utc_offset, 7200);
  EXPECT_EQ(zone->at(at(2030, 10, 27, 0, 59, 59)).utc_offset, 7200);
  EXPECT_EQ(zone->at(at(2030, 10, 27, 1)).utc_offset, 3600);
}

TEST(TimeZone, RejectsMalformedFiles) {
  const std::string good = build_tzif(sample_spec());
  EXPECT_FALSE(TimeZone::from_tzif("x", "").has_value());
  EXPECT_FALSE(TimeZone::from_tzif("x", "TZjf" + good.substr(4)).has_value());
  std::string bad_version = good;
  bad_version[4] = '9';
  EXPECT_FALSE(TimeZone::from_tzif("x", bad_version).has_value());

  auto spec = sample_spec();
  std::swap(spec.times[1], spec.times[2]);
  EXPECT_NE(TimeZone::from_tzif("x", build_tzif(spec)).error().find("ascending"), std::string::npos);

  spec = sample_spec();
  spec.type_of[0] = 7;
  EXPECT_NE(TimeZone::from_tzif("x", build_tzif(spec)).error().find("unknown local time type"), std::string::npos);

  spec = sample_spec();
  spec.types[1].offset = 40 * 3600;
  EXPECT_FALSE(TimeZone::from_tzif("x", build_tzif(spec)).has_value());

  spec = sample_spec();
  spec.leap_count = 1;  // a right/ zone
  EXPECT_NE(TimeZone::from_tzif("x", build_tzif(spec)).error().find("leap"), std::string::npos);

  EXPECT_FALSE(TimeZone::from_tzif("x", std::string(300 * 1024, 'T')).has_value());
}

TEST(TimeZone, EveryTruncationIsRejectedOrParsedWithoutCrashing) {
  const std::string good = build_tzif(sample_spec());
  for (std::size_t n = 0; n < good.size(); ++n) {
    auto zone = TimeZone::from_tzif("x", std::string_view(good).substr(0, n));
    if (zone) (void)zone->at(at(2020, 1, 1, 0));  // only footer-less prefixes can parse
  }
  // Flipping any single byte must not crash either.
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string mutated = good;
    mutated[i] = static_cast<char>(mutated[i] ^ 0x5a);
    auto zone = TimeZone::from_tzif("x", mutated);
    if (zone) (void)zone->at(at(2040, 7, 1, 0));
  }
}

TEST(TimeZone, UnparsableFooterFallsBackToTheLastTransition) {
  auto spec = sample_spec();
  spec.footer = "AAA-1AAS";  // DST without a rule: refused
  auto zone = TimeZone::from_tzif("x", build_tzif(spec));
  ASSERT_TRUE(zone.has_value());
  EXPECT_EQ(zone->at(at(2040, 7, 1, 0)).abbreviation, "AAA");
}

TEST(PosixTz, ParsesTheForms) {
  auto paris = parse_posix_tz("CET-1CEST,M3.5.0,M10.5.0/3");
  ASSERT_TRUE(paris);
  EXPECT_EQ(paris->standard.utc_offset, 3600);
  EXPECT_EQ(paris->standard.abbreviation, "CET");
  ASSERT_TRUE(paris->daylight);
  EXPECT_EQ(paris->daylight->utc_offset, 7200);
  EXPECT_EQ(paris->dst_end.time, 3 * 3600);

  auto tehran = parse_posix_tz("<+0330>-3:30");
  ASSERT_TRUE(tehran);
  EXPECT_EQ(tehran->standard.utc_offset, 3 * 3600 + 1800);
  EXPECT_EQ(tehran->standard.abbreviation, "+0330");
  EXPECT_FALSE(tehran->daylight);

  auto explicit_dst = parse_posix_tz("XXX3YYY2,J60/0,300/-1");
  ASSERT_TRUE(explicit_dst);
  EXPECT_EQ(explicit_dst->daylight->utc_offset, -2 * 3600);
  EXPECT_EQ(explicit_dst->dst_end.time, -3600);

  for (const char* bad : {"", "X", "CET", "CET-1CEST", "CET-1CEST,M13.1.0,M10.5.0", "CET-1CEST,M3.6.0,M10.5.0",
                          "CET-1CEST,M3.5.7,M10.5.0", "CET-1CEST,J0,J100", "CET-1CEST,366,J100", "<+03-3",
                          "CET-1CEST,M3.5.0,M10.5.0/168", "CET-1CEST,M3.5.0", "CET-1 trailing", "CET-99"}) {
    EXPECT_FALSE(parse_posix_tz(bad)) << bad;
  }
}

TEST(PosixTz, NorthernHemisphereRule) {
  auto ny = parse_posix_tz("EST5EDT,M3.2.0,M11.1.0");
  ASSERT_TRUE(ny);
  // 2024: DST from 10 March 02:00 EST (07:00Z) to 3 November 02:00 EDT (06:00Z).
  EXPECT_EQ(ny->at(at(2024, 3, 10, 6, 59, 59)).abbreviation, "EST");
  EXPECT_EQ(ny->at(at(2024, 3, 10, 7)).abbreviation, "EDT");
  EXPECT_EQ(ny->at(at(2024, 11, 3, 5, 59, 59)).utc_offset, -4 * 3600);
  EXPECT_EQ(ny->at(at(2024, 11, 3, 6)).utc_offset, -5 * 3600);
}

TEST(PosixTz, SouthernHemisphereRuleWrapsAroundNewYear) {
  auto sydney = parse_posix_tz("AEST-10AEDT,M10.1.0,M4.1.0/3");
  ASSERT_TRUE(sydney);
  EXPECT_TRUE(sydney->at(at(2024, 1, 1, 0)).is_dst);
  // Ends 7 April 2024 03:00 AEDT = 6 April 16:00Z; starts 6 October 02:00 AEST = 5 October 16:00Z.
  EXPECT_TRUE(sydney->at(at(2024, 4, 6, 15, 59, 59)).is_dst);
  EXPECT_FALSE(sydney->at(at(2024, 4, 6, 16)).is_dst);
  EXPECT_FALSE(sydney->at(at(2024, 10, 5, 15, 59, 59)).is_dst);
  EXPECT_TRUE(sydney->at(at(2024, 10, 5, 16)).is_dst);
  EXPECT_TRUE(sydney->at(at(2024, 12, 31, 23)).is_dst);
}

TEST(PosixTz, JulianDayForms) {
  // Jn never counts 29 February: J60 is 1 March even in a leap year; n (zero-based) does count it.
  auto julian = parse_posix_tz("AAA0BBB,J60/0,J300/0");
  ASSERT_TRUE(julian);
  EXPECT_FALSE(julian->at(at(2024, 2, 29, 12)).is_dst);
  EXPECT_TRUE(julian->at(at(2024, 3, 1, 0)).is_dst);
  auto zero_based = parse_posix_tz("AAA0BBB,59/0,J300/0");
  ASSERT_TRUE(zero_based);
  EXPECT_TRUE(zero_based->at(at(2024, 2, 29, 0)).is_dst);
  EXPECT_FALSE(zero_based->at(at(2023, 2, 28, 23)).is_dst);
}

TEST(TimeZone, ZoneNameValidation) {
  for (const char* ok : {"Europe/Paris", "Etc/GMT+5", "Etc/GMT-14", "America/Argentina/Buenos_Aires", "EST5EDT",
                         "America/Port-au-Prince", "UTC"}) {
    EXPECT_TRUE(is_valid_zone_name(ok)) << ok;
  }
  for (const char* bad : {"", "/etc/passwd", "../etc/passwd", "Europe/../../etc/passwd", "Europe/./Paris", ".hidden",
                          "Europe//Paris", "Europe/", "-rf", "Europe/Par is", "Europe/Par\nis", "Europe/P\xc3\xa4ris",
                          "Europe\\Paris"}) {
    EXPECT_FALSE(is_valid_zone_name(bad)) << bad;
  }
  EXPECT_FALSE(is_valid_zone_name(std::string(129, 'A')));
  EXPECT_TRUE(is_valid_zone_name(std::string(128, 'A')));
}

TEST(TimeZone, DescribeFormatsIso8601) {
  auto zone = TimeZone::from_tzif("Test/Zone", build_tzif(sample_spec()));
  ASSERT_TRUE(zone.has_value());
  const ZonedTime t = describe_time(*zone, at(2030, 7, 14, 10, 5, 9));
  EXPECT_EQ(t.local_iso8601, "2030-07-14T12:05:09+02:00");
  EXPECT_EQ(t.utc_iso8601, "2030-07-14T10:05:09Z");
  EXPECT_EQ(t.utc_offset, "+02:00");
  EXPECT_EQ(t.abbreviation, "AAS");
  EXPECT_TRUE(t.is_dst);
  EXPECT_EQ(t.weekday, "Sunday");
  EXPECT_EQ(t.zone, "Test/Zone");
  // LMT offsets have seconds; negative offsets keep their sign.
  EXPECT_EQ(describe_time(*zone, at(1990, 1, 1, 0)).utc_offset, "+00:50");
  auto west = TimeZone::from_tzif("W", build_tzif({{}, {}, {{-(9 * 3600 + 30 * 60 + 7), false, "WWW"}}, "", 0}));
  ASSERT_TRUE(west.has_value()) << west.error();
  EXPECT_EQ(describe_time(*west, at(2020, 1, 1, 0)).utc_offset, "-09:30:07");
  EXPECT_EQ(describe_time(*west, at(2020, 1, 1, 0)).local_iso8601, "2019-12-31T14:29:53-09:30:07");
}

// ---- the database: a private zoneinfo folder with hostile entries ---------------------------

class TimeZoneDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("bastion-tz-test-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_ / "zoneinfo" / "Test");
    write(base_ / "zoneinfo" / "Test" / "Zone", build_tzif(sample_spec()));
    write(base_ / "outside-zone", build_tzif(sample_spec()));
    // A symlink inside the database that leaves it, like Debian's localtime -> /etc/localtime.
    fs::create_symlink(base_ / "outside-zone", base_ / "zoneinfo" / "Escape");
    // A symlink that stays inside, like US/Eastern -> ../America/New_York.
    fs::create_symlink("Test/Zone", base_ / "zoneinfo" / "Alias");
    write(base_ / "zoneinfo" / "NotTzif", "just text");
    auto leap = sample_spec();
    leap.leap_count = 1;
    write(base_ / "zoneinfo" / "Leapy", build_tzif(leap));
  }
  void TearDown() override { fs::remove_all(base_); }

  static void write(const fs::path& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary) << bytes;
  }

  fs::path base_;
};

TEST_F(TimeZoneDatabaseTest, FindsZonesAndAliases) {
  TimeZoneDatabase db(base_ / "zoneinfo");
  auto zone = db.locate("Test/Zone");
  ASSERT_TRUE(zone.has_value()) << zone.error();
  EXPECT_EQ((*zone)->name(), "Test/Zone");
  EXPECT_EQ(db.locate("Test/Zone")->get(), zone->get());  // cached
  auto alias = db.locate("Alias");
  ASSERT_TRUE(alias.has_value()) << alias.error();
  EXPECT_EQ((*alias)->name(), "Alias");
}

TEST_F(TimeZoneDatabaseTest, CaseInsensitiveFallback) {
  TimeZoneDatabase db(base_ / "zoneinfo");
  auto zone = db.locate("test/ZONE");
  ASSERT_TRUE(zone.has_value()) << zone.error();
  EXPECT_EQ((*zone)->name(), "Test/Zone");
}

TEST_F(TimeZoneDatabaseTest, UtcNeedsNoDatabase) {
  TimeZoneDatabase db(base_ / "does-not-exist");
  for (const char* name : {"UTC", "utc", "Etc/UTC", "Z", "zulu"}) {
    auto zone = db.locate(name);
    ASSERT_TRUE(zone.has_value()) << name;
    EXPECT_EQ((*zone)->name(), "UTC");
    EXPECT_EQ(describe_time(**zone, at(2024, 2, 29, 23, 59, 59)).local_iso8601, "2024-02-29T23:59:59+00:00");
  }
  auto other = db.locate("Europe/Paris");
  ASSERT_FALSE(other.has_value());
  EXPECT_NE(other.error().find("not installed"), std::string::npos);
}

TEST_F(TimeZoneDatabaseTest, RefusesWhatIsNotAZoneInsideTheDatabase) {
  TimeZoneDatabase db(base_ / "zoneinfo");
  EXPECT_NE(db.locate("Escape").error().find("Unknown time zone"), std::string::npos);
  EXPECT_NE(db.locate("NotTzif").error().find("not a usable time zone"), std::string::npos);
  EXPECT_NE(db.locate("Leapy").error().find("leap"), std::string::npos);
  EXPECT_NE(db.locate("Test").error().find("region"), std::string::npos);
  EXPECT_NE(db.locate("Mars/Olympus_Mons").error().find("Unknown time zone 'Mars/Olympus_Mons'"), std::string::npos);
  // Traversal attempts never reach the file system, and are not echoed.
  for (const char* hostile : {"../outside-zone", "/etc/passwd", "Test/../../outside-zone", "Test/\x1b[2J"}) {
    auto result = db.locate(hostile);
    ASSERT_FALSE(result.has_value()) << hostile;
    EXPECT_NE(result.error().find("not a valid IANA time zone name"), std::string::npos) << hostile;
    EXPECT_EQ(result.error().find(hostile), std::string::npos);
  }
}

// ---- the machine's real database, when it has one -------------------------------------------

TEST(SystemTimeZones, KnownOffsetsAndTransitions) {
  TimeZoneDatabase db("/usr/share/zoneinfo");
  if (!db.locate("Europe/Paris")) GTEST_SKIP() << "no tz database on this machine";
  auto paris = *db.locate("Europe/Paris");
  EXPECT_EQ(describe_time(*paris, at(2025, 3, 30, 0, 59, 59)).local_iso8601, "2025-03-30T01:59:59+01:00");
  EXPECT_EQ(describe_time(*paris, at(2025, 3, 30, 1)).local_iso8601, "2025-03-30T03:00:00+02:00");
  EXPECT_EQ(describe_time(*paris, at(2025, 3, 30, 1)).abbreviation, "CEST");
  // Beyond the table of a "fat" file (2037): the footer rule must carry on.
  EXPECT_EQ(paris->at(at(2100, 7, 1, 12)).abbreviation, "CEST");
  EXPECT_EQ(paris->at(at(2100, 12, 1, 12)).abbreviation, "CET");

  auto ny = *db.locate("America/New_York");
  EXPECT_EQ(describe_time(*ny, at(2024, 11, 3, 5, 59, 59)).local_iso8601, "2024-11-03T01:59:59-04:00");
  EXPECT_EQ(describe_time(*ny, at(2024, 11, 3, 6)).local_iso8601, "2024-11-03T01:00:00-05:00");

  EXPECT_EQ(describe_time(**db.locate("Asia/Kolkata"), at(2024, 6, 1, 0)).utc_offset, "+05:30");
  EXPECT_EQ(describe_time(**db.locate("Asia/Kathmandu"), at(2024, 6, 1, 0)).utc_offset, "+05:45");
  auto sydney = *db.locate("Australia/Sydney");
  EXPECT_EQ(sydney->at(at(2050, 1, 15, 0)).utc_offset, 11 * 3600);
  EXPECT_EQ(sydney->at(at(2050, 7, 15, 0)).utc_offset, 10 * 3600);

  // Debian ships localtime -> /etc/localtime inside the database: served only when the chain of
  // links ends inside the database again (as /etc/localtime -> ../usr/share/zoneinfo/... does).
  std::error_code ec;
  const auto target = fs::canonical("/usr/share/zoneinfo/localtime", ec);
  if (!ec) {
    const bool inside = target.string().starts_with(fs::canonical("/usr/share/zoneinfo").string() + "/");
    EXPECT_EQ(db.locate("localtime").has_value(), inside);
  }
  // right/ zones count leap seconds and are refused rather than reported 27 s off.
  if (fs::exists("/usr/share/zoneinfo/right/Europe/Paris")) {
    EXPECT_FALSE(db.locate("right/Europe/Paris").has_value());
  }
}

}  // namespace
}  // namespace bastion::modules::demo
