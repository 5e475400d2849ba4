#pragma once
// Work of many owners (app instances) served in turns: each owner's tasks
// run in the order they were pushed, and owners with work waiting take turns
// one task at a time, so one owner's thousand queued tasks delay another
// owner's single one by at most one task per runner. At most `runners` tasks
// run at once, each runner on an executor thread draining the turns until
// none is left (a runner never posts its successor: work queued before a
// shutdown is finished by the runners already there).

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>

namespace ps::runtime {

class Executor;

class FairQueue {
 public:
  using Task = std::function<void()>;
  FairQueue(Executor& executor, int runners) : executor_(executor), max_runners_(runners) {}
  FairQueue(const FairQueue&) = delete;
  FairQueue& operator=(const FairQueue&) = delete;

  void push(std::int64_t owner, Task task);
  // Tasks waiting for a runner (not those running).
  std::size_t waiting() const;

 private:
  void run();

  Executor& executor_;
  const int max_runners_;
  mutable std::mutex mutex_;
  std::map<std::int64_t, std::deque<Task>> pending_;
  std::deque<std::int64_t> turns_;  // owners with tasks waiting, next first
  std::size_t waiting_ = 0;
  int runners_ = 0;
};

}  // namespace ps::runtime
