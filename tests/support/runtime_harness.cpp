#include "tests/support/runtime_harness.h"

#include <future>
#include <thread>

#include <pqxx/pqxx>

#include "config/redis_url.h"
#include "db/migrations.h"
#include "tests/support/test_redis.h"
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
  o.setup_backoff_max = std::chrono::milliseconds(100);
  o.blocking_threads = 2;
  // The tests' own servers listen on loopback, which apps may not reach by default.
  o.fetch.allowed_hosts = {"127.0.0.1"};
  // meta.cache on the run's private Redis, on keys no other test uses.
  auto endpoint = config::parse_redis_url(redis_url());
  redis::ClientOptions r;
  r.endpoint = std::get<config::RedisEndpoint>(endpoint);
  r.display = redis_url();
  r.connections = 2;
  o.redis = r;
  o.redis_key_prefix = unique_redis_prefix();
  return o;
}

RuntimeHarness::RuntimeHarness(runtime::RuntimeOptions options, runtime::EventCapture* capture)
    : options_(options), capture_(capture) {
  v8_engine();
  pool_ = std::make_unique<db::Pool>(db_.url(), 4, std::chrono::seconds(5));
  {
    auto conn = pool_->acquire();
    db::migrate(*conn);
  }
  queue_options_.database_url = db_.url();
  queue_options_.worker_id = scheduler::make_worker_id();
  queue_options_.workers = 8;
  queue_options_.poll_interval = std::chrono::milliseconds(500);
  queue_options_.lease = std::chrono::milliseconds(3000);
  queue_options_.retry_base = std::chrono::milliseconds(50);
  queue_options_.retry_max = std::chrono::milliseconds(200);
  make_runtime();
}

std::unique_ptr<RuntimeHarness> RuntimeHarness::with_jobs(runtime::RuntimeOptions options,
                                                         scheduler::EnqueuerOptions enqueuer) {
  auto h = std::make_unique<RuntimeHarness>(options);
  h->stop_runtime();
  h->jobs_ = true;
  h->enqueuer_options_ = std::move(enqueuer);
  h->enqueuer_options_.database_url = h->db_.url();
  h->make_runtime();
  return h;
}

void RuntimeHarness::make_runtime() {
  if (jobs_) {
    enqueuer_ = std::make_unique<scheduler::JobEnqueuer>(enqueuer_options_, metrics_);
  }
  runtime_ = std::make_unique<runtime::AppRuntime>(options_, pool_.get(), metrics_, enqueuer_.get(), capture_);
}

void RuntimeHarness::stop_runtime() {
  if (queue_) queue_->stop(std::chrono::seconds(5));
  if (runtime_) runtime_->stop();
  // As the daemon does: the enqueuer answers into the runtime's threads.
  queue_.reset();
  enqueuer_.reset();
  runtime_.reset();
}

void RuntimeHarness::load(const std::vector<config::AppConfig>& apps) {
  runtime_->load(apps);
  if (jobs_) queue_ = std::make_unique<scheduler::JobQueue>(queue_options_, runtime_->registry(), metrics_);
}

RuntimeHarness::~RuntimeHarness() {
  stop_runtime();
  pool_.reset();
}

std::string RuntimeHarness::query(const std::string& sql) {
  pqxx::connection conn(db_.url());
  pqxx::nontransaction tx(conn);
  auto rows = tx.exec(sql);
  if (rows.empty() || rows[0][0].is_null()) return "";
  return rows[0][0].as<std::string>();
}

std::string RuntimeHarness::wait_for(const std::string& sql, const std::string& expected,
                                     std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string value;
  while (std::chrono::steady_clock::now() < deadline) {
    value = query(sql);
    if (value == expected) return value;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return value;
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
  stop_runtime();
  make_runtime();
  load(apps);
}

nlohmann::json RuntimeHarness::run_chain(long long team, const std::string& event) {
  auto r = runtime_->chain().process(team, event).get();
  return {{"event", r.event ? nlohmann::json::parse(*r.event) : nlohmann::json()},
          {"dropped_by", r.dropped_by},
          {"failed", r.failed},
          {"skipped", r.skipped}};
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
