// Times processEvent through plugin-server's runtime: one event at a time
// (the latency of one call, including the hop to the isolate's thread), and
// with many events in flight on one and on two isolates (the cost per event
// when the runtime is kept busy, as ingestion keeps it).
//
//   bench-process-event APP_DIR EVENT_JSON_FILE [calls]
// Prints one line per mode: "<mode> <calls> <seconds>".

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "metrics/registry.h"
#include "runtime/app_runtime.h"
#include "runtime/engine.h"

using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Keeps `in_flight` events going through the chain of the given teams until `calls` finished.
double run_pipelined(const ps::runtime::EventChain& chain, const std::vector<std::string>& events,
                     const std::vector<long long>& teams, int calls, int in_flight) {
  std::mutex mutex;
  std::condition_variable all_done;
  std::atomic<int> started{0}, finished{0};
  std::function<void(int)> launch = [&](int slot) {
    int n = started++;
    if (n >= calls) return;
    long long team = teams[static_cast<std::size_t>(slot) % teams.size()];
    chain.process(team, events[static_cast<std::size_t>(slot) % events.size()], [&, slot](ps::runtime::ChainResult r) {
      if (!r.event || !r.failed.empty()) std::abort();
      if (++finished == calls) {
        std::lock_guard lock(mutex);
        all_done.notify_all();
      } else {
        launch(slot);
      }
    });
  };
  auto start = Clock::now();
  for (int slot = 0; slot < in_flight; ++slot) launch(slot);
  std::unique_lock lock(mutex);
  all_done.wait(lock, [&] { return finished.load() == calls; });
  return seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: bench-process-event APP_DIR EVENT_JSON_FILE [calls]\n";
    return 2;
  }
  std::string app = argv[1];
  std::ifstream in(argv[2]);
  std::stringstream text;
  text << in.rdbuf();
  std::string event1 = text.str();
  int calls = argc > 3 ? std::stoi(argv[3]) : 20000;

  spdlog::set_level(spdlog::level::warn);
  ps::runtime::Engine engine;
  ps::metrics::Registry metrics;
  ps::runtime::RuntimeOptions options;
  options.threads = 2;
  ps::runtime::AppRuntime runtime(options, nullptr, metrics);
  ps::config::AppConfig entry;
  entry.path = app;
  entry.teams = {1, 2};
  entry.config = {{"greeting", "hi"}};
  runtime.load({entry});
  auto team2 = event1;
  team2.replace(team2.find("\"team_id\":1"), 11, "\"team_id\":2");
  std::vector<std::string> team1_events = {event1};
  const auto& chain = runtime.chain();

  // Warm up both isolates' JIT.
  run_pipelined(chain, {event1, team2}, {1, 2}, 5000, 64);

  auto start = Clock::now();
  for (int i = 0; i < calls; ++i) {
    if (!chain.process(1, event1).get().event) return 1;
  }
  std::cout << "one-at-a-time " << calls << " " << seconds_since(start) << "\n";
  std::cout << "in-flight-1-isolate " << calls << " " << run_pipelined(chain, team1_events, {1}, calls, 256) << "\n";
  std::cout << "in-flight-2-isolates " << calls << " "
            << run_pipelined(chain, {event1, team2}, {1, 2}, calls, 256) << "\n";
  return 0;
}
