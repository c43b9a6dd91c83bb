// Protocol revisions this server speaks (MCP-REQUIREMENTS §2, §15).
#pragma once

#include <array>
#include <string_view>

namespace bastion::mcp {

inline constexpr std::string_view kVersion2024_11_05 = "2024-11-05";
inline constexpr std::string_view kVersion2025_03_26 = "2025-03-26";
inline constexpr std::string_view kVersion2025_06_18 = "2025-06-18";
inline constexpr std::string_view kVersion2025_11_25 = "2025-11-25";
inline constexpr std::string_view kVersion2026_07_28 = "2026-07-28";

// Revisions negotiated through initialize, newest first.
inline constexpr std::array<std::string_view, 4> kLegacyVersions = {
    kVersion2025_11_25, kVersion2025_06_18, kVersion2025_03_26, kVersion2024_11_05};

inline constexpr std::string_view kLatestLegacyVersion = kVersion2025_11_25;

inline bool is_legacy_version(std::string_view v) {
  for (auto s : kLegacyVersions)
    if (s == v) return true;
  return false;
}

// Revisions compare as dates: "2025-06-18" >= "2025-03-26".
inline bool version_at_least(std::string_view v, std::string_view minimum) { return v >= minimum; }

}  // namespace bastion::mcp
