#include "tests/support/runtime_harness.h"

#include <future>

#include <pqxx/pqxx>

#include "db/migrations.h"
#include "tests/support/v8_engine.h"

namespace ps::test {

runtime::RuntimeOptions RuntimeHarness::fast_options() {
  runtime::RuntimeOptions o;
  o.threads = 2;
  o.limits.cpu = std::chrono::milliseconds(500);
  o.limits.wall = std::chrono::milliseconds(2000);
  o.limits.heap_bytes = 64u << 20;
  o.setup_attempts = 3;
  o.setup_backoff = std::chrono::milliseconds(20);
  o.blocking_threads = 2;
  return o;
}

RuntimeHarness::RuntimeHarness(runtime::RuntimeOptions options) : options_(options) {
  v8_engine();
  pool_ = std::make_unique<db::Pool>(db_.url(), 4, std::chrono::seconds(5));
  {
    auto conn = pool_->acquire();
    db::migrate(*conn);
  }
  runtime_ = std::make_unique<runtime::AppRuntime>(options_, pool_.get(), metrics_);
}

RuntimeHarness::~RuntimeHarness() {
  runtime_.reset();
  pool_.reset();
}

std::string RuntimeHarness::write_app(const std::string& name, const std::map<std::string, std::string>& files) {
  auto folder = dir_.path() / name;
  if (!files.count("plugin.json")) dir_.write(name + "/plugin.json", "{\"name\":\"" + name + "\"}");
  for (const auto& [path, contents] : files) dir_.write(name + "/" + path, contents);
  return folder.string();
}

config::AppConfig RuntimeHarness::entry(const std::string& path, std::vector<long long> teams, int order,
                                        nlohmann::json values) {
  config::AppConfig app;
  app.path = path;
  app.teams = std::move(teams);
  app.order = order;
  app.config = std::move(values);
  return app;
}

void RuntimeHarness::restart(const std::vector<config::AppConfig>& apps) {
  runtime_.reset();
  runtime_ = std::make_unique<runtime::AppRuntime>(options_, pool_.get(), metrics_);
  runtime_->load(apps);
}

runtime::CallOutcome RuntimeHarness::call(runtime::InstanceId id, const std::string& method,
                                          std::vector<std::string> args) {
  auto instance = runtime_->registry().find(id);
  if (!instance) throw std::runtime_error("no instance " + std::to_string(id));
  auto promise = std::make_shared<std::promise<runtime::CallOutcome>>();
  auto result = promise->get_future();
  instance->call(method, std::move(args), [promise](runtime::CallOutcome o) { promise->set_value(std::move(o)); });
  return result.get();
}

runtime::AppInstance& RuntimeHarness::only_instance() {
  auto all = runtime_->registry().all();
  if (all.size() != 1) throw std::runtime_error("expected one instance, have " + std::to_string(all.size()));
  return *all.front();
}

}  // namespace ps::test
