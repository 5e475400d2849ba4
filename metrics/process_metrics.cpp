#include "metrics/process_metrics.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "metrics/registry.h"

namespace ps::metrics {
namespace {

void gauge_family(std::string& out, const char* name, const char* type, const char* help,
                  double value) {
  out += std::string("# HELP ") + name + " " + help + "\n";
  out += std::string("# TYPE ") + name + " " + type + "\n";
  out += std::string(name) + " " + format_value(value) + "\n";
}

}  // namespace

void add_process_metrics(Registry& registry) {
  const double start_time = std::chrono::duration<double>(
      std::chrono::system_clock::now().time_since_epoch()).count();
  registry.add_collector([start_time](std::string& out) {
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    // Fields 14 and 15 of /proc/self/stat are user and system CPU ticks; the
    // command name (field 2) may hold spaces, so parse after its closing ')'.
    std::ifstream stat("/proc/self/stat");
    std::string line;
    std::getline(stat, line);
    double cpu = 0;
    if (auto close = line.rfind(')'); close != std::string::npos) {
      std::istringstream fields(line.substr(close + 2));
      std::string field;
      double utime = 0, stime = 0;
      for (int i = 3; i <= 15 && fields >> field; ++i) {
        if (i == 14) utime = std::stod(field);
        if (i == 15) stime = std::stod(field);
      }
      cpu = (utime + stime) / ticks;
    }
    std::ifstream statm("/proc/self/statm");
    double vsize = 0, resident = 0;
    statm >> vsize >> resident;
    std::error_code ec;
    double fds = 0;
    for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      ++fds;
    }
    gauge_family(out, "process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.", cpu);
    gauge_family(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", resident * page);
    gauge_family(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", vsize * page);
    gauge_family(out, "process_open_fds", "gauge", "Number of open file descriptors.", fds);
    gauge_family(out, "process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch in seconds.", start_time);
  });
}

}  // namespace ps::metrics
