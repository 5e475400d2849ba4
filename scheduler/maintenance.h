#pragma once
// The queue's housekeeping, on its own thread: renews the leases of this
// daemon's running jobs, rescues jobs whose daemon died (lease expired),
// prunes failed and discarded jobs past their retention, and publishes the
// queue depth by state.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/periodic.h"
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
  // The ids of the jobs this daemon holds (claimed, not finished): only
  // their leases are renewed.
  std::function<std::vector<long long>()> held;
};

class Maintenance {
 public:
  // `on_rescued` hears when rescued jobs are available again.
  Maintenance(MaintenanceOptions options, metrics::Registry& metrics, std::function<void()> on_rescued);
  ~Maintenance();

 private:
  void tick(long n);
  void renew_and_rescue();
  void prune();
  void publish_depth();

  MaintenanceOptions options_;
  metrics::Registry& metrics_;
  std::function<void()> on_rescued_;
  db::Session session_;  // used by the maintenance thread only
  long ticks_ = 0;
  // After an outage nobody could renew: leases of live jobs (other
  // daemons' too) look expired. Rescue only once they had a lease to renew.
  bool in_outage_ = false;
  std::chrono::steady_clock::time_point rescue_from_{};
  std::unique_ptr<base::Periodic> periodic_;  // last: stops before the state it uses goes
};

}  // namespace ps::scheduler
