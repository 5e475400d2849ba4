#pragma once
// Runs one app Sandbox on its own executor thread, as the runtime does, and
// lets a test call it and wait for the outcome.

#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/executor.h"
#include "runtime/sandbox.h"
#include "runtime/watchdog.h"

namespace ps::test {

class SandboxHarness {
 public:
  // `files` is the bundle (plugin.json is added when missing).
  explicit SandboxHarness(std::map<std::string, std::string> files, runtime::Limits limits = {},
                          runtime::HostServices host = {}, std::string config_json = "{}",
                          runtime::CodeCache* code_cache = nullptr);
  ~SandboxHarness();

  runtime::CallOutcome call(const std::string& method, const std::vector<std::string>& args = {});
  runtime::CallOutcome process_event(const std::string& event_json);
  runtime::CallOutcome run_job(const std::string& name, const std::optional<std::string>& payload_json);
  runtime::Exports exports();
  bool broken();
  // Console lines as "level: text".
  std::vector<std::string> logs();

  // Runs `fn` on the sandbox's thread and waits for it.
  template <class Fn>
  auto on_thread(Fn fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    executor_.post(0, [&task] { task(); });
    return result.get();
  }

 private:
  runtime::CallOutcome wait(std::function<void(runtime::CallDone)> start);

  runtime::Watchdog watchdog_;
  runtime::Executor executor_{1, "test-js"};
  std::shared_ptr<runtime::Sandbox> sandbox_;
  std::mutex logs_mutex_;
  std::vector<std::string> logs_;
};

// Loads a bundle on a sandbox thread and returns the load error, or "" when it loaded.
std::string sandbox_load_error(std::map<std::string, std::string> files, runtime::Limits limits = {});

}  // namespace ps::test
