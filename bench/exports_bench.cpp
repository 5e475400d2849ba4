// The cost of durable exportEvents, in process (bench/exports runs it):
//
//   bench-exports BOOTSTRAP INPUT OUTPUT DATABASE_URL APP_DIRS COUNT
//     Consumes INPUT (from the start, in a fresh group) for team 1 through
//     the apps at APP_DIRS (comma-separated, in that order) into OUTPUT, with
//     the job queue on DATABASE_URL.
//     Prints "<events> <seconds> <cpu seconds>", timed from the first message
//     consumed until every event is produced and settled and, when the app
//     exports, every batch stored and exported.

#include <iostream>
#include <sstream>
#include <thread>

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "db/migrations.h"
#include "db/pool.h"
#include "bench/cpu_time.h"
#include "bench/pipeline_options.h"
#include "ingestion/event_pipeline.h"
#include "metrics/registry.h"
#include "runtime/app_runtime.h"
#include "runtime/engine.h"
#include "scheduler/job_enqueuer.h"
#include "scheduler/job_queue.h"

using Clock = std::chrono::steady_clock;
using ps::bench::cpu_seconds;

namespace {

// A counter's total over all its label sets, from the rendered metrics.
double total(ps::metrics::Registry& metrics, const std::string& name, const std::string& with = "") {
  double sum = 0;
  std::istringstream lines(metrics.render());
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name, 0) != 0 || line.find(with) == std::string::npos) continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

int run(const std::string& bootstrap, const std::string& input, const std::string& output, const std::string& url,
        const std::string& apps, int count) {
  {
    pqxx::connection conn(url);
    ps::db::migrate(conn);
    pqxx::work tx(conn);
    tx.exec0("DELETE FROM jobs");
    tx.commit();
  }
  ps::runtime::Engine engine;
  ps::metrics::Registry metrics;
  ps::db::Pool pool(url, 8, std::chrono::seconds(5));
  ps::scheduler::EnqueuerOptions enqueuer_options;
  enqueuer_options.database_url = url;
  ps::scheduler::JobEnqueuer enqueuer(enqueuer_options, metrics);
  ps::runtime::AppRuntime runtime(ps::runtime::RuntimeOptions{}, &pool, metrics, &enqueuer);
  std::vector<ps::config::AppConfig> entries;
  std::istringstream dirs(apps);
  for (std::string dir; std::getline(dirs, dir, ',');) {
    ps::config::AppConfig entry;
    entry.path = dir;
    entry.teams = {1};
    entry.order = static_cast<int>(entries.size());
    entries.push_back(entry);
  }
  runtime.load(entries);
  // The daemon's defaults, as jobs.* gives them.
  auto queue_options = ps::scheduler::JobQueueOptions{};
  queue_options.database_url = url;
  queue_options.worker_id = ps::scheduler::make_worker_id();
  ps::scheduler::JobQueue queue(queue_options, runtime.registry(), metrics);

  ps::ingestion::EventPipeline pipeline(ps::bench::pipeline_options(bootstrap, input, output), runtime.chain(),
                                        metrics);
  bool exports = false;
  for (const auto& instance : runtime.registry().all()) exports |= instance->exports().has("exportEvents");
  while (total(metrics, "plugin_server_ingestion_consumed_total") < 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  auto start = Clock::now();
  double cpu_start = cpu_seconds();
  auto done = [&] {
    if (total(metrics, "plugin_server_ingestion_produced_total") < count) return false;
    if (!exports) return true;
    auto stored = total(metrics, "plugin_server_export_events_total", "result=\"stored\"");
    auto batches = total(metrics, "plugin_server_export_batches_total", "result=\"stored\"");
    return stored >= count && total(metrics, "plugin_server_export_batches_total", "result=\"exported\"") >= batches;
  };
  // The last events wait for a buffer's time or for shutdown: flush once
  // everything is in, as a daemon under steady load does by size.
  while (!done()) {
    if (total(metrics, "plugin_server_ingestion_produced_total") >= count) runtime.chain().flush_exports();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  double cpu = cpu_seconds() - cpu_start;
  std::cout << count << " " << seconds << " " << cpu << std::endl;
  pipeline.stop(std::chrono::seconds(5));
  queue.stop(std::chrono::seconds(5));
  runtime.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  try {
    if (argc == 7) return run(argv[1], argv[2], argv[3], argv[4], argv[5], std::stoi(argv[6]));
  } catch (const std::exception& e) {
    std::cerr << "bench-exports: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "usage: bench-exports BOOTSTRAP INPUT OUTPUT DATABASE_URL APP_DIRS COUNT\n";
  return 2;
}
