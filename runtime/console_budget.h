#pragma once
// What an app's console may write into the daemon's log: lines cut to a
// size, control characters escaped (a newline in app text must not forge a
// daemon log line), and a per-instance rate (a token bucket), so no app can
// flood the log or the disk. Used on the instance's own thread only.

#include <chrono>
#include <cstddef>
#include <string>

#include "base/token_bucket.h"

namespace ps::runtime {

struct ConsoleLimits {
  std::size_t max_line_bytes = 16 * 1024;
  double lines_per_second = 100;  // and as many at once
};

class ConsoleBudget {
 public:
  using Clock = std::chrono::steady_clock;
  explicit ConsoleBudget(ConsoleLimits limits) : limits_(limits), rate_(limits.lines_per_second) {}

  // Whether a line may be written now; a refused one is counted.
  bool take(Clock::time_point now = Clock::now());
  // Lines refused since the last call (to report once writing resumes).
  std::size_t take_dropped();

  // `text` with control characters escaped (\n, \r, \t, \xNN), cut to the
  // line limit with a note of the full size.
  std::string line(const std::string& text) const;

 private:
  ConsoleLimits limits_;
  base::TokenBucket rate_;
  std::size_t dropped_ = 0;
};

}  // namespace ps::runtime
