#pragma once
// One JS thread's queue, shared fairly by time between lanes (a lane per
// team). The next task is the oldest one of the lane that has used the
// thread least, so a team whose app holds the thread for a second per
// event takes turns with a team whose events cost microseconds instead of
// queueing them behind its own: the cheap team's tasks run as soon as the
// running task ends. A lane that comes back after being idle starts level
// with the lane served last, so idle time is not saved up as credit.
// Order within a lane is kept. Not thread-safe: the executor's worker lock
// guards it.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ps::runtime {

class LaneQueue {
 public:
  using Task = std::function<void()>;

  void push(std::int64_t lane, Task task);
  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  // Takes the next task; charge() must follow once it ran (its lane waits
  // meanwhile, so the lane's next task cannot start before).
  std::pair<std::int64_t, Task> pop();
  void charge(std::int64_t lane, std::chrono::nanoseconds used);

 private:
  struct Lane {
    std::deque<Task> tasks;
    std::chrono::nanoseconds used{0};
    bool ready = false;    // in ready_
    bool running = false;  // popped, not yet charged
  };
  // Min-heap by time used.
  using Entry = std::pair<std::chrono::nanoseconds, std::int64_t>;
  void make_ready(std::int64_t id, Lane& lane);

  std::unordered_map<std::int64_t, Lane> lanes_;
  std::vector<Entry> ready_;
  std::chrono::nanoseconds floor_{0};  // time used by the lane served last
  std::size_t size_ = 0;
};

}  // namespace ps::runtime
