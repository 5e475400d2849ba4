#pragma once
// Writes job outcomes in batches: every outcome that arrives while a write is
// under way goes into the next one. Outcomes wait (and are retried) while
// Postgres is unreachable; a daemon that dies with outcomes unwritten leaves
// those jobs to be rescued and run again (at-least-once).

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "db/session.h"
#include "scheduler/job_outcome.h"

namespace ps::metrics {
class Registry;
}

namespace ps::scheduler {

class Completer {
 public:
  // `on_retry(delay)` hears of each retry written, to wake the claimer in time.
  Completer(std::string database_url, std::string worker_id, metrics::Registry& metrics,
            std::function<void(std::chrono::milliseconds)> on_retry);
  ~Completer();  // writes what is pending (trying for a few seconds), then stops

  void add(JobOutcome outcome);
  // Blocks until everything added so far is written or given up on.
  void flush();

 private:
  void loop();
  // False when Postgres could not be reached (write again later); rows it
  // refuses are isolated and logged.
  bool write(const std::vector<JobOutcome>& batch);
  void write_rows(const std::vector<JobOutcome>& batch);  // throws what libpqxx throws
  void count(const std::vector<JobOutcome>& batch);

  std::string worker_id_;
  metrics::Registry& metrics_;
  std::function<void(std::chrono::milliseconds)> on_retry_;
  db::Session session_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::vector<JobOutcome> pending_;
  bool writing_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ps::scheduler
