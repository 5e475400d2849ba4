// What loading costs: transpiling an app's TypeScript (once per bundle
// version), and starting many instances of one app (an isolate, the
// prelude, the app's module and setupPlugin each).
//
//   bench-app-load APP_DIR INSTANCES
// Prints "transpile <bytes> <seconds>" (the best of 5) and
// "start <instances> <seconds>".

#include <algorithm>
#include <chrono>
#include <iostream>

#include <spdlog/spdlog.h>

#include "metrics/registry.h"
#include "runtime/app_runtime.h"
#include "runtime/bundle.h"
#include "runtime/engine.h"
#include "runtime/transpiler.h"
#include "runtime/watchdog.h"

using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: bench-app-load APP_DIR INSTANCES\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  std::string app = argv[1];
  int instances = std::stoi(argv[2]);
  ps::runtime::Engine engine;

  auto bundle = ps::runtime::load_bundle(app);
  const auto& main = bundle.manifest.main;
  {
    ps::runtime::Watchdog watchdog;
    ps::runtime::Transpiler transpiler(watchdog, std::chrono::seconds(30));
    double best = 1e9;
    for (int i = 0; i < 5; ++i) {
      auto start = Clock::now();
      transpiler.transpile(bundle.source, main, bundle.files.at(main));
      best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
    }
    std::cout << "transpile " << bundle.files.at(main).size() << " " << best << "\n";
  }

  ps::metrics::Registry metrics;
  auto options = ps::runtime::RuntimeOptions{};
  ps::runtime::AppRuntime runtime(options, nullptr, metrics);
  ps::config::AppConfig entry;
  entry.path = app;
  for (int team = 1; team <= instances; ++team) entry.teams.push_back(team);
  auto start = Clock::now();
  runtime.load({entry});
  double took = std::chrono::duration<double>(Clock::now() - start).count();
  int ready = 0;
  for (const auto& s : runtime.registry().status()) ready += s.state == "ready";
  if (ready != instances) {
    std::cerr << "bench-app-load: only " << ready << " of " << instances << " instances are ready\n";
    return 1;
  }
  std::cout << "start " << instances << " " << took << "\n";
  runtime.stop();
  return 0;
}
