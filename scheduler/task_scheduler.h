#pragma once
// runEveryMinute/Hour/Day: once per period per instance across every daemon
// on the database, never overlapping the previous run of the same task, and
// after an outage one catch-up run (for the current period), not a pile.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "base/periodic.h"
#include "db/session.h"

namespace ps::runtime {
class AppRegistry;
}

namespace ps::scheduler {

// The start (epoch seconds, UTC) of the period of `task` that holds `now`.
long long period_start(const std::string& task, std::chrono::system_clock::time_point now);

class TaskScheduler {
 public:
  // `on_queued` hears when a task run was queued, to claim it at once.
  TaskScheduler(std::string database_url, runtime::AppRegistry& registry, std::function<void()> on_queued);
  ~TaskScheduler();

 private:
  void tick();

  runtime::AppRegistry& registry_;
  std::function<void()> on_queued_;
  db::Session session_;
  // (instance, task) -> the last period this daemon made sure of.
  std::map<std::pair<long long, std::string>, long long> done_;
  std::unique_ptr<base::Periodic> periodic_;  // last: stops before the state it uses goes
};

}  // namespace ps::scheduler
