// /readyz: named checks that must all pass before a Kubernetes readiness probe sees 200
// (listeners bound, signing keys loaded, stores reachable). /healthz is liveness only and never
// consults these: a process that is up but not ready must not be restarted for it.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace bastion::telemetry {

class Readiness {
 public:
  // `check` runs on every /readyz request (keep it cheap: read a flag or a cached state; never
  // do network I/O here). Thread-safe.
  void add_check(std::string name, std::function<bool()> check);

  struct Report {
    bool ready = true;
    std::vector<std::pair<std::string, bool>> checks;  // in registration order
  };
  Report evaluate() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, std::function<bool()>>> checks_;
};

}  // namespace bastion::telemetry
