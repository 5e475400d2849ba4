#pragma once
// A claimed job, and what became of it.

#include <chrono>
#include <optional>
#include <string>

#include "runtime/host_services.h"

namespace ps::scheduler {

struct ClaimedJob {
  long long id = 0;
  runtime::InstanceId instance = 0;
  long long team = 0;  // the instance's team (0: not installed here)
  std::string kind;  // "job", or "task" for runEveryMinute/Hour/Day
  std::string name;
  std::optional<std::string> payload_json;
  int attempts = 0;  // including this one
  int max_attempts = 1;
  double lag_seconds = 0;  // from run_at to the claim
  std::chrono::steady_clock::time_point claimed_at;
};

// Postponed: the attempt did not really happen (its app instance was not
// running, or stopped under it): back in the queue after `retry_delay`,
// without counting the attempt.
enum class Verdict { Succeeded, Retry, Failed, Discarded, Postponed };

struct JobOutcome {
  long long id = 0;
  std::string app;
  Verdict verdict = Verdict::Succeeded;
  std::string error;
  std::chrono::milliseconds retry_delay{0};
};

}  // namespace ps::scheduler
