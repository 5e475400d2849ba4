#pragma once
// An instance's recent console lines and errors, for the admin API
// (GET /admin/instances/{id}/logs): at most `max_lines`, none older than
// `retention`. In memory, per daemon. Any thread.

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace ps::runtime {

struct InstanceLogLimits {
  std::size_t max_lines = 200;
  std::chrono::seconds retention{3600};
};

struct InstanceLogLine {
  std::chrono::system_clock::time_point at;
  std::string level;  // the console's (log, info, warn, error, debug), or "error" for a failed call
  std::string text;   // as the daemon's log has it: escaped and cut
};

class InstanceLog {
 public:
  using Clock = std::chrono::system_clock;
  explicit InstanceLog(InstanceLogLimits limits) : limits_(limits) {}

  void add(std::string level, std::string text, Clock::time_point now = Clock::now());
  // Oldest first.
  std::vector<InstanceLogLine> recent(Clock::time_point now = Clock::now());

 private:
  void forget_old(Clock::time_point now);

  InstanceLogLimits limits_;
  std::mutex mutex_;
  std::deque<InstanceLogLine> lines_;
};

}  // namespace ps::runtime
