#pragma once
// The queue's housekeeping, on its own thread: renews the leases of this
// daemon's running jobs, rescues jobs whose daemon died (lease expired),
// prunes failed and discarded jobs past their retention, and publishes the
// queue depth by state.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "db/session.h"

namespace ps::metrics {
class Registry;
}

namespace ps::scheduler {

struct MaintenanceOptions {
  std::string database_url;
  std::string worker_id;
  std::chrono::milliseconds lease{30000};
  int retention_hours = 168;
};

class Maintenance {
 public:
  // `on_rescued` hears when rescued jobs are available again.
  Maintenance(MaintenanceOptions options, metrics::Registry& metrics, std::function<void()> on_rescued);
  ~Maintenance();

 private:
  void loop();
  void tick(long n);

  MaintenanceOptions options_;
  metrics::Registry& metrics_;
  std::function<void()> on_rescued_;
  db::Session session_;  // used by the maintenance thread only
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ps::scheduler
