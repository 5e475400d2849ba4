#pragma once
// The runtime's JobSink on Postgres, with group commit: the run*() calls
// that arrive while a commit is under way share the next transaction (one
// INSERT, one NOTIFY), and each app promise resolves only after its commit.

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "db/session.h"
#include "runtime/host_services.h"

namespace ps::metrics {
class Registry;
}

namespace ps::scheduler {

struct EnqueuerOptions {
  std::string database_url;
  std::chrono::milliseconds connect_timeout{5000};
  int max_attempts = 3;
  std::size_t max_batch = 5000;
  std::size_t max_batch_bytes = 32u << 20;  // of payloads; far below Postgres' 1 GB parameter and 256 MB jsonb
  // An instance with this many jobs waiting has more refused. Counted by
  // this daemon: jobs other daemons enqueue meanwhile show at the next count.
  long long max_queued_per_instance = 100000;
  // While an instance is at its quota, how often it is counted again.
  std::chrono::milliseconds recount_interval{1000};
};

class JobEnqueuer : public runtime::JobSink {
 public:
  JobEnqueuer(EnqueuerOptions options, metrics::Registry& metrics);
  // Commits what is pending, then stops; later enqueues are refused.
  ~JobEnqueuer() override;

  void enqueue(runtime::JobRequest job, std::function<void(std::optional<std::string>)> done) override;

 private:
  struct Pending {
    runtime::JobRequest job;
    std::function<void(std::optional<std::string>)> done;
    std::size_t size() const { return job.name.size() + (job.payload_json ? job.payload_json->size() : 0) + 64; }
  };
  // What this daemon knows of an instance's waiting jobs: counted at
  // `counted`, plus what it enqueued since. Jobs that ran since are not
  // subtracted, so it only overestimates; it is counted again when it
  // reaches the quota. Touched by the enqueuer thread only.
  struct Queued {
    long long jobs = 0;
    std::chrono::steady_clock::time_point counted;
  };
  void loop();
  // Answers the jobs the quota refuses, settled; keeps the rest in `batch`.
  void refuse_over_quota(std::vector<Pending>& batch);
  void commit(std::vector<Pending>& batch);

  EnqueuerOptions options_;
  metrics::Registry& metrics_;
  db::Session session_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> pending_;
  std::unordered_map<runtime::InstanceId, Queued> queued_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ps::scheduler
