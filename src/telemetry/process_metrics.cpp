#include "telemetry/process_metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace bastion::telemetry {

namespace {

std::optional<double> boot_time_seconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double v = 0;
      if (in >> v) return v;
      return std::nullopt;
    }
    in.ignore(1 << 20, '\n');
  }
  return std::nullopt;
}

}  // namespace

ProcessStats read_process_stats() {
  ProcessStats s;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  {
    // proc(5): the command name (field 2) is in parentheses and may hold spaces, so fields are
    // counted from the last ')'.
    std::ifstream in("/proc/self/stat");
    std::string line;
    if (std::getline(in, line)) {
      const auto close = line.rfind(')');
      if (close != std::string::npos) {
        std::istringstream fields(line.substr(close + 2));
        std::vector<std::string> f;
        std::string x;
        while (fields >> x) f.push_back(x);
        // f[0] is field 3 (state): utime is field 14, stime 15, num_threads 20, starttime 22,
        // vsize 23, rss 24.
        auto field = [&](int n) -> std::optional<double> {
          const std::size_t i = static_cast<std::size_t>(n - 3);
          if (i >= f.size()) return std::nullopt;
          try {
            return std::stod(f[i]);
          } catch (...) {
            return std::nullopt;
          }
        };
        if (auto u = field(14), st = field(15); u && st && ticks > 0) s.cpu_seconds = (*u + *st) / ticks;
        s.threads = field(20);
        if (auto start = field(22); start && ticks > 0)
          if (auto boot = boot_time_seconds()) s.start_time_seconds = *boot + *start / ticks;
        s.virtual_memory_bytes = field(23);
        if (auto rss = field(24); rss && page > 0) s.resident_memory_bytes = *rss * page;
      }
    }
  }
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    double n = 0;
    while (const dirent* e = ::readdir(dir))
      if (e->d_name[0] != '.') ++n;
    ::closedir(dir);
    s.open_fds = n - 1;  // the directory stream's own descriptor
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
    s.max_fds = static_cast<double>(limit.rlim_cur);
  return s;
}

void register_process_metrics(MetricsRegistry& registry) {
  auto one = [](std::optional<double> ProcessStats::*field) {
    return [field](const Emit& emit) {
      const ProcessStats s = read_process_stats();
      if (auto v = s.*field) emit({}, *v);
    };
  };
  registry.callback("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                    MetricType::counter, {}, one(&ProcessStats::cpu_seconds));
  registry.callback("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::gauge, {},
                    one(&ProcessStats::resident_memory_bytes));
  registry.callback("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::gauge, {},
                    one(&ProcessStats::virtual_memory_bytes));
  registry.callback("process_open_fds", "Number of open file descriptors.", MetricType::gauge, {},
                    one(&ProcessStats::open_fds));
  registry.callback("process_max_fds", "Maximum number of open file descriptors.", MetricType::gauge, {},
                    one(&ProcessStats::max_fds));
  registry.callback("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                    MetricType::gauge, {}, one(&ProcessStats::start_time_seconds));
  registry.callback("process_threads", "Number of OS threads in the process.", MetricType::gauge, {},
                    one(&ProcessStats::threads));
}

}  // namespace bastion::telemetry
