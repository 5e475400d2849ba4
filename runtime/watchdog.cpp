#include "runtime/watchdog.h"

#include <v8.h>

namespace ps::runtime {

Watchdog::Watchdog() : thread_([this] { loop(); }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

Watchdog::Guard::Guard(Watchdog& dog, v8::Isolate* isolate, std::chrono::milliseconds limit)
    : dog_(dog), isolate_(isolate) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  bool sooner;
  {
    std::lock_guard lock(dog_.mutex_);
    id_ = dog_.next_id_++;
    dog_.entries_[id_] = Entry{isolate, deadline};
    sooner = deadline < dog_.next_wake_;
    if (sooner) dog_.next_wake_ = deadline;
  }
  // Waking the watchdog thread costs a context switch: only do it when this
  // deadline comes before the one it already sleeps towards.
  if (sooner) dog_.wake_.notify_all();
}

Watchdog::Guard::~Guard() {
  bool fired;
  {
    std::lock_guard lock(dog_.mutex_);
    fired = dog_.entries_[id_].fired;
    dog_.entries_.erase(id_);
  }
  // A termination requested as the run was ending would hit the next call.
  if (fired) isolate_->CancelTerminateExecution();
}

bool Watchdog::Guard::fired() const {
  std::lock_guard lock(dog_.mutex_);
  auto it = dog_.entries_.find(id_);
  return it != dog_.entries_.end() && it->second.fired;
}

void Watchdog::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    auto now = std::chrono::steady_clock::now();
    auto next = std::chrono::steady_clock::time_point::max();
    for (auto& [id, entry] : entries_) {
      if (entry.fired) continue;
      if (entry.deadline <= now) {
        entry.fired = true;
        entry.isolate->TerminateExecution();
      } else {
        next = std::min(next, entry.deadline);
      }
    }
    next_wake_ = next;
    if (next == std::chrono::steady_clock::time_point::max()) wake_.wait(lock);
    else wake_.wait_until(lock, next);
  }
}

}  // namespace ps::runtime
