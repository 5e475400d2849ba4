#include "tests/support/sandbox_harness.h"

#include "runtime/module_graph.h"
#include "tests/support/v8_engine.h"

namespace ps::test {

namespace {
std::shared_ptr<const runtime::Bundle> make_bundle(std::map<std::string, std::string> files) {
  if (!files.count("plugin.json")) files["plugin.json"] = R"({"name":"test-app"})";
  auto bundle = std::make_shared<runtime::Bundle>(runtime::bundle_from_files("test-app", std::move(files)));
  runtime::prepare_modules(*bundle, transpiler());
  return bundle;
}
}  // namespace

SandboxHarness::SandboxHarness(std::map<std::string, std::string> files, runtime::Limits limits,
                               runtime::HostServices host, std::string config_json, runtime::CodeCache* code_cache) {
  v8_engine();
  runtime::SandboxOptions options;
  options.bundle = make_bundle(std::move(files));
  options.label = "test-app (1)";
  options.instance_id = 1;
  options.config_json = std::move(config_json);
  options.limits = limits;
  options.host = host;
  options.watchdog = &watchdog_;
  options.executor = &executor_;
  options.code_cache = code_cache;
  options.thread = 0;
  options.log = [this](const std::string& level, const std::string& text) {
    std::lock_guard lock(logs_mutex_);
    logs_.push_back(level + ": " + text);
  };
  sandbox_ = on_thread([&] { return runtime::Sandbox::create(std::move(options)); });
}

SandboxHarness::~SandboxHarness() {
  on_thread([this] { sandbox_.reset(); });
}

runtime::CallOutcome SandboxHarness::wait(std::function<void(runtime::CallDone)> start) {
  auto promise = std::make_shared<std::promise<runtime::CallOutcome>>();
  auto result = promise->get_future();
  executor_.post(0, [start, promise] { start([promise](runtime::CallOutcome o) { promise->set_value(std::move(o)); }); });
  return result.get();
}

runtime::CallOutcome SandboxHarness::call(const std::string& method, const std::vector<std::string>& args) {
  return wait([this, method, args](runtime::CallDone done) { sandbox_->call(method, args, std::move(done)); });
}

runtime::CallOutcome SandboxHarness::process_event(const std::string& event_json) {
  return wait([this, event_json](runtime::CallDone done) { sandbox_->process_event(event_json, std::move(done)); });
}

runtime::CallOutcome SandboxHarness::run_job(const std::string& name, const std::optional<std::string>& payload_json) {
  return wait([this, name, payload_json](runtime::CallDone done) { sandbox_->run_job(name, payload_json, std::move(done)); });
}

runtime::Exports SandboxHarness::exports() {
  return on_thread([this] { return sandbox_->exports(); });
}

bool SandboxHarness::broken() {
  return on_thread([this] { return sandbox_->broken(); });
}

std::vector<std::string> SandboxHarness::logs() {
  std::lock_guard lock(logs_mutex_);
  return logs_;
}

std::string sandbox_load_error(std::map<std::string, std::string> files, runtime::Limits limits) {
  try {
    SandboxHarness harness(std::move(files), limits);
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

}  // namespace ps::test
