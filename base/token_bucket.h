#pragma once
// A rate with a burst: up to `rate` takes at once, refilled at `rate` a
// second. Not thread-safe: each user keeps its own on its own thread.

#include <algorithm>
#include <chrono>
#include <optional>

namespace ps::base {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  explicit TokenBucket(double rate) : rate_(rate), tokens_(rate) {}

  bool take(Clock::time_point now = Clock::now()) {
    if (last_) tokens_ = std::min(rate_, tokens_ + std::chrono::duration<double>(now - *last_).count() * rate_);
    last_ = now;
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

 private:
  double rate_;
  double tokens_;
  std::optional<Clock::time_point> last_;
};

}  // namespace ps::base
