#pragma once
// Whether an app instance costs more than it should, and what its calls may
// do then. Each instance has a budget, a token bucket counted in seconds of
// cost, that refills at a steady rate. Every call is charged what it
// actually cost: the time it held its JS thread, a small part of its wall
// time, and a fixed amount for an error (so a fast failure costs too) or for
// a broken limit. The default refill is above what one JS thread can spend,
// so an app that only succeeds is never affected, however busy.
//
//   healthy   ── budget below degrade_below ──▶ degraded
//   degraded  ── budget full again ──▶ healthy
//   degraded  ── budget spent ──▶ suspended (for suspend_for), or disabled
//                                 once that happened max_suspensions times
//   suspended ── suspend_for passed ──▶ degraded, its budget at degrade_below
//   disabled  ── an operator enables it ──▶ degraded, as after a suspension
//
// A degraded instance runs at most degraded_max_calls calls at once; a call
// beyond that, or any call while suspended or disabled, is skipped (events
// pass it by, marked in $plugins_skipped; jobs wait). The suspension count
// starts again from zero once the instance is healthy.
//
// Thread-safe: calls are admitted and charged on the instance's thread,
// while snapshots and enable() come from the HTTP thread.

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

namespace ps::runtime {

struct HealthPolicy {
  bool enabled = true;
  double budget_seconds = 30;
  double refill_per_second = 1.5;
  double error_cost_seconds = 0.02;
  double limit_cost_seconds = 5;
  double wall_weight = 0.001;  // of each call's wall time, charged
  double degrade_below = 0.5;  // of the budget
  int degraded_max_calls = 1;
  std::chrono::milliseconds suspend_for{60000};
  int max_suspensions = 3;
};

enum class HealthState { healthy, degraded, suspended, disabled };
const char* health_state_name(HealthState state);

// What one call cost.
struct CallCost {
  std::chrono::nanoseconds thread_time{0};  // running JS on its thread
  std::chrono::nanoseconds wall_time{0};    // from its start to settling
  bool error = false;                       // threw or rejected
  bool limit_broken = false;                // CPU, wall-clock or heap limit
};

struct HealthTransition {
  HealthState from;
  HealthState to;
  std::string reason;
};

struct HealthSnapshot {
  HealthState state = HealthState::healthy;
  double budget_left_seconds = 0;
  std::string reason;  // why it left healthy (empty while healthy)
  int suspensions = 0;
  double suspended_for_seconds = 0;  // left of a suspension
};

class AppHealth {
 public:
  using Clock = std::chrono::steady_clock;
  AppHealth(HealthPolicy policy, Clock::time_point now);

  // Whether a call may start now; an admitted call runs until release().
  // `transition` is set when the passing of time changed the state (a
  // suspension ended).
  bool admit(Clock::time_point now, std::optional<HealthTransition>* transition);
  void release();
  // Charges a finished call (admitted or not: setupPlugin is charged too).
  std::optional<HealthTransition> charge(const CallCost& cost, Clock::time_point now);
  // An operator's re-enable of a suspended or disabled instance.
  std::optional<HealthTransition> enable(Clock::time_point now);
  HealthSnapshot snapshot(Clock::time_point now) const;

 private:
  // What the calls since it was degraded cost, for the reason text.
  struct Spent {
    double thread_seconds = 0;
    double wall_seconds = 0;
    int errors = 0;
    int limits = 0;
  };
  void refill(Clock::time_point now);
  std::optional<HealthTransition> move_to(HealthState to, std::string reason);
  std::optional<HealthTransition> recover_if_full();
  // The budget is spent: suspended, or disabled after max_suspensions.
  std::optional<HealthTransition> exhausted(Clock::time_point now);
  std::string spent_text() const;

  const HealthPolicy policy_;
  mutable std::mutex mutex_;
  HealthState state_ = HealthState::healthy;
  double tokens_;
  Clock::time_point refilled_at_;
  Clock::time_point suspended_until_{};
  int suspensions_ = 0;
  int running_ = 0;
  Spent spent_;
  std::string reason_;
};

}  // namespace ps::runtime
