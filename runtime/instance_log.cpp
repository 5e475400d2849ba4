#include "runtime/instance_log.h"

namespace ps::runtime {

void InstanceLog::add(std::string level, std::string text, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (limits_.max_lines == 0) return;
  lines_.push_back({now, std::move(level), std::move(text)});
  while (lines_.size() > limits_.max_lines) lines_.pop_front();
  forget_old(now);
}

std::vector<InstanceLogLine> InstanceLog::recent(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  forget_old(now);
  return {lines_.begin(), lines_.end()};
}

void InstanceLog::forget_old(Clock::time_point now) {
  while (!lines_.empty() && now - lines_.front().at > limits_.retention) lines_.pop_front();
}

}  // namespace ps::runtime
