// The job queue, measured the way the peer is measured (see bench/jobs):
//   enqueue     jobs enqueued by many concurrent app calls (256 in flight)
//   throughput  pre-filled no-op jobs run to completion by one daemon
//   latency     start delay of jobs scheduled 1 s ahead on an idle queue
//
//   bench-jobs DATABASE_URL APP_DIR [jobs] [worker slots] [prefetch]
// Prints "enqueue <jobs> <seconds>", "throughput <jobs> <seconds>",
// "latency <samples> <p50 ms> <p99 ms>".

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <iostream>
#include <thread>

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "db/migrations.h"
#include "db/pool.h"
#include "metrics/registry.h"
#include "runtime/app_runtime.h"
#include "runtime/engine.h"
#include "scheduler/job_enqueuer.h"
#include "scheduler/job_queue.h"

using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

void exec(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::nontransaction tx(conn);
  tx.exec(sql);
}

long long count(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::nontransaction tx(conn);
  return tx.exec1(sql)[0].as<long long>();
}

// Runs `calls` events through the chain with `in_flight` at a time.
void pipeline(const ps::runtime::EventChain& chain, const std::string& event, int calls, int in_flight) {
  std::mutex mutex;
  std::condition_variable done;
  std::atomic<int> started{0}, finished{0};
  std::function<void()> launch = [&] {
    if (started++ >= calls) return;
    chain.process(1, event, [&](ps::runtime::ChainResult r) {
      if (!r.failed.empty()) {
        std::cerr << "bench-jobs: " << r.failed[0] << "\n";
        std::abort();
      }
      if (++finished == calls) {
        std::lock_guard lock(mutex);
        done.notify_all();
      } else {
        launch();
      }
    });
  };
  for (int i = 0; i < in_flight; ++i) launch();
  std::unique_lock lock(mutex);
  done.wait(lock, [&] { return finished.load() == calls; });
}

double succeeded(ps::metrics::Registry& metrics) {
  return metrics.counter("plugin_server_jobs_succeeded_total", "Jobs that ran successfully.", {{"app", "bench-noop"}})
      .value();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: bench-jobs DATABASE_URL APP_DIR [jobs]\n";
    return 2;
  }
  std::string url = argv[1];
  int jobs = argc > 3 ? std::stoi(argv[3]) : 20000;
  spdlog::set_level(spdlog::level::warn);
  {
    pqxx::connection conn(url);
    ps::db::migrate(conn);
  }
  exec(url, "DELETE FROM jobs; DELETE FROM app_storage; DELETE FROM scheduled_task_runs");

  ps::runtime::Engine engine;
  ps::metrics::Registry metrics;
  ps::db::Pool pool(url, 8, std::chrono::seconds(5));
  ps::scheduler::EnqueuerOptions enqueuer_options;
  enqueuer_options.database_url = url;
  ps::scheduler::JobEnqueuer enqueuer(enqueuer_options, metrics);
  ps::runtime::RuntimeOptions runtime_options;
  runtime_options.threads = 2;
  // The queue is measured here, not the per-app enqueue quota.
  runtime_options.max_enqueues_per_second = 1e9;
  ps::runtime::AppRuntime runtime(runtime_options, &pool, metrics, &enqueuer);
  ps::config::AppConfig app;
  app.path = argv[2];
  app.teams = {1, 2};
  runtime.load({app});
  const std::string event = R"({"event":"e","team_id":1,"distinct_id":"d","properties":{}})";

  // Enqueue: no workers yet, so nothing competes with the inserts.
  auto start = Clock::now();
  pipeline(runtime.chain(), event, jobs, 256);
  std::cout << "enqueue " << jobs << " " << seconds_since(start) << "\n";
  if (count(url, "SELECT count(*) FROM jobs") != jobs) return 1;
  // Each measure starts from a clean table (the peer's bench does the same).
  exec(url, "DELETE FROM jobs");
  exec(url, "VACUUM jobs");

  // Throughput: pre-filled no-op jobs, split over the two instances (two JS threads).
  exec(url, "INSERT INTO jobs (instance_id, name, payload, max_attempts) SELECT (SELECT min(id) + (i % 2) FROM "
            "app_instances), 'noop', 'null', 3 FROM generate_series(1, " + std::to_string(jobs) + ") AS i");
  auto options = ps::scheduler::JobQueueOptions{};
  options.database_url = url;
  options.worker_id = ps::scheduler::make_worker_id();
  options.workers = argc > 4 ? std::stoi(argv[4]) : 256;
  options.prefetch = argc > 5 ? std::stoi(argv[5]) : 500;
  start = Clock::now();
  auto queue = std::make_unique<ps::scheduler::JobQueue>(options, runtime.registry(), metrics);
  while (succeeded(metrics) < jobs) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::cout << "throughput " << jobs << " " << seconds_since(start) << "\n";

  // Latency: every 250 ms a job scheduled 1 s ahead, on a queue with nothing else to do.
  const int samples = 40;
  const std::string late_event = R"({"event":"schedule-late","team_id":1,"distinct_id":"d","properties":{}})";
  for (int i = 0; i < samples; ++i) {
    if (!runtime.chain().process(1, late_event).get().failed.empty()) return 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  while (count(url, "SELECT count(*) FROM app_storage WHERE key LIKE 'late:%'") < samples) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::vector<double> late;
  {
    pqxx::connection conn(url);
    pqxx::nontransaction tx(conn);
    for (const auto& row : tx.exec("SELECT value::text FROM app_storage WHERE key LIKE 'late:%'")) {
      late.push_back(row[0].as<double>());
    }
  }
  std::sort(late.begin(), late.end());
  auto pct = [&](double p) { return late[std::min(late.size() - 1, static_cast<std::size_t>(p * late.size()))]; };
  std::cout << "latency " << late.size() << " " << pct(0.5) << " " << pct(0.99) << "\n";
  queue->stop(std::chrono::seconds(5));
  runtime.stop();
  return 0;
}
