#pragma once
// How long a failed job waits before its next attempt: exponential from
// `base`, capped at `max`, spread by jitter so that jobs that failed together
// do not retry together.

#include <chrono>

namespace ps::scheduler {

// `attempt` counts from 1 (the attempt that just failed); `jitter` is a
// number in [0, 1) that spreads the delay over [0.5, 1.5) of its nominal value.
std::chrono::milliseconds retry_delay(int attempt, std::chrono::milliseconds base, std::chrono::milliseconds max,
                                      double jitter);

// A jitter value from a per-thread generator.
double random_jitter();

}  // namespace ps::scheduler
