#pragma once
// Claims due jobs in batches (FOR UPDATE SKIP LOCKED, so daemons sharing a
// database never take the same job), enough for the free worker slots plus a
// small local backlog, and hands each to its app instance as a slot frees. Woken by NOTIFY, by a timer set for the earliest
// future run_at, by a freed slot, and by a slow safety poll.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "db/session.h"
#include "scheduler/job_outcome.h"

namespace ps::metrics {
class Registry;
class Histogram;
}  // namespace ps::metrics
namespace ps::runtime {
class AppRegistry;
}

namespace ps::scheduler {

class Completer;

struct WorkerOptions {
  std::string database_url;
  std::string worker_id;
  int slots = 4;      // jobs running at once
  // Slots one team's jobs may hold while another team's job waits for one
  // (a team alone may use them all).
  int slots_per_team = 2;
  int prefetch = 500; // claimed jobs waiting here for a slot (no round trip per job)
  std::chrono::milliseconds poll_interval{5000};
  std::chrono::milliseconds lease{30000};
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_max{3600000};
};

class JobWorkers {
 public:
  using Clock = std::chrono::steady_clock;

  JobWorkers(WorkerOptions options, runtime::AppRegistry& registry, Completer& completer, metrics::Registry& metrics);
  ~JobWorkers();

  // A job is due at `due` (now, when it is in the past).
  void wake(Clock::time_point due = Clock::time_point::min());
  // Claims nothing more, once a claim under way has landed; running jobs go on.
  void stop_claiming();
  // After stop_claiming(): the jobs claimed and not started, which will not
  // be started now (to release for other daemons).
  std::vector<long long> take_unstarted();
  // Waits up to `grace` for running jobs; true when none is left.
  bool wait_idle(std::chrono::milliseconds grace);
  // The jobs this daemon holds: claimed and not finished.
  std::vector<long long> held() const;

 private:
  void loop();
  // Claims up to `wanted` jobs into local_; the count, or -1 on a failure.
  // `more` says whether some instance may have more due jobs.
  int claim(int wanted, bool* more);
  void pump();  // starts held jobs while slots are free
  void dispatch(ClaimedJob job);
  void finish(const ClaimedJob& job, const std::string& app, JobOutcome outcome);

  WorkerOptions options_;
  runtime::AppRegistry& registry_;
  Completer& completer_;
  metrics::Registry& metrics_;
  metrics::Histogram& lag_;
  db::Session session_;
  const int min_chunk_;  // free slots worth a claim while there is a backlog

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  int running_ = 0;
  std::map<long long, int> running_by_team_;
  std::deque<ClaimedJob> local_;  // claimed, waiting for a slot
  std::set<long long> held_;      // claimed, not finished (waiting or running)
  bool claiming_ = false;         // a claim transaction is under way
  bool due_now_ = true;  // claim at once (also at start)
  bool maybe_more_ = false;  // the last claim was full: more may be due
  Clock::time_point next_due_ = Clock::time_point::max();
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ps::scheduler
