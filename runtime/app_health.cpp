#include "runtime/app_health.h"

#include <algorithm>

#include <spdlog/fmt/fmt.h>

namespace ps::runtime {

const char* health_state_name(HealthState state) {
  switch (state) {
    case HealthState::healthy:
      return "healthy";
    case HealthState::degraded:
      return "degraded";
    case HealthState::suspended:
      return "suspended";
    case HealthState::disabled:
      return "disabled";
  }
  return "unknown";
}

namespace {
double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }
}  // namespace

AppHealth::AppHealth(HealthPolicy policy, Clock::time_point now)
    : policy_(policy), tokens_(policy.budget_seconds), refilled_at_(now) {}

void AppHealth::refill(Clock::time_point now) {
  if (now <= refilled_at_) return;
  tokens_ = std::min(policy_.budget_seconds, tokens_ + seconds(now - refilled_at_) * policy_.refill_per_second);
  refilled_at_ = now;
}

std::optional<HealthTransition> AppHealth::move_to(HealthState to, std::string reason) {
  HealthTransition t{state_, to, std::move(reason)};
  state_ = to;
  reason_ = to == HealthState::healthy ? std::string() : t.reason;
  return t;
}

std::string AppHealth::spent_text() const {
  return fmt::format("{:.1f} s on its thread, {:.1f} s of wall time, {} error(s), {} broken limit(s)",
                     spent_.thread_seconds, spent_.wall_seconds, spent_.errors, spent_.limits);
}

bool AppHealth::admit(Clock::time_point now, std::optional<HealthTransition>* transition) {
  if (!policy_.enabled) return true;
  std::lock_guard lock(mutex_);
  refill(now);
  if (state_ == HealthState::suspended && now >= suspended_until_) {
    // On probation: a few more expensive calls suspend it again.
    tokens_ = policy_.budget_seconds * policy_.degrade_below;
    auto t = move_to(HealthState::degraded, "its suspension ended; degraded until its budget is full again");
    if (transition) *transition = std::move(t);
  } else if (auto recovered = recover_if_full(); recovered && transition) {
    *transition = std::move(recovered);
  }
  switch (state_) {
    case HealthState::healthy:
      break;
    case HealthState::degraded:
      if (running_ >= policy_.degraded_max_calls) return false;
      break;
    case HealthState::suspended:
    case HealthState::disabled:
      return false;
  }
  ++running_;
  return true;
}

void AppHealth::release() {
  if (!policy_.enabled) return;
  std::lock_guard lock(mutex_);
  if (running_ > 0) --running_;
}

std::optional<HealthTransition> AppHealth::recover_if_full() {
  if (state_ != HealthState::degraded || tokens_ < policy_.budget_seconds) return std::nullopt;
  suspensions_ = 0;
  return move_to(HealthState::healthy, "its budget is full again");
}

std::optional<HealthTransition> AppHealth::charge(const CallCost& cost, Clock::time_point now) {
  if (!policy_.enabled) return std::nullopt;
  std::lock_guard lock(mutex_);
  refill(now);
  // Checked before this call's cost: a busy instance is never at a full
  // budget just after a charge.
  if (auto recovered = recover_if_full()) return recovered;
  double thread = seconds(cost.thread_time), wall = seconds(cost.wall_time);
  tokens_ -= thread + wall * policy_.wall_weight + (cost.error ? policy_.error_cost_seconds : 0) +
             (cost.limit_broken ? policy_.limit_cost_seconds : 0);
  Spent call{thread, wall, cost.error ? 1 : 0, cost.limit_broken ? 1 : 0};
  switch (state_) {
    case HealthState::healthy:
      if (tokens_ >= policy_.budget_seconds * policy_.degrade_below) return std::nullopt;
      spent_ = call;
      if (tokens_ > 0) {
        return move_to(HealthState::degraded,
                       fmt::format("its calls spent over {:.0f}% of its {:.0f} s budget; at most {} call(s) at once "
                                   "until the budget is full again",
                                   100 * (1 - policy_.degrade_below), policy_.budget_seconds,
                                   policy_.degraded_max_calls));
      }
      return exhausted(now);
    case HealthState::degraded:
      spent_.thread_seconds += call.thread_seconds;
      spent_.wall_seconds += call.wall_seconds;
      spent_.errors += call.errors;
      spent_.limits += call.limits;
      if (tokens_ > 0) return std::nullopt;
      return exhausted(now);
    case HealthState::suspended:
    case HealthState::disabled:
      // A call that started before: its cost counts, the state stays.
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<HealthTransition> AppHealth::exhausted(Clock::time_point now) {
  if (++suspensions_ >= policy_.max_suspensions) {
    return move_to(HealthState::disabled,
                   fmt::format("its budget ran out {} time(s) in a row ({} since it was degraded); disabled "
                               "until an operator enables it",
                               suspensions_, spent_text()));
  }
  suspended_until_ = now + policy_.suspend_for;
  return move_to(HealthState::suspended,
                 fmt::format("its budget ran out ({} since it was degraded); suspended for {} s, then tried again",
                             spent_text(), std::chrono::duration_cast<std::chrono::seconds>(policy_.suspend_for).count()));
}

std::optional<HealthTransition> AppHealth::enable(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  refill(now);
  if (state_ != HealthState::suspended && state_ != HealthState::disabled) return std::nullopt;
  suspensions_ = 0;
  tokens_ = policy_.budget_seconds * policy_.degrade_below;
  return move_to(HealthState::degraded, "enabled by an operator; degraded until its budget is full again");
}

HealthSnapshot AppHealth::snapshot(Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  HealthSnapshot s;
  s.state = state_;
  s.budget_left_seconds = std::clamp(
      tokens_ + (now > refilled_at_ ? seconds(now - refilled_at_) * policy_.refill_per_second : 0.0), 0.0,
      policy_.budget_seconds);
  if (!policy_.enabled) s.budget_left_seconds = policy_.budget_seconds;
  s.reason = reason_;
  s.suspensions = suspensions_;
  if (state_ == HealthState::suspended && suspended_until_ > now) s.suspended_for_seconds = seconds(suspended_until_ - now);
  return s;
}

}  // namespace ps::runtime
