#include "scheduler/backoff.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace ps::scheduler {

std::chrono::milliseconds retry_delay(int attempt, std::chrono::milliseconds base, std::chrono::milliseconds max,
                                      double jitter) {
  double nominal = static_cast<double>(base.count()) * std::pow(2.0, std::clamp(attempt - 1, 0, 40));
  nominal = std::min(nominal, static_cast<double>(max.count()));
  double spread = nominal * (0.5 + jitter);
  return std::chrono::milliseconds(static_cast<long long>(std::min(spread, static_cast<double>(max.count()))));
}

double random_jitter() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(generator);
}

}  // namespace ps::scheduler
