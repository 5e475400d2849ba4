#pragma once
// The job queue's running side, as one part of the daemon: claims and runs
// jobs, records outcomes, keeps leases and rescues, schedules the periodic
// tasks. Jobs are enqueued through JobEnqueuer (the runtime's JobSink),
// which exists before the apps do.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"

namespace ps::metrics {
class Registry;
}
namespace ps::runtime {
class AppRegistry;
}

namespace ps::scheduler {

class Completer;
class JobWorkers;
class Maintenance;
class Notifier;
class TaskScheduler;

struct JobQueueOptions {
  std::string database_url;
  std::string worker_id;  // this daemon, in jobs.locked_by
  int workers = 4;  // the tests' and benchmarks' own; the daemon's is jobs.workers
  int workers_per_team = 0;  // 0: half of `workers`, rounded up (see WorkerOptions::slots_per_team)
  int prefetch = 500;
  std::chrono::milliseconds poll_interval{5000};
  std::chrono::milliseconds lease{30000};
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_max{3600000};
  int retention_hours = 168;
};

JobQueueOptions job_queue_options(const config::Config& config);
// hostname:pid:random, unique per daemon run.
std::string make_worker_id();

class JobQueue {
 public:
  JobQueue(JobQueueOptions options, runtime::AppRegistry& registry, metrics::Registry& metrics);
  // Stops with no grace period (see stop()). Destroy the queue only after
  // the runtime has stopped: jobs still running report to it until then.
  ~JobQueue();
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;

  // Stops claiming, puts the claimed jobs that had not started back in the
  // queue so another daemon takes them at once, and lets running jobs finish
  // for up to `grace`, recording their outcomes. Jobs still running after
  // that are never released (they would run twice at once): they keep their
  // leases until the runtime stops them, and their outcome is recorded as
  // the queue is destroyed. Idempotent.
  void stop(std::chrono::milliseconds grace);

 private:
  void release(const std::vector<long long>& ids);

  JobQueueOptions options_;
  bool stopped_ = false;
  std::atomic<JobWorkers*> wake_target_{nullptr};
  std::unique_ptr<Completer> completer_;
  std::unique_ptr<JobWorkers> workers_;
  std::unique_ptr<Notifier> notifier_;
  std::unique_ptr<Maintenance> maintenance_;
  std::unique_ptr<TaskScheduler> tasks_;
};

}  // namespace ps::scheduler
