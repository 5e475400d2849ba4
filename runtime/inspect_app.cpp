#include "runtime/inspect_app.h"

#include <future>

#include "runtime/executor.h"
#include "runtime/module_graph.h"
#include "runtime/transpiler.h"
#include "runtime/watchdog.h"

namespace ps::runtime {

AppReport inspect_app(const std::filesystem::path& path, const Limits& limits) {
  return inspect_bundle(load_bundle(path), limits);
}

AppReport inspect_bundle(Bundle read, const Limits& limits) {
  Watchdog watchdog;
  // Transpiling runs once per bundle, on no shared thread: the call limit bounds it.
  Transpiler transpiler(watchdog, limits.wall);
  auto loaded = std::make_shared<Bundle>(std::move(read));
  prepare_modules(*loaded, transpiler);
  std::shared_ptr<const Bundle> bundle = std::move(loaded);
  Executor executor(1, "check-app");
  std::packaged_task<AppReport()> task([&] {
    SandboxOptions options;
    options.bundle = bundle;
    options.label = bundle->manifest.name;
    options.limits = limits;
    options.watchdog = &watchdog;
    options.executor = &executor;
    auto sandbox = Sandbox::create(std::move(options));
    return AppReport{bundle->manifest.name, bundle->manifest.description, sandbox->exports(), bundle};
  });
  auto report = task.get_future();
  executor.post(0, [&task] { task(); });
  return report.get();
}

}  // namespace ps::runtime
