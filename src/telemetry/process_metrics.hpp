// Process metrics read from /proc/self at scrape time, under the names every Prometheus client
// library uses (https://prometheus.io/docs/instrumenting/writing_clientlibs/#process-metrics), so
// standard dashboards work unchanged.
#pragma once

#include <optional>

#include "telemetry/metrics.hpp"

namespace bastion::telemetry {

struct ProcessStats {
  std::optional<double> cpu_seconds;           // user + system
  std::optional<double> resident_memory_bytes;
  std::optional<double> virtual_memory_bytes;
  std::optional<double> open_fds;
  std::optional<double> max_fds;
  std::optional<double> start_time_seconds;    // since the Unix epoch
  std::optional<double> threads;
};

// Reads the current process's figures; a figure that cannot be read is left empty (and is then
// simply not exposed), never a failed scrape.
ProcessStats read_process_stats();

// Registers process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds, process_start_time_seconds
// and process_threads as scrape-time callbacks.
void register_process_metrics(MetricsRegistry& registry);

}  // namespace bastion::telemetry
