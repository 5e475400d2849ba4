#pragma once
// CPU time of this process so far (user and system), for the benchmarks'
// "CPU per 1,000 events" columns.

#include <sys/resource.h>

namespace ps::bench {

inline double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

}  // namespace ps::bench
