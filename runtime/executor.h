#pragma once
// A fixed pool of threads, each with its own queue. Work for one app isolate
// is always posted to the same thread (isolates are single-threaded, and
// staying on one core was measured 18-45% faster than migrating); which
// thread is ChainPlacement's choice. Each post names a lane (the team it
// works for; 0 for the host's own work): a thread shares its time fairly
// between lanes (LaneQueue). A timer thread runs delayed posts.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/lane_queue.h"

namespace ps::runtime {

class Executor {
 public:
  using Task = std::function<void()>;

  // `threads` of 0 means one per core. `name` tags the threads for debuggers.
  Executor(int threads, const std::string& name);
  ~Executor();  // finishes queued tasks, then joins
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  int size() const { return static_cast<int>(workers_.size()); }
  // Runs `task` on thread `index % size()`, after what was posted there
  // before in its lane.
  void post(int index, Task task, std::int64_t lane = 0);
  // Runs `task` on the least busy thread.
  void post_any(Task task);
  // Runs `task` on thread `index` after `delay`.
  void post_after(std::chrono::milliseconds delay, int index, Task task, std::int64_t lane = 0);

 private:
  struct Worker {
    std::mutex mutex;
    std::condition_variable wake;
    LaneQueue queue;
    bool stopping = false;
    std::thread thread;
  };
  void run(Worker& worker);
  void run_timers();

  std::vector<std::unique_ptr<Worker>> workers_;

  std::mutex timer_mutex_;
  std::condition_variable timer_wake_;
  struct Timer {
    int index;
    std::int64_t lane;
    Task task;
  };
  std::multimap<std::chrono::steady_clock::time_point, Timer> timers_;
  bool timers_stopping_ = false;
  std::thread timer_thread_;
};

}  // namespace ps::runtime
