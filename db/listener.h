#pragma once
// LISTENs on one Postgres channel on a thread of its own and hands what it
// hears to `heard`, on that thread: the payloads of the notifications that
// came in together, or none when it should look anyway (just after
// (re)connecting, when notifications may have been missed, and every
// `idle_interval` if one is set). Reconnects after an outage, saying so once.

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace ps::db {

struct ListenerOptions {
  std::string url;
  std::string channel;
  std::string label;  // names the listener in the log ("jobs", "installs")
  std::chrono::milliseconds idle_interval{0};  // 0: never
};

class Listener {
 public:
  using Heard = std::function<void(const std::vector<std::string>& payloads)>;
  Listener(ListenerOptions options, Heard heard);
  // Waits for a `heard` under way.
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

 private:
  void loop();

  ListenerOptions options_;
  Heard heard_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace ps::db
