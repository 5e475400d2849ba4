#pragma once
// LISTENs on the job channel and reports each NOTIFY (a commit of new jobs,
// with the earliest run_at in the payload), reconnecting after an outage.

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace ps::scheduler {

class Notifier {
 public:
  using Handler = std::function<void(std::chrono::system_clock::time_point earliest)>;
  Notifier(std::string database_url, Handler handler);
  ~Notifier();

 private:
  void loop();

  std::string url_;
  Handler handler_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace ps::scheduler
