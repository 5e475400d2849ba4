#pragma once
// Runs a task on its own thread at once and then every `interval`, until
// destroyed. Destruction wakes the thread and waits for a running tick.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace ps::base {

class Periodic {
 public:
  Periodic(std::chrono::milliseconds interval, std::function<void()> tick);
  ~Periodic();
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

 private:
  std::chrono::milliseconds interval_;
  std::function<void()> tick_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ps::base
