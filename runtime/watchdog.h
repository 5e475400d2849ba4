#pragma once
// Stops JavaScript that runs too long: a thread that calls TerminateExecution
// on an isolate whose current synchronous run passed its deadline.

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace v8 {
class Isolate;
}

namespace ps::runtime {

class Watchdog {
 public:
  Watchdog();
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Armed for the lifetime of a Guard: if the isolate is still running when
  // `limit` passes, its execution is terminated and fired() turns true. The
  // guard cancels a late termination so the isolate's next call is unharmed.
  class Guard {
   public:
    Guard(Watchdog& dog, v8::Isolate* isolate, std::chrono::milliseconds limit);
    ~Guard();
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    bool fired() const;

   private:
    Watchdog& dog_;
    v8::Isolate* isolate_;
    long id_;
  };

 private:
  void loop();

  struct Entry {
    v8::Isolate* isolate;
    std::chrono::steady_clock::time_point deadline;
    bool fired = false;
  };
  std::mutex mutex_;
  std::condition_variable wake_;
  std::map<long, Entry> entries_;
  long next_id_ = 0;
  // When the watchdog thread will next look, if nobody wakes it sooner.
  std::chrono::steady_clock::time_point next_wake_ = std::chrono::steady_clock::time_point::max();
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ps::runtime
