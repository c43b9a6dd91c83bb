#include "telemetry/readiness.hpp"

namespace bastion::telemetry {

void Readiness::add_check(std::string name, std::function<bool()> check) {
  std::lock_guard lock(mutex_);
  checks_.emplace_back(std::move(name), std::move(check));
}

Readiness::Report Readiness::evaluate() const {
  std::vector<std::pair<std::string, std::function<bool()>>> checks;
  {
    std::lock_guard lock(mutex_);
    checks = checks_;
  }
  Report report;
  for (const auto& [name, check] : checks) {
    bool ok = false;
    try {
      ok = check && check();
    } catch (...) {
      ok = false;  // a check that throws is a check that failed
    }
    report.checks.emplace_back(name, ok);
    report.ready = report.ready && ok;
  }
  return report;
}

}  // namespace bastion::telemetry
