#include "runtime/inspect_app.h"

#include <future>

#include "runtime/executor.h"
#include "runtime/watchdog.h"

namespace ps::runtime {

AppReport inspect_app(const std::filesystem::path& path, const Limits& limits) {
  auto bundle = std::make_shared<const Bundle>(load_bundle(path));
  Watchdog watchdog;
  Executor executor(1, "check-app");
  std::packaged_task<AppReport()> task([&] {
    SandboxOptions options;
    options.bundle = bundle;
    options.label = bundle->manifest.name;
    options.limits = limits;
    options.watchdog = &watchdog;
    options.executor = &executor;
    auto sandbox = Sandbox::create(std::move(options));
    return AppReport{bundle->manifest.name, bundle->manifest.description, sandbox->exports()};
  });
  auto report = task.get_future();
  executor.post(0, [&task] { task(); });
  return report.get();
}

}  // namespace ps::runtime
