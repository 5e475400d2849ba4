#include "runtime/fair_queue.h"

#include "runtime/executor.h"

namespace ps::runtime {

void FairQueue::push(std::int64_t owner, Task task) {
  bool start_runner = false;
  {
    std::lock_guard lock(mutex_);
    auto& queue = pending_[owner];
    if (queue.empty()) turns_.push_back(owner);
    queue.push_back(std::move(task));
    ++waiting_;
    if (runners_ < max_runners_) {
      ++runners_;
      start_runner = true;
    }
  }
  if (start_runner) executor_.post_any([this] { run(); });
}

std::size_t FairQueue::waiting() const {
  std::lock_guard lock(mutex_);
  return waiting_;
}

void FairQueue::run() {
  for (;;) {
    Task task;
    {
      std::lock_guard lock(mutex_);
      if (turns_.empty()) {
        --runners_;
        return;
      }
      auto owner = turns_.front();
      turns_.pop_front();
      auto it = pending_.find(owner);
      task = std::move(it->second.front());
      it->second.pop_front();
      --waiting_;
      // Back in line behind the others, if it has more.
      if (it->second.empty()) pending_.erase(it);
      else turns_.push_back(owner);
    }
    task();
  }
}

}  // namespace ps::runtime
